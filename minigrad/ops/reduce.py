"""Reductions over one or several dims (PyTorch names: `dim`, `keepdim`)."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from minigrad.engine import Context, Function
from minigrad.dtypes import accurate_sum
from minigrad.ops.elementwise import check_float


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dim in [-ndim, ndim) as a non-negative axis, or an error naming the op."""
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dim {dim} is out of range for a {ndim}-d tensor (expected {lo}..{hi})")
    return int(dim) % max(ndim, 1)


def normalize_dims(dim: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """The axes a reduction over `dim` runs over; a 0-d tensor has none (dim 0 and -1 are allowed, as in PyTorch)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    axes = tuple(normalize_dim(d, ndim, op) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {dim} names the same dimension twice")
    return axes if ndim > 0 else ()


def _grad_to_input_shape(grad: np.ndarray, axes: tuple[int, ...], keepdim: bool, shape: tuple) -> np.ndarray:
    """Put back the reduced axes (size 1) so the gradient broadcasts over the input."""
    if not keepdim:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim=None, keepdim: bool = False) -> np.ndarray:
        ctx.axes = normalize_dims(dim, a.ndim, "sum")
        ctx.grad_fn_name = "SumBackward0" if dim is None else "SumBackward1"  # PyTorch's two overloads
        ctx.keepdim, ctx.in_shape = keepdim, a.shape
        return accurate_sum(a, ctx.axes, keepdim)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return _grad_to_input_shape(grad, ctx.axes, ctx.keepdim, ctx.in_shape)  # each input: 1


class Mean(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim=None, keepdim: bool = False) -> np.ndarray:
        check_float("mean", input=a)
        ctx.axes = normalize_dims(dim, a.ndim, "mean")
        ctx.grad_fn_name = "MeanBackward0" if dim is None else "MeanBackward1"
        ctx.keepdim, ctx.in_shape = keepdim, a.shape
        ctx.count = int(np.prod([a.shape[i] for i in ctx.axes]))
        return accurate_sum(a, ctx.axes, keepdim, divide_by=ctx.count)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        if ctx.count == 0:  # an empty input has an empty gradient (and no 1 / 0 to differentiate)
            return np.zeros_like(grad, shape=ctx.in_shape)
        grad = grad / grad.dtype.type(ctx.count)  # each input contributes 1/count
        return _grad_to_input_shape(grad, ctx.axes, ctx.keepdim, ctx.in_shape)


class Max(Function):
    """Largest element(s), or with smallest=True the smallest (torch.min). Over a dim the gradient goes to
    the arg-max (arg-min: the index torch returns, the first of ties); over the whole tensor it is shared
    evenly between ties, as torch.max() and torch.min() do."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: int | None = None, keepdim: bool = False,
                smallest: bool = False) -> np.ndarray:
        op = "min" if smallest else "max"
        ctx.in_shape, ctx.keepdim = a.shape, keepdim
        if a.size == 0 and (dim is None or a.shape[normalize_dim(dim, a.ndim, op)] == 0):
            raise ValueError(f"{op}: cannot take the {op} of an empty tensor (shape {a.shape}) "
                             f"{'over all its elements' if dim is None else f'along its dim {dim} of size 0'}")
        if dim is None:
            out = a.min() if smallest else a.max()
            ctx.save_for_backward(np.isnan(a) if np.isnan(out) else a == out)  # the ties share the gradient
            return np.asarray(out).reshape((1,) * a.ndim if keepdim else ())
        ctx.axis = normalize_dim(dim, a.ndim, op)
        arg = np.argmin if smallest else np.argmax
        index = np.expand_dims(arg(a, axis=ctx.axis), ctx.axis)
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
        out = np.zeros_like(grad, shape=ctx.in_shape)
        g = grad if ctx.keepdim else np.expand_dims(grad, ctx.axis)
        np.put_along_axis(out, index, g, axis=ctx.axis)
        return out


