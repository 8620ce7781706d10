"""Tensor methods that PyTorch has as other spellings of an operator or as conveniences:
`x.add(y)` is `x + y`, `x.pow(c)` is `x ** c`, `x.softmax(dim)` is `F.softmax(x, dim)`, and
`x.var()` is composed from mean and sum (no gradient code of its own).

Each is one line of dispatch. `Tensor` (minigrad/tensor.py) inherits them; they are here to keep
that file about the Tensor itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

