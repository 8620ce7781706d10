"""Stochastic gradient descent with momentum, as torch.optim.SGD."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from minigrad.optim.optimizer import Optimizer, check_implementation, check_nonnegative
from minigrad.tensor import Tensor


class SGD(Optimizer):
    """g = -grad if maximize else grad;  g += wd p;  b = mu b + (1 - dampening) g  (b = g on the first step);
    g = g + mu b if nesterov else b;  p -= lr g."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None):
        check_implementation("SGD", differentiable)  # foreach, fused: PyTorch's kernels for the same update
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_nonnegative("SGD", group, "lr", "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, momentum, wd = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        if group["maximize"]:
            grad = -grad  # ascend: step along the gradient instead of against it
        if wd != 0:
            grad = grad + wd * p._data  # L2 penalty (wd/2)|p|^2 folded into the gradient
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:  # first step: the buffer is the gradient (an array, also for a 0-d parameter)
                buf = state["momentum_buffer"] = np.array(grad, dtype=p._data.dtype)
            else:
                buf *= momentum
                buf += (1.0 - float(group["dampening"])) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p._data -= lr * grad  # in place: the model keeps the same array
