"""Tensor methods that PyTorch has as other spellings of an operator or as conveniences:
`x.add(y)` is `x + y`, `x.pow(c)` is `x ** c`, `x.softmax(dim)` is `F.softmax(x, dim)`, and
`x.var()` is composed from mean and sum (no gradient code of its own).

Each is one line of dispatch. `Tensor` (minigrad/tensor.py) inherits them; they are here to keep
that file about the Tensor itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import ops

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


class TensorMethods:
    __slots__ = ()

    def add(self, other: Any, *, alpha: float = 1) -> Tensor:
        return self + (other if alpha == 1 else self._operand(other) * alpha)

    def sub(self, other: Any, *, alpha: float = 1) -> Tensor:
        return self - (other if alpha == 1 else self._operand(other) * alpha)

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        if rounding_mode is not None:
            raise NotImplementedError(f"div: rounding_mode={rounding_mode!r} is not supported (only true division)")
        return self / other

    def neg(self) -> Tensor:
        return -self

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def softmax(self, dim: int, dtype: Any = None) -> Tensor:
        from minigrad.functional import softmax  # lazy: minigrad.functional imports this module

        return softmax(self, dim=dim, dtype=dtype)

    def log_softmax(self, dim: int, dtype: Any = None) -> Tensor:
        from minigrad.functional import log_softmax

        return log_softmax(self, dim=dim, dtype=dtype)

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        """sum((x - mean)^2) / (N - correction) over dim; correction 1 (Bessel's) unless told."""
        return ops.var(self, dim, unbiased, keepdim, correction)

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        """sqrt(var(x))."""
        return ops.std(self, dim, unbiased, keepdim, correction)

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """True where every element (along dim) is nonzero; a bool tensor, outside the graph."""
        return _logical(np.all, self, dim, keepdim, "all")

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """True where some element (along dim) is nonzero; a bool tensor, outside the graph."""
        return _logical(np.any, self, dim, keepdim, "any")

    def __format__(self, spec: str) -> str:
        """f"{loss:.4f}" formats a one-element tensor as its number, as PyTorch does."""
        if self.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"format: spec {spec!r} needs a 0-d tensor, got one of shape {self.shape}")
        return repr(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002  (PyTorch's names)
        """min(max(x, min), max), elementwise; the gradient passes where min <= x <= max."""
        if min is None and max is None:
            raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
        bounds = [None if b is None else getattr(b, "_data", b) for b in (min, max)]
        if any(getattr(b, "requires_grad", False) for b in (min, max)):
            raise NotImplementedError("clamp: a min or max tensor that requires grad is not supported; detach() it")
        x = self
        if x.dtype.kind != "f" and any(b is not None and np.asarray(b).dtype.kind == "f" for b in bounds):
            x = x.to(np.float32)  # an integer tensor clamped to a float bound is float32, as in PyTorch
        return ops.Clamp.apply(x, lo=bounds[0], hi=bounds[1])

    clip = clamp

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        """The vector p-norm over dim (all elements by default): 2 ('fro'), 1 or inf."""
        x = self if dtype is None else self.to(dtype)
        if p in ("fro", 2, 2.0):
            return ops.Norm.apply(x, dim=dim, keepdim=keepdim)
        if p in (1, 1.0):
            return x.abs().sum(dim=dim, keepdim=keepdim)
        if p in (float("inf"), "inf"):
            if dim is None:
                return x.abs().max()
            return x.abs().max(dim=dim, keepdim=keepdim).values
        raise NotImplementedError(f"norm: p={p!r} is not supported (p = 2, 'fro', 1 or inf)")


def _logical(fn: Any, x: Tensor, dim: Any, keepdim: bool, op: str) -> Tensor:
    from minigrad.tensor import Tensor

    axes = ops.normalize_dims(dim, x.ndim, op)
    return Tensor(np.asarray(fn(x._data, axis=axes, keepdims=keepdim)))
