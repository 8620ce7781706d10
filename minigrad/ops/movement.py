"""Ops that move or select elements without arithmetic: their backward routes gradients back."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops.reduce import normalize_dim, normalize_dims


def shape_arg(shape: tuple) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3)), as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def index_arg(index: Any) -> Any:
    """Turn Tensors inside an index into plain arrays (integer or boolean)."""
    from minigrad.tensor import Tensor

    def convert(i: Any) -> Any:
        if isinstance(i, Tensor):
            i = i._data
        if isinstance(i, range):
            i = np.arange(i.start, i.stop, i.step)
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype.kind not in "iub":
            raise IndexError(f"getitem: index arrays must be integer or bool, got dtype {i.dtype}")
        return i

    if isinstance(index, tuple):
        return tuple(convert(i) for i in index)
    return convert(index)


class Reshape(Function):
    is_view = True
    grad_fn_name = "ViewBackward0"

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot view shape {a.shape} ({a.size} elements) as {shape}"
            ) from None

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return grad.reshape(ctx.in_shape)


class Permute(Function):
    is_view = True

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        if sorted(normalize_dim(d, a.ndim, "permute") for d in dims) != list(range(a.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {a.ndim} dims of {a.shape}")
        ctx.dims = tuple(d % a.ndim for d in dims)
        return np.transpose(a, ctx.dims)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return np.transpose(grad, np.argsort(ctx.dims))  # the inverse permutation


class Expand(Function):
    """Broadcast to a larger shape without copying (-1 keeps a dim); backward sums back."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        lead = len(shape) - a.ndim
        if lead < 0:
            raise ValueError(f"expand: cannot expand shape {a.shape} to fewer dims {shape}")
        target = tuple(a.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
        try:
            return np.broadcast_to(a, target)
        except ValueError:
            raise ValueError(
                f"expand: shape {a.shape} cannot be expanded to {shape} (only size-1 dims can grow)"
            ) from None

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return grad  # the engine's unbroadcast sums over the expanded dims


class GetItem(Function):
    """x[index]: basic slicing, None, Ellipsis, integer and boolean arrays."""

    is_view = True  # basic slicing gives a view of x; integer and boolean arrays give a copy
    grad_fn_name = "IndexBackward0"

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, index: Any) -> np.ndarray:
        ctx.in_shape, ctx.index = a.shape, index
        try:
            return np.asarray(a[index])
        except IndexError as err:
            raise IndexError(f"getitem: {err} (tensor shape {a.shape})") from None

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        out = np.zeros_like(grad, shape=ctx.in_shape)
        np.add.at(out, ctx.index, grad)  # add, not assign: an element picked twice gets both gradients
        return out


def set_item(a: np.ndarray, index: Any, value: np.ndarray) -> None:
    """a[index] = value, the value cast to a's dtype (as PyTorch's setitem), or an error naming both shapes."""
    try:
        a[index] = value
    except (ValueError, IndexError) as err:
        raise type(err)(f"setitem: cannot set {value.shape} values at index {index!r} of a tensor of shape "
                        f"{a.shape} ({err})") from None


class SetItem(Function):
    """out = a with out[index] = v: the gradient of a is grad with the overwritten places zeroed, v's is grad[index].
    accumulate=True: out[index] += v instead (an index met twice adds twice), and a's gradient is grad unchanged."""

    grad_fn_name = "CopySlices"

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, v: np.ndarray, index: Any, accumulate: bool = False) -> np.ndarray:
        ctx.index, ctx.v_dtype, ctx.accumulate = index, v.dtype, accumulate
        out = a.copy()
        if accumulate:
            ctx.grad_fn_name = "IndexPutBackward0"
            np.add.at(out, index, v)
        else:
            set_item(out, index, v)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        grad_a = None
        if ctx.needs_input_grad[0]:
            grad_a = grad.copy()
            if not ctx.accumulate:
                grad_a[ctx.index] = 0  # what was overwritten has no effect on the output
        grad_v = grad[ctx.index].astype(ctx.v_dtype) if ctx.needs_input_grad[1] else None  # the engine sums a broadcast v
        return grad_a, grad_v


class Fill(Function):
    """out = value everywhere (a's shape and dtype): a constant, so a's gradient is 0."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, value: Any) -> np.ndarray:
        return np.full(a.shape, value, dtype=a.dtype)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return np.zeros_like(grad)


class Copy(Function):
    """out = src broadcast to a's shape, in a's dtype (a.copy_(src)): a's gradient is 0, src's is grad."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, src: np.ndarray) -> np.ndarray:
        ctx.src_dtype = src.dtype
        try:
            return np.broadcast_to(src, a.shape).astype(a.dtype)
        except ValueError:
            raise RuntimeError(f"copy_: the source's shape {src.shape} cannot be broadcast to {a.shape}") from None

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        return np.zeros_like(grad), grad.astype(ctx.src_dtype)


