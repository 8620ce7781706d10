"""Softmax, log-softmax and GELU: a composed version (built from primitive ops, for reading)
beside a fused `Function` with a hand-derived backward (what training uses).

The two are tested equal to each other and to PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops import normalize_dim
from minigrad.tensor import Tensor

# -- softmax --------------------------------------------------------------------------------------


def softmax_composed(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j (for stability)."""
    shifted = x - Tensor(x.data.max(axis=dim, keepdims=True))  # a constant: no gradient needed
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


class Softmax(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int = -1) -> np.ndarray:
        ctx.axis = normalize_dim(dim, x.ndim, "softmax")
        e = np.exp(x - x.max(axis=ctx.axis, keepdims=True))
        y = e / e.sum(axis=ctx.axis, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # dL/dx_i = y_i (g_i - sum_j g_j y_j): the Jacobian diag(y) - y y^T applied to g
        (y,) = ctx.saved_tensors
        return y * (grad - (grad * y).sum(axis=ctx.axis, keepdims=True))


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """y = exp(x) / sum(exp(x), dim);  any shape -> same shape."""
    return Softmax.apply(x, dim=dim)


# -- log-softmax ----------------------------------------------------------------------------------


def log_softmax_composed(x: Tensor, dim: int = -1) -> Tensor:
    """log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)."""
    shifted = x - Tensor(x.data.max(axis=dim, keepdims=True))
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int = -1) -> np.ndarray:
        ctx.axis = normalize_dim(dim, x.ndim, "log_softmax")
        shifted = x - x.max(axis=ctx.axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=ctx.axis, keepdims=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # dL/dx_i = g_i - softmax(x)_i * sum_j g_j
        (y,) = ctx.saved_tensors
        return grad - np.exp(y) * grad.sum(axis=ctx.axis, keepdims=True)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """y = x - log(sum(exp(x), dim));  any shape -> same shape."""
    return LogSoftmax.apply(x, dim=dim)


# -- GELU -----------------------------------------------------------------------------------------

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)  # a Python float: it cannot upcast float32 arrays
_GELU_COEF = 0.044715


def gelu_composed(x: Tensor) -> Tensor:
    """The tutorial's NewGELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + (_SQRT_2_OVER_PI * (x + _GELU_COEF * (x * x * x))).tanh())


class GeluTanh(Function):
    """0.5 x (1 + tanh(u)) computed as x * sigmoid(2u), the same function, u = sqrt(2/pi) (x + 0.044715 x^3).

    The sigmoid form gives backward's s = sigmoid(2u) directly. (Whether NumPy's float32 exp or
    tanh is faster depends on the CPU: on an AVX-512 EPYC, tanh took 23 us and exp 30 us per 64K values.)"""

    CHUNK = 1 << 16  # elements per pass: the temporaries of a chunk stay in the CPU cache

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        x = x if x.flags.c_contiguous else np.ascontiguousarray(x)  # (ascontiguousarray makes 0-d 1-d)
        y = np.empty_like(x)
        s = np.empty_like(x) if any(ctx.needs_input_grad) else None  # sigmoid(2u), for backward
        flat_x, flat_y = x.reshape(-1), y.reshape(-1)  # views, taken a chunk at a time
        e = np.empty(min(flat_x.size, GeluTanh.CHUNK), dtype=x.dtype)
        for start in range(0, flat_x.size, GeluTanh.CHUNK):
            xc = flat_x[start:start + GeluTanh.CHUNK]
            ec = e[:xc.size]
            np.multiply(xc, xc, out=ec)  # x ** 3 would take NumPy's slow power path
            ec *= -2.0 * _SQRT_2_OVER_PI * _GELU_COEF
            ec += -2.0 * _SQRT_2_OVER_PI
            ec *= xc  # -2u
            with np.errstate(over="ignore"):  # exp(-2u) = inf for x << 0 gives s = 0, y = -0: right
                np.exp(ec, out=ec)
            ec += 1.0
            sc = np.divide(1.0, ec, out=ec if s is None else s.reshape(-1)[start:start + xc.size])  # sigmoid(2u)
            np.multiply(xc, sc, out=flat_y[start:start + xc.size])
        ctx.save_for_backward(x, s)
        return y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # d/dx x s = s + x s' ,  s' = 2 s (1 - s) du/dx ,  du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        x, s = ctx.saved_tensors
        d = np.multiply(x, x, out=np.empty_like(x))
        d *= 2.0 * _SQRT_2_OVER_PI * 3.0 * _GELU_COEF
        d += 2.0 * _SQRT_2_OVER_PI  # 2 du/dx
        d *= x
        d *= s
        d *= 1.0 - s  # x s'
        d += s
        d *= grad
        return d


_erf = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; exact, slow, used only for "none"


class GeluErf(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        erf = np.asarray(_erf(x / math.sqrt(2.0)), dtype=np.float64)  # frompyfunc gives objects
        cdf = (0.5 * (1.0 + erf)).astype(x.dtype)  # Phi(x)
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        # d/dx x Phi(x) = Phi(x) + x phi(x)
        x, cdf = ctx.saved_tensors
        pdf = np.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
        return grad * (cdf + x * pdf)


def gelu(x: Tensor, approximate: str = "tanh") -> Tensor:
    """y = x Phi(x); "tanh" is the tutorial's approximation, "none" the exact erf form."""
    if approximate == "tanh":
        return GeluTanh.apply(x)
    if approximate == "none":
        return GeluErf.apply(x)
    raise ValueError(f'gelu: approximate must be "tanh" or "none", got {approximate!r}')


def relu(x: Tensor) -> Tensor:
    """y = max(x, 0)."""
    return x.relu()
