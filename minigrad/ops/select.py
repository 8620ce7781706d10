"""Ops that pick, element by element, one of two tensors: where(condition, a, b), maximum, minimum.

Inputs broadcast; the engine sums each gradient back to its input's shape.
"""
from __future__ import annotations

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops.elementwise import check_binary, promote


class Where(Function):
    """out = a where condition, else b;  condition: a bool array (a constant), broadcast with a and b."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray, condition: np.ndarray) -> np.ndarray:
        check_binary("where", a, b)
        a, b = promote(a, b)
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        (condition,) = ctx.saved_tensors
        zero = grad.dtype.type(0)
        grad_a = np.where(condition, grad, zero) if ctx.needs_input_grad[0] else None
        grad_b = np.where(condition, zero, grad) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Maximum(Function):
    """out = max(a, b) elementwise (smallest=True: min(a, b)), NaN if either is NaN. The gradient goes to the
    larger (smaller) input; at a tie each gets half of it, as PyTorch."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray, smallest: bool = False) -> np.ndarray:
        op = "minimum" if smallest else "maximum"
        check_binary(op, a, b)
        if a.dtype == np.bool_ and b.dtype == np.bool_:
            return np.logical_and(a, b) if smallest else np.logical_or(a, b)
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        ctx.smallest = smallest
        return np.minimum(a, b) if smallest else np.maximum(a, b)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        a, b = ctx.saved_tensors
        shared = np.where(a == b, grad / grad.dtype.type(2), grad)  # a tie: half each
        a_lost, b_lost = (a > b, a < b) if ctx.smallest else (a < b, a > b)  # NaN: neither lost, both get grad
        zero = grad.dtype.type(0)
        grad_a = np.where(a_lost, zero, shared) if ctx.needs_input_grad[0] else None
        grad_b = np.where(b_lost, zero, shared) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b
