"""Comparisons and logical reductions, as torch's functions: eq / ne / lt / le / gt / ge, isclose, allclose,
equal, all, any, count_nonzero. Their results are bool (or int64 counts, or Python bools): no gradients.

Comparing mixed dtypes is allowed (PyTorch compares float32 with float64 in float64): a comparison has
no result dtype for the "no silent upcast" rule to protect.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from minigrad.creation import write_out
from minigrad.ops import normalize_dims
from minigrad.tensor import Tensor


def _array(x: Any, op: str, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, bool | int | float | np.number | np.bool_):
        return np.asarray(x)
    raise TypeError(f"{op}: {name} must be a Tensor or a number, got {type(x).__name__}")


def _elementwise(op: str, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., Tensor]:
    def compare(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
        a, b = _array(input, op, "input"), _array(other, op, "other")
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{op}: the shapes of input {a.shape} and other {b.shape} do not broadcast") from None
        result = np.asarray(fn(a, b)).reshape(shape)
        return write_out(result, out, op) if out is not None else Tensor(result)

    compare.__name__ = compare.__qualname__ = op
    compare.__doc__ = f"input {fn.__name__} other, elementwise with broadcasting: a bool tensor."
    return compare


eq = _elementwise("eq", np.equal)
ne = _elementwise("ne", np.not_equal)
lt = _elementwise("lt", np.less)
le = _elementwise("le", np.less_equal)
gt = _elementwise("gt", np.greater)
ge = _elementwise("ge", np.greater_equal)
# PyTorch's aliases
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _close(op: str, input: Tensor, other: Tensor, rtol: float, atol: float, equal_nan: bool) -> np.ndarray:
    a, b = _array(input, op, "input"), _array(other, op, "other")
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
    if a.dtype != b.dtype:  # PyTorch refuses too ("Float did not match Double")
        raise TypeError(f"{op}: input has dtype {a.dtype}, other has dtype {b.dtype}; they must match")
    if rtol < 0 or atol < 0:
        raise ValueError(f"{op}: rtol ({rtol}) and atol ({atol}) must be >= 0")
    if a.dtype == np.bool_:
        return np.equal(a, b)
    if a.dtype.kind in "iu":  # |a - b| in double: no wrap-around of integer differences
        a, b = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol |other|, elementwise (inf equals inf of its sign): a bool tensor."""
    return Tensor(np.asarray(_close("isclose", input, other, rtol, atol, equal_nan)))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """isclose(input, other).all(), as a Python bool."""
    return bool(np.all(_close("allclose", input, other, rtol, atol, equal_nan)))


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both have the same shape and the same values (NaN is not equal to itself)."""
    a, b = _array(input, "equal", "input"), _array(other, "equal", "other")
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _logical(fn: Callable, op: str, input: Tensor, dim: Any, keepdim: bool, out: Tensor | None) -> Tensor:
    x = _array(input, op, "input")
    result = np.asarray(fn(x, axis=normalize_dims(dim, x.ndim, op), keepdims=keepdim))
    if x.dtype == np.uint8:  # PyTorch keeps uint8 for all / any of a uint8 tensor
        result = result.astype(np.uint8)
    return write_out(result, out, op) if out is not None else Tensor(result)


def all(input: Tensor, dim: Any = None, keepdim: bool = False, *, out: Tensor | None = None) -> Tensor:  # noqa: A001
    """True where every element (along dim) is nonzero: bool (uint8 for a uint8 input)."""
    return _logical(np.all, "all", input, dim, keepdim, out)


def any(input: Tensor, dim: Any = None, keepdim: bool = False, *, out: Tensor | None = None) -> Tensor:  # noqa: A001
    """True where some element (along dim) is nonzero: bool (uint8 for a uint8 input)."""
    return _logical(np.any, "any", input, dim, keepdim, out)


def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """The number of nonzero elements (along dim): int64."""
    x = _array(input, "count_nonzero", "input")
    axes = None if dim is None else normalize_dims(dim, x.ndim, "count_nonzero")
    return Tensor(np.asarray(np.count_nonzero(x, axis=axes), dtype=np.int64))


__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal", "isclose",
           "allclose", "equal", "all", "any", "count_nonzero"]
