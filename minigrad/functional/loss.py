"""Cross-entropy: composed (log_softmax + pick + weighted mean) beside a fused version, one Function
with a hand-derived backward; and the mean squared error, composed.

Both cross-entropies take PyTorch's arguments: logits (C,), (N, C) or (N, C, d1, ...); targets as
class indices (the logits' shape without C) or class probabilities (the logits' shape); `weight`
per class, `ignore_index`, `reduction` and `label_smoothing`, with PyTorch's semantics. Both are
the same formula: at each position, loss = -sum_c q_c log softmax(logits)_c with
    q_c = w_c ((1 - e) onehot(t)_c + e / C) * [t != ignore_index]   (class indices)
    q_c = w_c ((1 - e) t_c + e / C)                                 (probabilities)
and "mean" divides the sum by sum_n w[t_n] over the kept positions (indices) or by the number
of positions (probabilities), as PyTorch does.
"""
from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from minigrad.engine import Context, Function
from minigrad.functional.activation import log_softmax, log_softmax_array
from minigrad.ops.elementwise import check_float, tensor_inputs
from minigrad.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(op: str, reduction: str) -> str:
    """reduction, if it is one of REDUCTIONS (the check of every loss, functional and nn alike)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'{op}: reduction must be "mean", "sum" or "none", got {reduction!r}')
    return reduction


def check_label_smoothing(op: str, label_smoothing: float) -> float:
    """label_smoothing, if it is in [0, 1] (cross_entropy's check and nn.CrossEntropyLoss's)."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return label_smoothing


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's mapping of the deprecated size_average / reduce flags onto reduction (with its warning)."""
    if size_average is None and reduce is None:
        return reduction
    reduction = "none" if reduce is False else "sum" if size_average is False else "mean"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                  stacklevel=3)
    return reduction


class Targets(NamedTuple):
    """What both cross-entropies need to know about their targets, checked once."""

    target: Tensor  # class indices (integer) or class probabilities (the logits' float dtype)
    probabilities: bool
    weight: np.ndarray | None  # (C,), the logits' dtype
    axis: int  # the class dim of the logits: 0 for (C,), else 1


def _weight(weight: Any, n_classes: int, dtype: np.dtype) -> np.ndarray | None:
    if weight is None:
        return None
    if isinstance(weight, Tensor) and weight.requires_grad:
        raise ValueError("cross_entropy: weight requires grad, but minigrad (like PyTorch's nll_loss) does not "
                         "differentiate the class weights; pass weight.detach()")
    w = np.asarray(weight._data if isinstance(weight, Tensor) else weight)
    if w.shape != (n_classes,):
        raise ValueError(f"cross_entropy: weight must hold one value per class, shape ({n_classes},), got {w.shape}")
    if isinstance(weight, Tensor) and w.dtype != dtype:
        raise TypeError(f"cross_entropy: weight is {w.dtype} but the logits are {dtype}")
    return w.astype(dtype, copy=False)


def _check_indices(t: np.ndarray, shape: tuple, axis: int, ignore_index: int) -> None:
    expected = shape[:axis] + shape[axis + 1:]
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices or float class probabilities, "
                        f"got dtype {t.dtype}")
    if t.shape != expected:
        raise ValueError(f"cross_entropy: targets shape {t.shape} does not match logits {shape} (expected {expected})")
    bad = t[(t != ignore_index) & ((t < 0) | (t >= shape[axis]))]
    if bad.size:
        raise IndexError(f"cross_entropy: target {bad.flat[0]} is out of range for {shape[axis]} classes")


