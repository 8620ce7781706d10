"""PyTorch's top-level math functions (`torch.matmul`, `torch.max`, `torch.softmax`, ...).

Layout: `torch.*` math is here (creation.py, ranges.py, sampling.py, compare.py, sorting.py hold the rest);
`torch.nn.functional.*` is minigrad/functional/, which this module calls and which never imports it.

Each takes tensors (or NumPy arrays and numbers, as PyTorch code passes `outputs.data` or a
constant) and dispatches to the Tensor method or functional op of the same name: the math and
its gradient live there.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minigrad import ops
from minigrad import functional as F  # torch.softmax and torch.log_softmax call F's
from minigrad.creation import as_tensor, write_out
from minigrad.tensor import MaxResult, MinResult, Tensor
from minigrad.tensor_methods import dim_aliases


def _t(x: Any) -> Tensor:
    """A Tensor as it is; an array shares its memory and dtype; Python data as minigrad.tensor reads it."""
    return x if isinstance(x, Tensor) else as_tensor(x)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Any) -> int:
    return _t(input).numel()


def _into(result: Tensor, out: Tensor | None, op: str) -> Tensor:
    """The result, or (out= given) written into out, as PyTorch: only outside autograd."""
    if out is None:
        return result
    if result.requires_grad:
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad")
    return write_out(result._data, out, op)


# -- elementwise ----------------------------------------------------------------------------------
def add(input: Any, other: Any, *, alpha: float = 1, out: Tensor | None = None) -> Tensor:
    return _into(_t(input).add(other, alpha=alpha), out, "add")


def sub(input: Any, other: Any, *, alpha: float = 1, out: Tensor | None = None) -> Tensor:
    return _into(_t(input).sub(other, alpha=alpha), out, "sub")


def mul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    return _into(_t(input) * other, out, "mul")


def div(input: Any, other: Any, *, rounding_mode: str | None = None, out: Tensor | None = None) -> Tensor:
    return _into(_t(input).div(other, rounding_mode=rounding_mode), out, "div")


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001  (torch.pow)
    """input ** exponent; input may be a number when exponent is a tensor."""
    if not isinstance(input, Tensor) and isinstance(exponent, Tensor):
        return input**exponent  # Tensor.__rpow__: the number takes the exponent's dtype
    return _t(input) ** exponent


def neg(input: Any) -> Tensor:
    return -_t(input)


def exp(input: Any) -> Tensor:
    return _t(input).exp()


def log(input: Any) -> Tensor:
    return _t(input).log()


def sqrt(input: Any) -> Tensor:
    return _t(input).sqrt()


def tanh(input: Any) -> Tensor:
    return _t(input).tanh()


def sigmoid(input: Any) -> Tensor:
    return _t(input).sigmoid()


def relu(input: Any) -> Tensor:
    return _t(input).relu()


def abs(input: Any) -> Tensor:  # noqa: A001  (torch.abs)
    return _t(input).abs()


def sin(input: Any) -> Tensor:
    return _t(input).sin()


def cos(input: Any) -> Tensor:
    return _t(input).cos()


def log10(input: Any) -> Tensor:
    return _t(input).log10()


def log2(input: Any) -> Tensor:
    return _t(input).log2()


def log1p(input: Any) -> Tensor:
    return _t(input).log1p()


def expm1(input: Any) -> Tensor:
    return _t(input).expm1()


def exp2(input: Any) -> Tensor:
    return _t(input).exp2()


def square(input: Any) -> Tensor:
    return _t(input).square()


def rsqrt(input: Any) -> Tensor:
    return _t(input).rsqrt()


def sign(input: Any) -> Tensor:
    return _t(input).sign()


def floor(input: Any) -> Tensor:
    return _t(input).floor()


def ceil(input: Any) -> Tensor:
    return _t(input).ceil()


def trunc(input: Any) -> Tensor:
    return _t(input).trunc()


def round(input: Any, *, decimals: int = 0) -> Tensor:  # noqa: A001  (torch.round)
    return _t(input).round(decimals=decimals)


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002  (PyTorch's names)
    return _t(input).clamp(min, max)


clip = clamp


def maximum(input: Any, other: Any) -> Tensor:
    """max(input, other) elementwise; a tie gives each half the gradient."""
    return _t(input).maximum(_t(other))


def minimum(input: Any, other: Any) -> Tensor:
    return _t(input).minimum(_t(other))


def where(condition: Any, input: Any = None, other: Any = None) -> Tensor | tuple[Tensor, ...]:
    """input where condition, else other (differentiable in both); where(condition) alone: the indices
    of its nonzero elements, one int64 tensor per dim."""
    cond = _t(condition)
    if input is None and other is None:
        return tuple(Tensor(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(cond._data)))
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither (where(condition) gives indices)")
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}; compare first (x > 0)")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input, other = _t(input), _t(other)  # two numbers: the dtype minigrad.tensor gives them
    a = input if isinstance(input, Tensor) else other._operand(input)
    b = other if isinstance(other, Tensor) else input._operand(other)
    return ops.Where.apply(a, b, condition=cond._data)


# -- products -------------------------------------------------------------------------------------
def matmul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """input @ other, with NumPy's (and PyTorch's) rules for 1-d operands and batch dims."""
    return _into(_t(input) @ _t(other), out, "matmul")


def unbind(input: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of input along dim, that dim removed: (n, ...) -> n x (...)."""
    return _t(input).unbind(dim)