class Cat(Function):
    @staticmethod
    def forward(ctx: Context, *arrays: np.ndarray, dim: int = 0) -> np.ndarray:
        _check_same(arrays, "cat")
        if len({a.ndim for a in arrays}) > 1:
            legacy = any(a.shape == (0,) for a in arrays)
            raise ValueError(f"cat: the tensors must have the same number of dims, got shapes {[a.shape for a in arrays]}"
                             + (" (PyTorch's legacy skipping of 1-d empty tensors is not supported)" if legacy else ""))
        ctx.axis = normalize_dim(dim, arrays[0].ndim, "cat")
        for a in arrays[1:]:
            if any(
                x != y for i, (x, y) in enumerate(zip(a.shape, arrays[0].shape)) if i != ctx.axis
            ):
                raise ValueError(
                    f"cat: shapes {arrays[0].shape} and {a.shape} differ outside dim {dim}"
                )
        ctx.sizes = [a.shape[ctx.axis] for a in arrays]
        return np.concatenate(arrays, axis=ctx.axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        bounds = np.cumsum(ctx.sizes)[:-1]
        return tuple(np.split(grad, bounds, axis=ctx.axis))


class Stack(Function):
    @staticmethod
    def forward(ctx: Context, *arrays: np.ndarray, dim: int = 0) -> np.ndarray:
        _check_same(arrays, "stack")
        if any(a.shape != arrays[0].shape for a in arrays):
            raise ValueError(f"stack: all shapes must be equal, got {[a.shape for a in arrays]}")
        ctx.axis = normalize_dim(dim, arrays[0].ndim + 1, "stack")
        return np.stack(arrays, axis=ctx.axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        return tuple(np.moveaxis(grad, ctx.axis, 0))


def _check_same(arrays: tuple, op: str) -> None:
    if not arrays:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    if len({a.dtype for a in arrays}) > 1:
        raise TypeError(f"{op}: all tensors must share one dtype, got {sorted({str(a.dtype) for a in arrays})}")


# -- conveniences written with the ops above (no gradient code of their own) ---------------------


def cat(tensors: Sequence, dim: int = 0):
    """Join tensors along an existing dim."""
    return Cat.apply(*tensors, dim=dim)


def stack(tensors: Sequence, dim: int = 0):
    """Join same-shaped tensors along a new dim."""
    return Stack.apply(*tensors, dim=dim)


def transpose(x, dim0: int, dim1: int):
    dims = list(range(x.ndim))
    a, b = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    if x.ndim == 0:  # transpose(0, -1) of a 0-d tensor: nothing to swap, as in PyTorch
        return Permute.apply(x, dims=())
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, dims=tuple(dims))


def flatten(x, start_dim: int = 0, end_dim: int = -1):
    if x.ndim == 0:
        return Reshape.apply(x, shape=(1,))
    s, e = normalize_dim(start_dim, x.ndim, "flatten"), normalize_dim(end_dim, x.ndim, "flatten")
    shape = x.shape[:s] + (math.prod(x.shape[s : e + 1]),) + x.shape[e + 1 :]
    return Reshape.apply(x, shape=shape)


def unsqueeze(x, dim: int):
    axis = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return Reshape.apply(x, shape=x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, dim: int | Sequence[int] | None = None):
    """Drop the size-1 dims: all of them, or those among dim (an int or several; others stay, as PyTorch)."""
    if dim is None:
        return Reshape.apply(x, shape=tuple(n for n in x.shape if n != 1))
    drop = {axis for axis in normalize_dims(dim, x.ndim, "squeeze") if x.shape[axis] == 1}
    if not drop:
        return x  # as PyTorch: squeezing a dim that is not 1 is a no-op
    return Reshape.apply(x, shape=tuple(n for axis, n in enumerate(x.shape) if axis not in drop))


def split(x, split_size: int | Sequence[int], dim: int = 0) -> list:
    """Pieces of `split_size` along dim (the last may be smaller), or of the listed sizes."""
    axis = normalize_dim(dim, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size, int | np.integer):
        if split_size <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size}")
        sizes = [min(split_size, n - start) for start in range(0, n, split_size)]
    else:
        sizes = list(split_size)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim} of {x.shape})")
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(GetItem.apply(x, index=index))
        start += size
    return pieces


def chunk(x, chunks: int, dim: int = 0) -> list:
    """`chunks` pieces of ceil(n / chunks) along dim, as torch.chunk."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[normalize_dim(dim, x.ndim, "chunk")]
    return split(x, max(math.ceil(n / chunks), 1), dim)
