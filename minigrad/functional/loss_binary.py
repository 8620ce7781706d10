"""Binary cross-entropy, for one probability per element: `binary_cross_entropy` on probabilities
(a Function whose backward is PyTorch's formula, clamps included) and `binary_cross_entropy_with_logits`
on logits (composed from log-sigmoid, which never takes the log of 0).

Per element, with p the probability and t the target in [0, 1]:
    loss = -w (t log p + (1 - t) log(1 - p))
then "mean" divides the sum by the number of elements (not by the sum of the weights), as PyTorch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.engine import Context, Function
from minigrad.functional.activation import logsigmoid
from minigrad.functional.loss import check_reduction, legacy_reduction
from minigrad.ops.elementwise import check_dtypes, check_float, tensor_inputs
from minigrad.tensor import Tensor

# PyTorch's floor on p (1 - p) in backward, so the gradient stays finite at p = 0 or 1: a float32 constant
# there, so its float64 value is float32's nearest to 1e-12.
EPSILON = np.float32(1e-12)


def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return losses
    total = losses.sum(dtype=losses.dtype)
    with np.errstate(invalid="ignore"):  # no elements: 0 / 0 = nan, as PyTorch
        return total / losses.dtype.type(losses.size) if reduction == "mean" else total


class BinaryCrossEntropy(Function):
    """loss = -w (t log p + (1 - t) log(1 - p)) per element, each log at least -100 (PyTorch's clamp), reduced."""

    @staticmethod
    def forward(ctx: Context, p: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None,
                reduction: str = "mean") -> np.ndarray:
        one, floor = p.dtype.type(1), p.dtype.type(-100)
        with np.errstate(divide="ignore"):  # log(0) = -inf, then clamped to -100
            log_p, log_q = np.maximum(np.log(p), floor), np.maximum(np.log1p(-p), floor)
        losses = -(t * log_p + (one - t) * log_q)
        if weight is not None:
            losses = losses * weight
        ctx.save_for_backward(p, t, weight)
        ctx.reduction = reduction
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # dloss/dp = w (p - t) / (p (1 - p)), the denominator at least EPSILON; dloss/dt = w (log(1 - p) - log p)
        p, t, weight = ctx.saved_tensors
        one = p.dtype.type(1)
        g = grad / grad.dtype.type(p.size) if ctx.reduction == "mean" else grad  # "sum" and "none": grad as it is
        if weight is not None:
            g = g * weight
        grad_p = g * (p - t) / np.maximum(p * (one - p), p.dtype.type(EPSILON))
        grad_t = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                grad_t = g * (np.log1p(-p) - np.log(p))  # not clamped, as PyTorch's
        return grad_p, grad_t


def _constant(op: str, name: str, value: Any, input: Tensor) -> np.ndarray | None:
    """weight or pos_weight as an array of the input's dtype; PyTorch does not differentiate them."""
    if value is None:
        return None
    if isinstance(value, Tensor) and value.requires_grad:
        raise ValueError(f"{op}: {name} requires grad, but {op} is not differentiable with respect to {name} "
                         f"(as in PyTorch); pass {name}.detach()")
    if isinstance(value, Tensor):
        check_dtypes(op, input._data, value._data, f"input vs {name}")
    array = input._operand(value)._data
    try:
        np.broadcast_shapes(array.shape, input.shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {array.shape} does not broadcast with the input's {input.shape}") from None
    return array


@tensor_inputs("input")
def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """loss = -w (t log p + (1 - t) log(1 - p)), logs clamped at -100;  p, t: (...) -> () (or (...))."""
    op = "binary_cross_entropy"
    reduction = check_reduction(op, legacy_reduction(size_average, reduce, reduction))
    check_float(op, input=input._data)
    target = input._operand(target)
    if target.shape != input.shape:
        raise ValueError(f"{op}: using a target size {target.shape} that is different to the input size "
                         f"{input.shape} is not allowed; make them the same size")
    check_dtypes(op, input._data, target._data, "input vs target", exact=True)
    p = input._data
    if p.size and not (np.all(p >= 0) and np.all(p <= 1)):  # NaN fails both tests too
        raise ValueError(f"{op}: all elements of input should be between 0 and 1 (they are probabilities: "
                         "apply sigmoid first, or use binary_cross_entropy_with_logits)")
    w = _constant(op, "weight", weight, input)
    return BinaryCrossEntropy.apply(input, target, weight=w, reduction=reduction)


@tensor_inputs("input")
def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None, size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """loss = -w (pos_weight t log sigmoid(x) + (1 - t) log sigmoid(-x));  x, t: (...) -> () (or (...)).
    log(1 - sigmoid(x)) is log sigmoid(-x): both logs are computed without overflow or log(0)."""
    op = "binary_cross_entropy_with_logits"
    reduction = check_reduction(op, legacy_reduction(size_average, reduce, reduction))
    check_float(op, input=input._data)
    target = input._operand(target)
    if target.shape != input.shape:
        raise ValueError(f"{op}: target size {target.shape} must be the same as input size {input.shape}")
    w, pw = _constant(op, "weight", weight, input), _constant(op, "pos_weight", pos_weight, input)
    positive = target * logsigmoid(input)  # t log p
    if pw is not None:
        positive = positive * Tensor(pw)
    losses = -(positive + (1.0 - target) * logsigmoid(-input))  # (...)
    if w is not None:
        losses = losses * Tensor(w)
    loss = losses if reduction == "none" else losses.mean() if reduction == "mean" else losses.sum()
    if loss.grad_fn is not None:  # composed of the ops above: its last node shown under PyTorch's name
        loss.grad_fn.grad_fn_name = "BinaryCrossEntropyWithLogitsBackward0"
    return loss
