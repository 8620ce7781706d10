"""PyTorch's top-level functions (`torch.matmul`, `torch.max`, `torch.softmax`, ...).

Each takes tensors (or NumPy arrays and numbers, as PyTorch code passes `outputs.data` or a
constant) and dispatches to the Tensor method or functional op of the same name: the math and
its gradient live there.
"""
from __future__ import annotations

from typing import Any, Sequence

from minigrad import functional as F
from minigrad.creation import as_tensor
from minigrad.tensor import MaxResult, MinResult, Tensor


def _t(x: Any) -> Tensor:
    """A Tensor as it is; an array shares its memory and dtype; Python data as minigrad.tensor reads it."""
    return x if isinstance(x, Tensor) else as_tensor(x)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Any) -> int:
    return _t(input).numel()


# -- elementwise ----------------------------------------------------------------------------------
def add(input: Any, other: Any, *, alpha: float = 1) -> Tensor:
    return _t(input).add(other, alpha=alpha)


def sub(input: Any, other: Any, *, alpha: float = 1) -> Tensor:
    return _t(input).sub(other, alpha=alpha)


def mul(input: Any, other: Any) -> Tensor:
    return _t(input) * other


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    return _t(input).div(other, rounding_mode=rounding_mode)


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


# -- products -------------------------------------------------------------------------------------
def matmul(input: Any, other: Any) -> Tensor:
    """input @ other, with NumPy's (and PyTorch's) rules for 1-d operands and batch dims."""
    return _t(input) @ _t(other)


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
def sum(input: Any, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,  # noqa: A001
        dtype: Any = None) -> Tensor:
    return _t(input).sum(dim, keepdim, dtype=dtype)


def mean(input: Any, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    return _t(input).mean(dim, keepdim, dtype=dtype)


def var(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    return _t(input).var(dim, unbiased, keepdim, correction=correction)


def std(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    return _t(input).std(dim, unbiased, keepdim, correction=correction)


def max(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxResult:  # noqa: A001
    """torch.max(x): the largest element; torch.max(x, dim): (values, indices) along dim."""
    return _t(input).max(dim, keepdim)


def min(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor | MinResult:  # noqa: A001
    return _t(input).min(dim, keepdim)


def argmax(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _t(input).argmax(dim, keepdim)


def argmin(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _t(input).argmin(dim, keepdim)


def softmax(input: Any, dim: int, dtype: Any = None) -> Tensor:
    return F.softmax(_t(input), dim=dim, dtype=dtype)


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
