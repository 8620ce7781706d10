"""More elementwise math, each forward beside its backward: sin, cos, log1p, expm1, erf, and the
piecewise-constant functions (sign, floor, ceil, round, trunc).

log10, log2, square, rsqrt and exp2 need no op of their own: they are Log, Mul, PowScalar and Pow
with a constant (see minigrad/tensor_methods.py).
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context, Function


class Sin(Function):
    computes_in_float = True

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        return grad * np.cos(a)  # d sin(a)/da = cos(a)


class Cos(Function):
    computes_in_float = True

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        return -grad * np.sin(a)  # d cos(a)/da = -sin(a)


class Log1p(Function):
    """log(1 + a), exact for small a (where 1 + a would round a away)."""

    computes_in_float = True

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return np.log1p(a)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        return grad / (a + a.dtype.type(1))  # typed 1: a 0-d float32 stays float32


class Expm1(Function):
    """e^a - 1, exact for small a."""

    computes_in_float = True

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        return grad * (out + out.dtype.type(1))  # d(e^a - 1)/da = e^a = out + 1


erf_each = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf: math.erf on each element, exact


def erf(a: np.ndarray) -> np.ndarray:
    """erf(a) elementwise, in float64 (a 0-d a gives a 0-d array)."""
    if not isinstance(a, np.ndarray | np.generic):  # a GraphArray (create_graph=True): the Erf op, in the graph
        return erf_each(a)
    return np.asarray(erf_each(a), dtype=np.float64)  # frompyfunc gives Python floats


class Erf(Function):
    """erf(a) = 2/sqrt(pi) * (the integral of exp(-t^2) from 0 to a): the normal CDF is (1 + erf(a / sqrt 2)) / 2."""

    computes_in_float = True

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return erf(a).astype(a.dtype)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        return grad * a.dtype.type(2 / math.sqrt(math.pi)) * np.exp(-a * a)  # d erf(a)/da = 2/sqrt(pi) e^(-a^2)


STEPS = {"sign": np.sign, "floor": np.floor, "ceil": np.ceil, "round": np.round, "trunc": np.trunc}


class Step(Function):
    """A piecewise-constant function (ctx.fn: sign, floor, ceil, round, trunc); round keeps `decimals`
    digits (half to even, as PyTorch). Its derivative is 0 wherever it exists, and PyTorch takes 0 at the jumps."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, fn: str, decimals: int = 0) -> np.ndarray:
        ctx.grad_fn_name = f"{fn.capitalize()}Backward{1 if decimals else 0}"
        if a.dtype == np.bool_ and fn != "sign":
            raise TypeError(f"{fn}: not supported for a bool tensor (as in PyTorch); convert it with .float()")
        if a.dtype.kind != "f" and (fn != "sign" or a.dtype == np.bool_):
            return a.copy()  # integers are their own floor, ceil, round and trunc (and a bool its own sign)
        if fn == "round" and decimals:
            return np.round(a, decimals)
        return STEPS[fn](a)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        return np.zeros_like(grad)
