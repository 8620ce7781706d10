"""Helpers used around training: gradient clipping and counting parameters."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from minigrad.nn.module import Module
from minigrad.tensor import Tensor


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """total = ||(||g_1||, ..., ||g_n||)||_p;  g_i *= min(1, max_norm / (total + 1e-6)) in place.

    Returns the total norm before clipping as a 0-d tensor, as PyTorch (so `.item()` gives the number).
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad._data for p in params if p.grad is not None]
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(np.abs(g).max(initial=0.0)) for g in grads)
    else:
        per_grad = [np.linalg.norm(g.ravel().astype(np.float64), ord=norm_type) for g in grads]
        total = float(np.linalg.norm(np.array(per_grad), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
            "set error_if_nonfinite=False to clip anyway"
        )
    clip_coef = max_norm / (total + 1e-6)
    if clip_coef < 1.0:  # PyTorch multiplies by min(clip_coef, 1.0); by 1.0 changes nothing
        for p in params:
            if p.grad is not None:
                p.grad._data *= p.grad.dtype.type(clip_coef)  # in place, and a float32 grad stays float32
                p.grad._version_counter.value += 1
    return Tensor(np.asarray(total, dtype=grads[0].dtype))  # the gradients' dtype, as PyTorch


def count_parameters(module: Module, trainable_only: bool = False) -> int:
    """Number of scalars in the module's parameters (each shared parameter counted once)."""
    return module.num_parameters(trainable_only=trainable_only)
