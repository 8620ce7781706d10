"""Elementwise ops: each forward beside its backward.

Binary ops return gradients with the *broadcast* shape; the engine sums them back to each
input's shape once (`engine.unbroadcast`), so no op here re-derives broadcasting.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import numpy as np

from minigrad.engine import Context, Function


def check_dtypes(op: str, a: np.ndarray, b: np.ndarray, names: str = "", exact: bool = False) -> None:
    """Two float dtypes must agree: NumPy would silently upcast float32 to float64. exact=True: any two
    dtypes must agree (PyTorch's rule for linear, whose int with float it refuses). names: e.g. "input vs weight"."""
    if a.dtype != b.dtype and (exact or (a.dtype.kind == "f" and b.dtype.kind == "f")):
        raise TypeError(
            f"{op}: dtype mismatch {a.dtype} vs {b.dtype}{f' ({names})' if names else ''}; minigrad never "
            "upcasts silently, convert one side with .float() or .double()"
        )


def check_float(op: str, **arrays: np.ndarray | None) -> None:
    """Each named array (None: an absent optional argument) must be floating point, as PyTorch requires
    of these ops: NumPy would compute an integer input in integers (gelu gives zeros) or in float64."""
    for name, a in arrays.items():
        if a is not None and a.dtype.kind != "f":
            raise TypeError(f"{op}: needs a floating-point tensor, got {name} of dtype {a.dtype}; "
                            "convert with .float()")


def tensor_inputs(*names: str) -> Callable[[Callable], Callable]:
    """Decorator of an nn.functional op: each named argument must be a Tensor (or None), as PyTorch requires;
    a NumPy array or a list is refused naming the op and the argument, in PyTorch's words."""
    def decorate(fn: Callable) -> Callable:
        params = list(inspect.signature(fn).parameters)

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            from minigrad.tensor import Tensor

            for name in names:
                i = params.index(name)
                value = args[i] if i < len(args) else kwargs.get(name)
                if value is not None and not isinstance(value, Tensor):
                    kind = "numpy.ndarray" if isinstance(value, np.ndarray) else type(value).__name__
                    raise TypeError(f"{fn.__name__}(): argument '{name}' (position {i + 1}) must be Tensor, not {kind}"
                                    " (wrap an array with minigrad.from_numpy)")
            return fn(*args, **kwargs)
        return checked
    return decorate


def promote(a: np.ndarray, b: np.ndarray, true_divide: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """int/bool mixed with a float takes that float dtype (as torch), never NumPy's float64."""
    if a.dtype.kind != "f" and b.dtype.kind == "f":
        return a.astype(b.dtype), b
    if b.dtype.kind != "f" and a.dtype.kind == "f":
        return a, b.astype(a.dtype)
    if true_divide and a.dtype.kind != "f":
        return a.astype(np.float32), b.astype(np.float32)
    return a, b


def check_binary(op: str, a: np.ndarray, b: np.ndarray) -> None:
    """Clear errors for the two mistakes NumPy would hide or word obscurely."""
    check_dtypes(op, a, b)
    if a.shape != b.shape:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together"
            ) from None


# -- binary -------------------------------------------------------------------------------------


class Add(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_binary("add", a, b)
        a, b = promote(a, b)
        return a + b

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        return grad, grad  # d(a+b)/da = d(a+b)/db = 1


class Sub(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_binary("sub", a, b)
        if a.dtype == np.bool_ or b.dtype == np.bool_:
            raise TypeError("sub: subtracting with a bool tensor is not supported (as in PyTorch); "
                            "to invert a mask use ~ or logical_not()")
        a, b = promote(a, b)
        return a - b

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        return grad, -grad


class Mul(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_binary("mul", a, b)
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        a, b = ctx.saved_tensors
        grad_a = grad * b if ctx.needs_input_grad[0] else None
        grad_b = grad * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_binary("div", a, b)
        a, b = promote(a, b, true_divide=True)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        a, b = ctx.saved_tensors
        grad_a = grad / b if ctx.needs_input_grad[0] else None
        grad_b = -grad * a / (b * b) if ctx.needs_input_grad[1] else None  # d(a/b)/db = -a/b^2
        return grad_a, grad_b


class Pow(Function):
    """a ** b with both sides tensors: d/da = b a^(b-1), d/db = a^b log(a)."""

    grad_fn_name = "PowBackward1"

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_binary("pow", a, b)
        a, b = promote(a, b)
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        a, b, out = ctx.saved_tensors
        grad_a = None
        if ctx.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                zero, one = grad.dtype.type(0), b.dtype.type(1)  # typed: NumPy 1.x makes 0-d float32 - 1 float64
                grad_a = np.where(b == 0, zero, grad * b * a ** (b - one))  # 0 where b == 0, as torch
        grad_b = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):  # log of a < 0 is NaN, as in PyTorch
                grad_b = grad * np.where((a == 0) & (b >= 0), grad.dtype.type(0), out * np.log(a))  # 0 at 0^b, b >= 0
        return grad_a, grad_b


class PowScalar(Function):
    """a ** c for a constant c: d/da = c a^(c-1)."""

    grad_fn_name = "PowBackward0"

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, exponent: float) -> np.ndarray:
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return a ** a.dtype.type(exponent)  # a.dtype.type: a float32 tensor stays float32

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        c = a.dtype.type(ctx.exponent)
        if c == 0:
            return np.zeros_like(grad)  # a**0 is constant, also at a == 0 (where a**-1 is inf)
        return grad * c * a ** a.dtype.type(ctx.exponent - 1)  # not c - 1: NumPy 1.26 makes that float64


# -- unary --------------------------------------------------------------------------------------


class Neg(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        return -a

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return -grad


class Exp(Function):
    computes_in_float = True
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        return grad * out  # d exp(a)/da = exp(a)


class Log(Function):
    computes_in_float = True
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        return grad / a


class Tanh(Function):
    computes_in_float = True
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        one = out.dtype.type(1)  # typed: NumPy 1.x makes 1 - (a 0-d float32) float64
        return grad * (one - out * out)  # d tanh(a)/da = 1 - tanh(a)^2


class Sqrt(Function):
    computes_in_float = True
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        two = out.dtype.type(2)  # typed: NumPy 1.x makes 2 * (a 0-d float32) float64
        return grad / (two * out)  # d sqrt(a)/da = 1 / (2 sqrt(a))


class Relu(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        mask = a > 0
        ctx.save_for_backward(mask)
        return a * mask

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (mask,) = ctx.saved_tensors
        return grad * mask  # 1 where a > 0, else 0 (PyTorch's choice at a == 0)


class Sigmoid(Function):
    computes_in_float = True
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        one = a.dtype.type(1)  # typed: NumPy 1.x makes 1 + (a 0-d float32) float64
        e = np.exp(-np.abs(a))  # in (0, 1]: never overflows
        out = np.where(a >= 0, one / (one + e), e / (one + e))  # keeps relative precision for a << 0
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        return grad * out * (out.dtype.type(1) - out)  # typed 1: see forward


class Abs(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(np.sign(a))
        return np.abs(a)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (sign,) = ctx.saved_tensors
        return grad * sign


class Clamp(Function):
    """min(max(a, lo), hi) for constant bounds: the gradient passes where lo <= a <= hi (both ends included,
    as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, lo: Any = None, hi: Any = None) -> np.ndarray:
        inside = np.ones(a.shape, dtype=bool)
        out = a
        if lo is not None:
            inside &= a >= lo
            out = np.maximum(out, np.asarray(lo, dtype=a.dtype))
        if hi is not None:
            inside &= a <= hi
            out = np.minimum(out, np.asarray(hi, dtype=a.dtype))
        ctx.save_for_backward(inside)
        return np.array(out, dtype=a.dtype)  # a new array, also when neither bound is given

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (inside,) = ctx.saved_tensors
        return grad * inside


class Cast(Function):
    """Change dtype (copy=True: always a new array, as clone()); the gradient is cast back to the input's dtype."""

    grad_fn_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dtype: np.dtype, copy: bool = False) -> np.ndarray:
        ctx.in_dtype = a.dtype
        if copy and np.dtype(dtype) == a.dtype:
            ctx.grad_fn_name = "CloneBackward0"  # PyTorch's name for clone()
        return a.astype(dtype, copy=copy)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return grad.astype(ctx.in_dtype, copy=False)