class Norm(Function):
    """y = sqrt(sum(a^2)) over the dims (the 2-norm);  dy/da = a / y, taken as 0 where y = 0, as PyTorch does."""

    grad_fn_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim=None, keepdim: bool = False) -> np.ndarray:
        check_float("norm", input=a)
        ctx.axes, ctx.keepdim = normalize_dims(dim, a.ndim, "norm"), keepdim
        y = np.sqrt(accurate_sum(a * a, ctx.axes, keepdims=True))
        out = np.asarray(y if keepdim else np.squeeze(y, axis=ctx.axes))  # 0-d: an array, not a NumPy scalar
        ctx.save_for_backward(a, out)  # the input and the output, as PyTorch's norm_backward(grad, self, result)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        a, out = ctx.saved_tensors
        y, g = (out, grad) if ctx.keepdim else (np.expand_dims(out, ctx.axes), np.expand_dims(grad, ctx.axes))
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * np.where(y == 0, a.dtype.type(0), a / y)  # 0 where y = 0, not 0 / 0 (PyTorch's order)


def _centered(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """a - mean(a) over axes (a mean over no elements taken as 0)."""
    n = math.prod(a.shape[i] for i in axes)
    return a - accurate_sum(a, axes, keepdims=True, divide_by=max(n, 1))


class Std(Function):
    """y = sqrt(sum((a - mean)^2) / (N - correction)) over the dims;  dy/da = (a - mean) / ((N - correction) y),
    taken as 0 where y = 0 (a constant row), as PyTorch does."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim=None, correction: float = 1, keepdim: bool = False) -> np.ndarray:
        check_float("std", input=a)
        ctx.axes, ctx.keepdim = normalize_dims(dim, a.ndim, "std"), keepdim
        n = math.prod(a.shape[i] for i in ctx.axes)
        centered = _centered(a, ctx.axes)
        ctx.dof = a.dtype.type(max(0, n - correction))  # the degrees of freedom, N - correction
        with np.errstate(divide="ignore", invalid="ignore"):  # dof = 0 gives inf or nan, as in PyTorch
            y = np.sqrt(accurate_sum(centered * centered, ctx.axes, keepdims=True) / ctx.dof)
        out = np.asarray(y if keepdim else np.squeeze(y, axis=ctx.axes))  # 0-d: an array, not a NumPy scalar
        ctx.save_for_backward(a, out)  # the input and the output, as PyTorch's std_backward(result, grad, self)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        a, out = ctx.saved_tensors
        y, g = (out, grad) if ctx.keepdim else (np.expand_dims(out, ctx.axes), np.expand_dims(grad, ctx.axes))
        centered, dof = _centered(a, ctx.axes), ctx.dof
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(y == 0, np.zeros_like(y), g / (dof * y))  # 0 where y = 0, not 0 / 0
        return scale * centered


class CumSum(Function):
    """out_i = a_1 + ... + a_i along ctx.axis;  dL/da_j = grad_j + ... + grad_n, the sum of grad from j on."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: int) -> np.ndarray:
        ctx.axis = normalize_dim(dim, a.ndim, "cumsum")
        if a.ndim == 0:
            return np.cumsum(a.reshape(1)).reshape(())
        return np.cumsum(a, axis=ctx.axis)  # ints and bools as int64, as PyTorch

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        if grad.ndim == 0:
            return grad.copy()
        return np.flip(np.cumsum(np.flip(grad, ctx.axis), axis=ctx.axis), ctx.axis)  # a reversed cumsum


class Prod(Function):
    """out = a_1 a_2 ... a_n over all elements (dim=None) or along dim;  dout/da_j = the product of the
    others, taken as (product before j) * (product after j), so that a zero input needs no division by 0."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: int | None = None, keepdim: bool = False) -> np.ndarray:
        ctx.axis = None if dim is None else normalize_dim(dim, a.ndim, "prod")
        ctx.keepdim, ctx.in_shape = keepdim, a.shape
        ctx.save_for_backward(a)
        if ctx.axis is None or a.ndim == 0:
            return np.asarray(a.prod()).reshape((1,) * a.ndim if keepdim else ())
        return np.asarray(a.prod(axis=ctx.axis, keepdims=keepdim))  # ints and bools as int64, as PyTorch

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        if ctx.axis is None or a.ndim == 0:
            x, g = a.reshape(-1), grad.reshape(())  # (n,): one row
        else:
            x = np.moveaxis(a, ctx.axis, -1)  # (..., n): the reduced axis last
            g = np.moveaxis(grad if ctx.keepdim else np.expand_dims(grad, ctx.axis), ctx.axis, -1)
        if x.shape[-1] == 0:
            return np.zeros(ctx.in_shape, dtype=grad.dtype)
        one = np.ones(x.shape[:-1] + (1,), dtype=x.dtype)
        before = np.cumprod(np.concatenate([one, x[..., :-1]], axis=-1), axis=-1)  # a_1 ... a_(j-1)
        after = np.flip(np.cumprod(np.concatenate([one, np.flip(x, -1)[..., :-1]], axis=-1), axis=-1), -1)  # a_(j+1) ... a_n
        others = before * after * g  # (..., n)
        if ctx.axis is None or a.ndim == 0:
            return others.reshape(ctx.in_shape)
        return np.moveaxis(others, -1, ctx.axis)


# -- conveniences written with the ops above (no gradient code of their own) ---------------------


def max_along(x: Any, dim: int, keepdim: bool = False, smallest: bool = False) -> tuple[Any, Any]:
    """torch.max(x, dim) (smallest=True: torch.min(x, dim)): the largest (smallest) values along dim
    (differentiable) and their int64 indices."""
    op, arg = ("min", np.argmin) if smallest else ("max", np.argmax)
    if x.ndim == 0:  # a 0-d tensor is its own max along dim 0 or -1, as in PyTorch
        normalize_dim(dim, 0, op)
        return x.reshape(()), arg_extreme(arg, x, dim, keepdim, op)
    return Max.apply(x, dim=dim, keepdim=keepdim, smallest=smallest), arg_extreme(arg, x, dim, keepdim, op)


def arg_extreme(fn: Callable, x: Any, dim: int | None, keepdim: bool, op: str) -> Any:
    """np.argmax / np.argmin as an int64 tensor: a flat index without dim, else indices along dim."""
    from minigrad.tensor import Tensor

    if dim is None and x.numel() == 0:
        raise ValueError(f"{op}: an empty tensor (shape {x.shape}) has no {op} over all its elements; give dim")
    if dim is None:
        return Tensor(np.asarray(fn(x._data), dtype=np.int64))
    axis = normalize_dim(dim, x.ndim, op)
    if x.ndim == 0:
        return Tensor(np.zeros((), dtype=np.int64))
    if x.shape[axis] == 0:
        raise ValueError(f"{op}: cannot reduce dim {dim} of size 0 (shape {x.shape})")
    return Tensor(np.asarray(fn(x._data, axis=axis, keepdims=keepdim), dtype=np.int64))


def _correction(dim: Any, unbiased: bool | None, correction: float | None, op: str) -> tuple[Any, float]:
    """PyTorch's (dim, unbiased) and (dim, correction=) forms -> (dim, correction): 1 by default."""
    if isinstance(dim, bool):  # the legacy var(unbiased)
        dim, unbiased = None, dim
    if correction is not None and unbiased is not None:
        raise ValueError(f"{op}: give unbiased or correction, not both")
    return dim, (correction if correction is not None else 0 if unbiased is False else 1)


def var(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: float | None = None) -> Any:
    """sum((x - mean)^2) / max(0, N - correction) over dim (correction 1 by default, 0 if unbiased=False)."""
    dim, correction = _correction(dim, unbiased, correction, "var")
    axes = normalize_dims(dim, x.ndim, "var")
    n = math.prod(x.shape[a] for a in axes)
    centered = x - x.mean(dim=axes, keepdim=True)
    return (centered * centered).sum(dim=axes, keepdim=keepdim) / max(0, n - correction)


def std(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: float | None = None) -> Any:
    """sqrt(var(x)) as one op, the Std Function (var is composed of mean and sum instead)."""
    dim, correction = _correction(dim, unbiased, correction, "std")
    return Std.apply(x, dim=dim, correction=correction, keepdim=keepdim)
