"""Tensor methods that PyTorch has as other spellings of an operator or as conveniences:
`x.add(y)` is `x + y`, `x.pow(c)` is `x ** c`, `x.softmax(dim)` is `F.softmax(x, dim)`, and
`x.var()` is composed from mean and sum (no gradient code of its own), `x.log10()` is log(x) / log(10).

Each is one line of dispatch. `Tensor` (minigrad/tensor.py) inherits them; they are here to keep
that file about the Tensor itself.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from minigrad import ops

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


def dim_aliases(fn: Callable) -> Callable:
    """fn, also taking NumPy's names axis= for dim= and keepdims= for keepdim=, as PyTorch does everywhere."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        for alias, name in (("axis", "dim"), ("keepdims", "keepdim")):
            if alias in kwargs:
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}: got both {name}= and its alias {alias}=; give one")
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)
    return call


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

    @dim_aliases
    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        """sum((x - mean)^2) / (N - correction) over dim; correction 1 (Bessel's) unless told."""
        return ops.var(self, dim, unbiased, keepdim, correction)

    @dim_aliases
    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        """sqrt(var(x))."""
        return ops.std(self, dim, unbiased, keepdim, correction)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along dim, that dim removed: (n, ...) -> n x (...) (views, as PyTorch's)."""
        axis = ops.normalize_dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * axis + (i,)] for i in range(self.shape[axis]))

    @dim_aliases
    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """True where every element (along dim) is nonzero; a bool tensor, outside the graph."""
        return _logical(np.all, self, dim, keepdim, "all")

    @dim_aliases
    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """True where some element (along dim) is nonzero; a bool tensor, outside the graph."""
        return _logical(np.any, self, dim, keepdim, "any")

    def nelement(self) -> int:
        return self.numel()

    def t(self) -> Tensor:
        """The transpose of a matrix; a vector or a 0-d tensor as it is."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dimensions, got one of shape {self.shape}; "
                             "use transpose(dim0, dim1) or permute")
        return ops.transpose(self, 0, 1) if self.ndim == 2 else ops.Reshape.apply(self, shape=self.shape)

    # -- more elementwise math: ops of their own, or the ops above with a constant ------------------
    def sin(self) -> Tensor:
        return ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return ops.Cos.apply(self)

    def log1p(self) -> Tensor:
        """log(1 + x), exact for small x."""
        return ops.Log1p.apply(self)

    def expm1(self) -> Tensor:
        """e^x - 1, exact for small x."""
        return ops.Expm1.apply(self)

    def log10(self) -> Tensor:
        """log(x) / log(10)."""
        return self.log() / math.log(10)

    def log2(self) -> Tensor:
        """log(x) / log(2)."""
        return self.log() / math.log(2)

    def exp2(self) -> Tensor:
        """2^x (2.0: an integer x gives float32, as in PyTorch)."""
        return 2.0**self

    def square(self) -> Tensor:
        """x * x (a bool tensor squares as int64, as in PyTorch)."""
        x = self.to(np.int64) if self.dtype == np.bool_ else self
        return x * x

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x), as x^-0.5."""
        return self**-0.5

    def sign(self) -> Tensor:
        """-1, 0 or 1 by the sign of x; gradient 0."""
        return ops.Step.apply(self, fn="sign")

    def floor(self) -> Tensor:
        return ops.Step.apply(self, fn="floor")

    def ceil(self) -> Tensor:
        return ops.Step.apply(self, fn="ceil")

    def trunc(self) -> Tensor:
        return ops.Step.apply(self, fn="trunc")

    def round(self, *, decimals: int = 0) -> Tensor:
        """x rounded to `decimals` digits, halves to even; gradient 0."""
        return ops.Step.apply(self, fn="round", decimals=decimals)

    def maximum(self, other: Any) -> Tensor:
        """max(x, other) elementwise; a tie gives each half the gradient."""
        return ops.Maximum.apply(self, self._operand(other))

    def minimum(self, other: Any) -> Tensor:
        """min(x, other) elementwise; a tie gives each half the gradient."""
        return ops.Maximum.apply(self, self._operand(other), smallest=True)

    def where(self, condition: Any, other: Any) -> Tensor:
        """x where condition, else other (torch.where(condition, x, other))."""
        from minigrad.functions import where  # lazy: minigrad.functions imports Tensor

        return where(condition, self, other)

    @dim_aliases
    def cumsum(self, dim: int, *, dtype: Any = None) -> Tensor:
        """out_i = x_1 + ... + x_i along dim."""
        return ops.CumSum.apply(self if dtype is None else self.to(dtype), dim=dim)

    @dim_aliases
    def prod(self, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        """The product of all elements, or along dim."""
        if dim is not None and not isinstance(dim, int | np.integer):
            raise TypeError(f"prod: dim must be one int, got {dim!r} (PyTorch's prod reduces one dim at a time)")
        return ops.Prod.apply(self if dtype is None else self.to(dtype), dim=dim, keepdim=keepdim)

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