def mm(input: Any, mat2: Any) -> Tensor:
    """(n, m) @ (m, p), matrices only."""
    a, b = _t(input), _t(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: both operands must be matrices, got shapes {a.shape} and {b.shape}")
    return a @ b


def bmm(input: Any, mat2: Any) -> Tensor:
    """(B, n, m) @ (B, m, p), no broadcasting."""
    a, b = _t(input), _t(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expected (B, n, m) and (B, m, p) with the same B, got shapes {a.shape} and {b.shape}")
    return a @ b


# -- reductions -----------------------------------------------------------------------------------
@dim_aliases
def sum(input: Any, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,  # noqa: A001
        dtype: Any = None) -> Tensor:
    return _t(input).sum(dim, keepdim, dtype=dtype)


@dim_aliases
def mean(input: Any, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    return _t(input).mean(dim, keepdim, dtype=dtype)


@dim_aliases
def var(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    return _t(input).var(dim, unbiased, keepdim, correction=correction)


@dim_aliases
def std(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    return _t(input).std(dim, unbiased, keepdim, correction=correction)


@dim_aliases
def max(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxResult:  # noqa: A001
    """torch.max(x): the largest element; torch.max(x, dim): (values, indices) along dim;
    torch.max(x, other): the elementwise maximum."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _t(input).max(dim, keepdim)


@dim_aliases
def min(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor | MinResult:  # noqa: A001
    if isinstance(dim, Tensor):  # torch.min(x, other): the elementwise minimum
        return minimum(input, dim)
    return _t(input).min(dim, keepdim)


@dim_aliases
def argmax(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _t(input).argmax(dim, keepdim)


@dim_aliases
def argmin(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _t(input).argmin(dim, keepdim)


@dim_aliases
def softmax(input: Any, dim: int, dtype: Any = None) -> Tensor:
    return F.softmax(_t(input), dim=dim, dtype=dtype)


@dim_aliases
def log_softmax(input: Any, dim: int, dtype: Any = None) -> Tensor:
    return F.log_softmax(_t(input), dim=dim, dtype=dtype)


# -- shapes -----------------------------------------------------------------------------------------
def reshape(input: Any, shape: Sequence[int]) -> Tensor:
    return _t(input).reshape(shape)


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return _t(input).flatten(start_dim, end_dim)


def transpose(input: Any, dim0: int, dim1: int) -> Tensor:
    return _t(input).transpose(dim0, dim1)


def permute(input: Any, dims: Sequence[int]) -> Tensor:
    return _t(input).permute(dims)


def unsqueeze(input: Any, dim: int) -> Tensor:
    return _t(input).unsqueeze(dim)


def squeeze(input: Any, dim: int | Sequence[int] | None = None) -> Tensor:
    return _t(input).squeeze(dim)


def chunk(input: Any, chunks: int, dim: int = 0) -> list[Tensor]:
    return _t(input).chunk(chunks, dim)


def split(tensor: Any, split_size_or_sections: int | Sequence[int], dim: int = 0) -> list[Tensor]:
    return _t(tensor).split(split_size_or_sections, dim)


def clone(input: Any) -> Tensor:
    return _t(input).clone()


def t(input: Any) -> Tensor:
    return _t(input).t()


# -- scans and products -----------------------------------------------------------------------------
@dim_aliases
def cumsum(input: Any, dim: int, *, dtype: Any = None) -> Tensor:
    return _t(input).cumsum(dim, dtype=dtype)


@dim_aliases
def prod(input: Any, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    return _t(input).prod(dim, keepdim, dtype=dtype)
