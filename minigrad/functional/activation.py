"""Softmax, log-softmax and GELU: a composed version (built from primitive ops, a graph to step
through) beside the reference `Function` (the formula with its hand-derived backward).

`softmax_array` and `log_softmax_array` are the softmax of minigrad's reference path: attention
and cross-entropy call them too. The two versions of each op are tested equal to each other and
to PyTorch.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops import normalize_dims
from minigrad.ops.unary import erf
from minigrad.ops.elementwise import check_float, tensor_inputs
from minigrad.tensor import Tensor

# -- softmax --------------------------------------------------------------------------------------


def softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    """exp(x - m) / sum exp(x - m) along axis, m = the max along axis: softmax without overflow."""
    e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    """(x - m) - log sum exp(x - m) along axis: log softmax without overflow or log(0)."""
    shifted = x - x.max(axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(divide="ignore"):  # log(0) only for a row with no elements (size-0 axis): nothing to return
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_composed(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j (for stability)."""
    shifted = x - Tensor(x._data.max(axis=dim, keepdims=True))  # a constant: no gradient needed
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


class Softmax(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int = -1) -> np.ndarray:
        ctx.axis = normalize_dims(dim, x.ndim, "softmax")  # (axis,), or () for a 0-d x
        y = softmax_array(x, ctx.axis)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # dL/dx_i = y_i (g_i - sum_j g_j y_j): the Jacobian diag(y) - y y^T applied to g
        (y,) = ctx.saved_tensors
        return y * (grad - (grad * y).sum(axis=ctx.axis, keepdims=True))


def _implicit_dim(op: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's legacy choice when dim is not given (with its warning): 0 for 0-, 1- and 3-d, else 1."""
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_input(op: str, x: Tensor, dim: int | None, dtype: Any, stacklevel: int) -> tuple[Tensor, int]:
    if dim is None:
        dim = _implicit_dim(op, x.ndim, stacklevel + 1)  # one frame more than PyTorch: this function
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    x = x if dtype is None else x.to(dtype)
    check_float(op, input=x._data)  # as PyTorch: an integer softmax is refused (give dtype=), not overflowed
    return x, int(dim)


@tensor_inputs("input")
def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """y = exp(x) / sum(exp(x), dim);  any shape -> same shape (dtype: cast x first)."""
    x, dim = _softmax_input("softmax", input, dim, dtype, _stacklevel)
    return Softmax.apply(x, dim=dim)


# -- log-softmax ----------------------------------------------------------------------------------


def log_softmax_composed(x: Tensor, dim: int = -1) -> Tensor:
    """log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)."""
    shifted = x - Tensor(x._data.max(axis=dim, keepdims=True))
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int = -1) -> np.ndarray:
        ctx.axis = normalize_dims(dim, x.ndim, "log_softmax")  # (axis,), or () for a 0-d x
        y = log_softmax_array(x, ctx.axis)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # dL/dx_i = g_i - softmax(x)_i * sum_j g_j
        (y,) = ctx.saved_tensors
        return grad - np.exp(y) * grad.sum(axis=ctx.axis, keepdims=True)


@tensor_inputs("input")
def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """y = x - log(sum(exp(x), dim));  any shape -> same shape (dtype: cast x first)."""
    x, dim = _softmax_input("log_softmax", input, dim, dtype, _stacklevel)
    return LogSoftmax.apply(x, dim=dim)


# -- GELU -----------------------------------------------------------------------------------------

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)  # a Python float: it cannot upcast float32 arrays
GELU_COEF = 0.044715


def _constants(x: np.ndarray, *values: float) -> tuple:
    """The constants in x's dtype: NumPy 1.x computes (a 0-d float32) * 0.5 in float64, NumPy 2 does not."""
    return tuple(x.dtype.type(v) for v in values)


def gelu_composed(x: Tensor) -> Tensor:
    """The tutorial's NewGELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + GELU_COEF * (x * x * x))).tanh())


class GeluTanh(Function):
    """y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        k, c, half, one = _constants(x, SQRT_2_OVER_PI, GELU_COEF, 0.5, 1.0)
        t = np.tanh(k * (x + c * x * x * x))  # tanh(u)
        ctx.save_for_backward(x, t)
        return half * x * (one + t)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx,  du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        x, t = ctx.saved_tensors
        k, c3, half, one = _constants(x, SQRT_2_OVER_PI, 3.0 * GELU_COEF, 0.5, 1.0)
        du_dx = k * (one + c3 * x * x)
        return grad * (half * (one + t) + half * x * (one - t * t) * du_dx)


class GeluErf(Function):
    """y = x Phi(x), Phi the standard normal CDF: Phi(x) = (1 + erf(x / sqrt(2))) / 2."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        cdf = (0.5 * (1.0 + erf(x / math.sqrt(2.0)))).astype(x.dtype)  # Phi(x), computed in float64
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # d/dx x Phi(x) = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
        x, cdf = ctx.saved_tensors
        half, inv_sqrt_2pi = _constants(x, 0.5, 1.0 / math.sqrt(2.0 * math.pi))
        pdf = np.exp(-half * x * x) * inv_sqrt_2pi
        return grad * (cdf + x * pdf)


@tensor_inputs("input")
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """y = x Phi(x); "none" is the exact erf form (PyTorch's default), "tanh" the tutorial's approximation."""
    check_float("gelu", input=input._data)
    if approximate == "tanh":
        return GeluTanh.apply(input)
    if approximate == "none":
        return GeluErf.apply(input)
    raise ValueError(f'gelu: approximate must be "tanh" or "none", got {approximate!r}')


@tensor_inputs("input")
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = max(x, 0) (inplace=True is accepted and computed out of place: a new tensor, same values)."""
    return input.relu()


@tensor_inputs("input")
def tanh(input: Tensor) -> Tensor:
    """y = tanh(x);  (...) -> (...): Tensor.tanh, whose op is ops.elementwise.Tanh."""
    return input.tanh()


@tensor_inputs("input")
def sigmoid(input: Tensor) -> Tensor:
    """y = 1 / (1 + exp(-x));  (...) -> (...): Tensor.sigmoid, whose op is ops.elementwise.Sigmoid."""
    return input.sigmoid()


# -- log-sigmoid ------------------------------------------------------------------------------------


class LogSigmoid(Function):
    """y = log(1 / (1 + e^-x)) = min(x, 0) - log(1 + e^-|x|): never exp of a large number, never log(0)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        # e = e^-|x| in (0, 1], -|x| written as x * (-1 where x >= 0, else 1): under create_graph np.abs would be
        # the Abs op, whose derivative at x = 0 is 0, not -1, and the second derivative there would be lost
        one, two = x.dtype.type(1), x.dtype.type(2)
        e = np.exp(x * (one - two * (x >= 0)))
        ctx.save_for_backward(x, e)
        return np.minimum(x, x.dtype.type(0)) - np.log1p(e)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # dy/dx = 1 - sigmoid(x) = sigmoid(-x): e / (1 + e) for x >= 0, 1 / (1 + e) for x < 0 (e = e^-|x|)
        x, e = ctx.saved_tensors
        one = x.dtype.type(1)
        return grad * np.where(x >= 0, e, one) / (one + e)


@tensor_inputs("input")
def logsigmoid(input: Tensor) -> Tensor:
    """y = log sigmoid(x), computed stably;  (...) -> (...)."""
    check_float("logsigmoid", input=input._data)
    return LogSigmoid.apply(input)
