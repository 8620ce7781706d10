"""Reductions over one or several dims (PyTorch names: `dim`, `keepdim`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from minigrad.engine import Context, Function


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dim in [-ndim, ndim) as a non-negative axis, or an error naming the op."""
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dim {dim} is out of range for a {ndim}-d tensor (expected {lo}..{hi})")
    return int(dim) % max(ndim, 1)


def normalize_dims(dim: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    axes = tuple(normalize_dim(d, ndim, op) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {dim} names the same dimension twice")
    return axes


def _grad_to_input_shape(grad: np.ndarray, axes: tuple[int, ...], keepdim: bool, shape: tuple) -> np.ndarray:
    """Put back the reduced axes (size 1) so the gradient broadcasts over the input."""
    if not keepdim:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim=None, keepdim: bool = False) -> np.ndarray:
        ctx.axes = normalize_dims(dim, a.ndim, "sum")
        ctx.keepdim, ctx.in_shape = keepdim, a.shape
        return np.asarray(a.sum(axis=ctx.axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return _grad_to_input_shape(grad, ctx.axes, ctx.keepdim, ctx.in_shape)  # each input: 1


class Mean(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim=None, keepdim: bool = False) -> np.ndarray:
        if a.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating-point tensor, got dtype {a.dtype}; convert with .float()")
        ctx.axes = normalize_dims(dim, a.ndim, "mean")
        ctx.keepdim, ctx.in_shape = keepdim, a.shape
        ctx.count = int(np.prod([a.shape[i] for i in ctx.axes]))
        return np.asarray(a.mean(axis=ctx.axes, keepdims=keepdim, dtype=a.dtype))

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        grad = grad / grad.dtype.type(ctx.count)  # each input contributes 1/count
        return _grad_to_input_shape(grad, ctx.axes, ctx.keepdim, ctx.in_shape)


class Max(Function):
    """Largest element(s). Over a dim the gradient goes to the arg-max (first of ties);
    over the whole tensor it is shared evenly between ties, as torch.max() does."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: int | None = None, keepdim: bool = False) -> np.ndarray:
        if a.size == 0:
            raise ValueError("max: cannot take the max of an empty tensor")
        ctx.in_shape, ctx.keepdim = a.shape, keepdim
        if dim is None:
            out = a.max()
            ctx.save_for_backward(a == out)
            return np.asarray(out).reshape((1,) * a.ndim if keepdim else ())
        ctx.axis = normalize_dim(dim, a.ndim, "max")
        index = np.expand_dims(np.argmax(a, axis=ctx.axis), ctx.axis)
        ctx.save_for_backward(index)
        out = np.take_along_axis(a, index, axis=ctx.axis)
        return out if keepdim else out.squeeze(ctx.axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (saved,) = ctx.saved_tensors
        if not hasattr(ctx, "axis"):
            ties = saved
            return grad.reshape(()) * ties / grad.dtype.type(ties.sum())
        index = saved
        out = np.zeros(ctx.in_shape, dtype=grad.dtype)
        g = grad if ctx.keepdim else np.expand_dims(grad, ctx.axis)
        np.put_along_axis(out, index, g, axis=ctx.axis)
        return out
