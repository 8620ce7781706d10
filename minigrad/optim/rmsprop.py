"""RMSprop and Adagrad: per-element step sizes from a running average (or sum) of squared gradients, as torch.optim."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from minigrad.optim.optimizer import Optimizer, check_implementation, check_nonnegative
from minigrad.tensor import Tensor


class RMSprop(Optimizer):
    """g = -grad if maximize else grad;  g += wd p;  v = alpha v + (1-alpha) g^2;
    centered: a = alpha a + (1-alpha) g, v_hat = v - a^2;  d = sqrt(v_hat) + eps;
    momentum: b = mu b + g / d, p -= lr b;  else p -= lr g / d."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        check_implementation("RMSprop", differentiable, capturable)  # foreach: PyTorch's kernels for the same update
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_nonnegative("RMSprop", group, "lr", "eps", "momentum", "weight_decay", "alpha")

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, alpha, eps, wd = (float(group[k]) for k in ("lr", "alpha", "eps", "weight_decay"))
        momentum = float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p._data)  # v, in p's dtype
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p._data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p._data)
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            grad = grad + wd * p._data
        v = state["square_avg"]
        v *= alpha
        v += (1.0 - alpha) * (grad * grad)
        if group["centered"]:  # divide by the variance of the gradient, not its second moment
            a = state["grad_avg"]
            a *= alpha
            a += (1.0 - alpha) * grad
            denom = np.sqrt(v - a * a) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / denom
            p._data -= lr * buf
        else:
            p._data -= lr * (grad / denom)


class Adagrad(Optimizer):
    """g = -grad if maximize else grad;  g += wd p;  clr = lr / (1 + (t-1) lr_decay);
    s += g^2;  p -= clr g / (sqrt(s) + eps)."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False, differentiable: bool = False,
                 fused: bool | None = None):
        check_implementation("Adagrad", differentiable)  # foreach, fused: PyTorch's kernels for the same update
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_nonnegative("Adagrad", group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, lr_decay, eps, wd = (float(group[k]) for k in ("lr", "lr_decay", "eps", "weight_decay"))
        if not state:  # PyTorch makes Adagrad's state at construction; here at the first step, with the same values
            state["step"] = 0
            state["sum"] = np.full_like(p._data, group["initial_accumulator_value"])
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            grad = grad + wd * p._data
        clr = lr / (1 + (state["step"] - 1) * lr_decay)
        s = state["sum"]
        s += grad * grad
        p._data -= clr * (grad / (np.sqrt(s) + eps))
