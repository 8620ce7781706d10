"""Cross-entropy: composed (log_softmax + pick + mean) beside a fused version whose backward
is the famous (softmax - target) / N."""
from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.engine import Context, Function
from minigrad.functional.activation import log_softmax, log_softmax_array
from minigrad.tensor import Tensor


def _check_targets(logits: np.ndarray, targets: Any, label_smoothing: float) -> np.ndarray:
    """Class indices (N,) of an integer dtype, or class probabilities (N, C) of the logits' dtype."""
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if targets.dtype.kind == "f":  # probabilities, e.g. the mixed labels of mixup / cutmix
        if targets.shape != logits.shape:
            raise ValueError(f"cross_entropy: probability targets must have the logits' shape {logits.shape}, "
                             f"got {targets.shape}")
        if targets.dtype != logits.dtype:
            raise TypeError(f"cross_entropy: probability targets are {targets.dtype} but logits are {logits.dtype}")
        return targets
    if targets.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices or float class probabilities, "
                        f"got dtype {targets.dtype}")
    if targets.shape != logits.shape[:1]:
        raise ValueError(f"cross_entropy: targets shape {targets.shape} does not match logits {logits.shape} (expected ({logits.shape[0]},))")
    n_classes = logits.shape[1]
    if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
        raise IndexError(f"cross_entropy: target {targets.min() if targets.min() < 0 else targets.max()} is out of range for {n_classes} classes")
    return targets


def cross_entropy_composed(logits: Tensor, targets: Any, label_smoothing: float = 0.0) -> Tensor:
    """mean_i [ -(1-e) logp[i, t_i] - (e/C) sum_c logp[i, c] ],  logp = log_softmax(logits)."""
    t = _check_targets(logits.data, targets, label_smoothing)
    n, c = logits.shape
    logp = log_softmax(logits, dim=-1)  # (N, C)
    if t.ndim == 2:  # probabilities q: mean_i -sum_c ((1-e) q[i, c] + e/C) logp[i, c]
        q = (1.0 - label_smoothing) * t + label_smoothing / c
        return -(logp * Tensor(q.astype(t.dtype))).sum(dim=-1).mean()
    nll = -logp[np.arange(n), t]  # (N,)
    if label_smoothing == 0.0:  # skip the smoothing term: 0 * (-inf) would be NaN for masked logits
        return nll.mean()
    smooth = -logp.sum(dim=-1) / c  # (N,)
    return ((1.0 - label_smoothing) * nll + label_smoothing * smooth).mean()


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx: Context, logits: np.ndarray, targets: np.ndarray, label_smoothing: float,
                reduction: str) -> np.ndarray:
        n, c = logits.shape
        logp = log_softmax_array(logits, axis=1)  # (N, C)
        if targets.ndim == 2:  # class probabilities, smoothed towards uniform
            q = targets * logits.dtype.type(1.0 - label_smoothing) + logits.dtype.type(label_smoothing / c)
        else:  # class indices: the smoothed one-hot distribution
            q = np.full_like(logp, label_smoothing / c)
            q[np.arange(n), targets] += 1.0 - label_smoothing
        losses = -(q * np.where(q > 0, logp, 0.0)).sum(axis=1)  # (N,); 0 * log 0 counts as 0
        ctx.save_for_backward(logp, q)
        ctx.reduction = reduction
        if reduction == "none":
            return losses
        total = losses.sum(dtype=logits.dtype)
        return np.asarray(total / logits.dtype.type(n) if reduction == "mean" else total)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # d loss_i / d logits_i = softmax(logits_i) - q_i
        logp, q = ctx.saved_tensors
        if ctx.reduction == "none":
            g = grad[:, None]
        elif ctx.reduction == "mean":
            g = grad / grad.dtype.type(len(logp))
        else:
            g = grad
        return (np.exp(logp) - q) * g, None


def cross_entropy(logits: Tensor, targets: Any, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> Tensor:
    """loss = -sum_c q_c log softmax(logits)_c, q = (1-e) onehot(t) + e/C;  (N, C), (N,) -> ().

    targets may also be class probabilities (N, C) of the logits' dtype (as PyTorch allows):
    then q = (1-e) targets + e/C.
    """
    t = _check_targets(logits.data, targets, label_smoothing)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f'cross_entropy: reduction must be "mean", "sum" or "none", got {reduction!r}')
    return CrossEntropy.apply(logits, Tensor(t), label_smoothing=label_smoothing, reduction=reduction)