def check_targets(logits: Tensor, target: Any, weight: Any, ignore_index: int, label_smoothing: float) -> Targets:
    """Class indices or class probabilities, checked against the logits as PyTorch checks them."""
    shape = logits.shape
    check_float("cross_entropy", input=logits._data)  # as PyTorch (its log_softmax refuses integers)
    if logits.ndim == 0:
        raise ValueError("cross_entropy: logits must be (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    check_label_smoothing("cross_entropy", label_smoothing)
    axis = 0 if logits.ndim == 1 else 1
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    probabilities = t.shape == shape or t.dtype.kind == "f"
    if probabilities:  # e.g. the mixed labels of mixup / cutmix
        if t.shape != shape:
            raise ValueError(f"cross_entropy: probability targets must have the logits' shape {shape}, got {t.shape}")
        if t.dtype.kind != "f":
            raise TypeError(f"cross_entropy: targets of the logits' shape {shape} are class probabilities and "
                            f"must be float, got dtype {t.dtype}")
        if t.dtype != logits.dtype:
            if isinstance(target, Tensor):
                raise TypeError(f"cross_entropy: probability targets are {t.dtype} but logits are {logits.dtype}")
            t = Tensor(t._data.astype(logits.dtype))  # an array takes the logits' dtype, as any constant
        if ignore_index >= 0:
            raise ValueError("cross_entropy: ignore_index is not supported for class-probability targets")
    else:
        _check_indices(t._data, shape, axis, ignore_index)
    return Targets(t, probabilities, _weight(weight, shape[axis], logits.dtype), axis)


def target_distribution(logits: np.ndarray, target: np.ndarray, weight: np.ndarray | None, axis: int,
                        ignore_index: int, label_smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """q, the weighted, smoothed target distribution at every position (logits' shape), and the
    divisor of reduction="mean" (sum of w[t] over kept positions, or the number of positions)."""
    dtype, n_classes = logits.dtype, logits.shape[axis]
    w = np.ones(n_classes, dtype=dtype) if weight is None else weight
    w = w.reshape((n_classes,) + (1,) * (logits.ndim - axis - 1))  # (C, 1, ..., 1): along the class dim
    share, spread = dtype.type(1 - label_smoothing), dtype.type(label_smoothing / n_classes)  # 1 - e, e / C
    if target.dtype.kind == "f":  # probabilities
        q = w * (target * share + spread)
        return q, np.asarray(logits.size // n_classes, dtype=dtype)
    classes = np.arange(n_classes).reshape(w.shape)
    onehot = classes == np.expand_dims(target, axis)  # (N, C, ...): True at each target class
    kept = np.expand_dims(target != ignore_index, axis)  # (N, 1, ...)
    q = w * (onehot * share + spread) * kept
    return q, (w * onehot * kept).sum(dtype=dtype)  # sum_n w[t_n] over the kept positions


class CrossEntropy(Function):
    """loss = -sum_c q_c log softmax(logits)_c per position (q: target_distribution), then reduced."""

    grad_fn_name = "NllLossBackward0"  # PyTorch's top node of cross_entropy (log_softmax, then nll_loss)

    @staticmethod
    def forward(ctx: Context, logits: np.ndarray, target: np.ndarray, weight: np.ndarray | None, axis: int,
                ignore_index: int, label_smoothing: float, reduction: str) -> np.ndarray:
        logp = log_softmax_array(logits, axis=axis)  # (N, C, ...)
        q, divisor = target_distribution(logits, target, weight, axis, ignore_index, label_smoothing)
        losses = -(q * np.where(q != 0, logp, 0)).sum(axis=axis)  # (N, ...); 0 * log 0 counts as 0
        ctx.save_for_backward(logp, q, divisor, weight)
        ctx.axis, ctx.reduction, ctx.smoothing = axis, reduction, label_smoothing
        ctx.kept = None if target.dtype.kind == "f" else np.expand_dims(target != ignore_index, axis)
        if reduction == "none":
            return losses
        total = losses.sum(dtype=logits.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing kept: 0 / 0 = nan, as PyTorch
            return total / divisor if reduction == "mean" else total

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # d loss / d logits = softmax(logits) * sum_c q_c - q  (sum_c q_c = 1 unless weighted or ignored)
        logp, q, divisor, weight = ctx.saved_tensors
        if ctx.reduction == "none":
            g = np.expand_dims(grad, ctx.axis)  # each position's own upstream gradient
        elif ctx.reduction == "mean" and divisor == 0:  # the loss is 0 / 0. As PyTorch: the gradient is 0 where
            # the position is ignored, NaN where it is kept (its weight is 0: 0 / 0). g = 0, picked over grad / 0 by
            # a where (0 * inf would be NaN): its derivative in grad is then 0 / 0, PyTorch's (a mean over nothing)
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(True, np.zeros_like(grad), grad / divisor)
            if ctx.kept is not None and ctx.kept.any():
                return np.where(ctx.kept, logp.dtype.type(np.nan), logp.dtype.type(0)) * np.ones_like(logp), None
        else:
            g = grad / divisor if ctx.reduction == "mean" else grad
        grad_logits = (np.exp(logp) * q.sum(axis=ctx.axis, keepdims=True) - q) * g
        grad_target = None
        if ctx.needs_input_grad[1]:  # probabilities that require grad: d loss / d t_c = -(1 - e) w_c log p_c
            w = 1 if weight is None else weight.reshape(weight.shape + (1,) * (logp.ndim - ctx.axis - 1))
            grad_target = -logp.dtype.type(1 - ctx.smoothing) * w * logp * g
        return grad_logits, grad_target


@tensor_inputs("input")
def cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """loss = -sum_c q_c log softmax(input)_c (q: the module docstring);  (N, C, ...), (N, ...) -> ()."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("cross_entropy", reduction)
    t = check_targets(input, target, weight, ignore_index, label_smoothing)
    return CrossEntropy.apply(input, t.target, weight=t.weight, axis=t.axis, ignore_index=ignore_index,
                              label_smoothing=label_smoothing, reduction=reduction)


def cross_entropy_composed(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                           reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """The same loss from primitive ops: -(1-e) w[t] logp[t] - (e/C) sum_c w_c logp_c, reduced."""
    t = check_targets(input, target, weight, ignore_index, label_smoothing)
    check_reduction("cross_entropy", reduction)
    n_classes, e, axis = input.shape[t.axis], label_smoothing, t.axis
    w = np.ones(n_classes, dtype=input.dtype) if t.weight is None else t.weight
    w_along = Tensor(w.reshape((n_classes,) + (1,) * (input.ndim - axis - 1)))  # broadcasts along the class dim
    logp = log_softmax(input, dim=axis)  # (N, C, ...)
    if t.probabilities:  # a graph through the targets too: they may require grad
        losses = -(logp * ((t.target * (1.0 - e) + e / n_classes) * w_along)).sum(dim=axis)
        return _reduce(losses, losses.numel(), reduction)
    kept = t.target._data != ignore_index
    safe = np.where(kept, t.target._data, 0)  # an ignored position picks class 0, then counts 0
    index = np.indices(safe.shape)  # pick logp[n, t[n, ...], ...] with integer arrays
    picked = logp[(*index[:axis], safe, *index[axis:])]  # (N, ...)
    weight_kept = Tensor((w[safe] * kept).astype(input.dtype))  # w[t] at kept positions, else 0
    losses = -picked * weight_kept
    if e > 0:  # skip the smoothing term when e = 0: 0 * (-inf) would be NaN for masked logits
        smooth = -(logp * w_along).sum(dim=axis) * Tensor(kept.astype(input.dtype))
        losses = (1.0 - e) * losses + (e / n_classes) * smooth
    return _reduce(losses, weight_kept._data.sum(), reduction)


def _reduce(losses: Tensor, divisor: Any, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    with np.errstate(invalid="ignore", divide="ignore"):
        return losses.sum() / divisor if reduction == "mean" else losses.sum()


@tensor_inputs("input")
def mse_loss(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean", weight: Any = None) -> Tensor:
    """w (input - target)^2 per element, then summed, averaged (divided by sum w) or kept;  (...), (...) -> ()."""
    target = input._operand(target)
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have "
                      "the same size.", stacklevel=2)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("mse_loss", reduction)
    diff = input - target
    squared = diff * diff
    if weight is None:
        return squared if reduction == "none" else squared.mean() if reduction == "mean" else squared.sum()
    weight = input._operand(weight)
    if weight.shape != input.shape:
        raise ValueError(f"mse_loss: weight has shape {weight.shape}, the input {input.shape}: they must be equal")
    weighted = squared * weight
    return weighted if reduction == "none" else weighted.sum() / weight.sum() if reduction == "mean" else weighted.sum()
