"""Adam (L2 penalty added to the gradient) and AdamW (decoupled weight decay), as torch.optim."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from minigrad.optim.optimizer import Optimizer, check_implementation, check_nonnegative
from minigrad.tensor import Tensor


class Adam(Optimizer):
    """g = -grad if maximize else grad;  g += wd p (AdamW: p *= 1 - lr wd instead);
    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  v_max = max(v_max, v) if amsgrad;
    p -= lr / (1 - b1^t) * m / (sqrt(v or v_max) / sqrt(1 - b2^t) + eps)."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False):
        check_implementation(type(self).__name__, differentiable, capturable)  # foreach, fused: see there
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        check_nonnegative(name, group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: betas[{i}] must be in [0, 1), got {beta!r}")

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p._data)  # m: same dtype as p (float32 stays float32)
            state["exp_avg_sq"] = np.zeros_like(p._data)  # v
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p._data)  # the largest v so far
        if group["maximize"]:
            grad = -grad  # ascend: step along the gradient instead of against it
        if wd != 0 and group["decoupled_weight_decay"]:
            p._data *= 1.0 - lr * wd  # AdamW: shrink p directly, not through m and v
        elif wd != 0:
            grad = grad + wd * p._data  # Adam: the L2 penalty's gradient joins the gradient
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * (grad * grad)
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v)  # the denominator never shrinks
        bias_correction1 = 1.0 - beta1**t
        bias_correction2 = 1.0 - beta2**t
        denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps  # sqrt(v_hat) + eps
        p._data -= lr / bias_correction1 * (m / denom)  # lr * m_hat / (sqrt(v_hat) + eps), as torch rounds it


class AdamW(Adam):
    """p *= 1 - lr wd;  then the Adam update without the L2 term."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach: bool | None = None,
                 capturable: bool = False, differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
