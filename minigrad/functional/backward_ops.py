"""Backward formulas as ops of their own: their backward is a second derivative.

PyTorch writes the backward of tanh, softmax, log-softmax and GELU as ops (`aten::tanh_backward`,
`_softmax_backward_data`, `_log_softmax_backward_data`, `gelu_backward`), each with a derivative of
its own in derivatives.yaml: `torch.autograd.grad(y, x, create_graph=True)` records them
(`TanhBackwardBackward0`), and differentiating that gradient runs their backward. minigrad's
`create_graph=True` records the primitive ops of each formula instead (minigrad/graph_array.py);
these Functions are the same formulas as single ops, with the second derivative derived by hand:
the exercises' last group, graded against PyTorch's.

    dx = tanh_backward(g, y)           # g * (1 - y^2), y = tanh(x): a Tensor with a graph
    (dg, dy) = autograd.grad((dx * u).sum(), [g, y])   # TanhBackward's backward

Each takes the upstream gradient first (`grad_output`, PyTorch's name), then what the first-order
backward reads (the output y, or the input x); `*_composed` builds the same formula from primitive ops.
"""
from __future__ import annotations

import numpy as np

from minigrad.engine import Context, Function
from minigrad.functional.activation import GELU_COEF, SQRT_2_OVER_PI, _constants
from minigrad.ops import normalize_dims
from minigrad.ops.elementwise import check_float, tensor_inputs
from minigrad.tensor import Tensor


def _check_pair(op: str, grad_output: np.ndarray, other: np.ndarray, other_name: str) -> None:
    check_float(op, grad_output=grad_output, **{other_name: other})
    if grad_output.shape != other.shape or grad_output.dtype != other.dtype:
        raise ValueError(f"{op}: grad_output {grad_output.shape} {grad_output.dtype} and {other_name} {other.shape} "
                         f"{other.dtype} must have the same shape and dtype (the gradient of {other_name}'s op)")


# -- tanh: dx = g (1 - y^2) -------------------------------------------------------------------------------


class TanhBackward(Function):
    """dx = g (1 - y^2);  d/dg = grad (1 - y^2),  d/dy = -2 grad g y."""

    @staticmethod
    def forward(ctx: Context, grad_output: np.ndarray, output: np.ndarray) -> np.ndarray:
        _check_pair("tanh_backward", grad_output, output, "output")
        ctx.save_for_backward(grad_output, output)
        return grad_output * (output.dtype.type(1) - output * output)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # the op is linear in g, so d/dg is tanh's backward again, applied to grad; d(1 - y^2)/dy = -2y
        g, y = ctx.saved_tensors
        one, two = _constants(y, 1.0, 2.0)
        return grad * (one - y * y), -two * grad * g * y


@tensor_inputs("grad_output", "output")
def tanh_backward(grad_output: Tensor, output: Tensor) -> Tensor:
    """g (1 - y^2): tanh's backward at its output y = tanh(x), as aten::tanh_backward."""
    return TanhBackward.apply(grad_output, output)


def tanh_backward_composed(grad_output: Tensor, output: Tensor) -> Tensor:
    return grad_output * (1.0 - output * output)


# -- softmax: dx = y (g - sum(g y)) ------------------------------------------------------------------------


class SoftmaxBackwardData(Function):
    """dx = y (g - s), s = sum(g y) along dim;  d/dg = y (grad - sum(grad y)),
    d/dy = grad g - grad s - g sum(grad y)."""

    @staticmethod
    def forward(ctx: Context, grad_output: np.ndarray, output: np.ndarray, dim: int = -1) -> np.ndarray:
        _check_pair("softmax_backward_data", grad_output, output, "output")
        ctx.axis = normalize_dims(dim, output.ndim, "softmax_backward_data")
        ctx.save_for_backward(grad_output, output)
        return output * (grad_output - (grad_output * output).sum(axis=ctx.axis, keepdims=True))

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # linear in g: d/dg is softmax's backward of grad. y appears three times: y_i g_i, y_i s and inside s
        g, y = ctx.saved_tensors
        s = (g * y).sum(axis=ctx.axis, keepdims=True)
        grad_dot_y = (grad * y).sum(axis=ctx.axis, keepdims=True)
        return y * (grad - grad_dot_y), grad * g - grad * s - g * grad_dot_y


@tensor_inputs("grad_output", "output")
def softmax_backward_data(grad_output: Tensor, output: Tensor, dim: int = -1) -> Tensor:
    """y (g - sum(g y, dim)): softmax's backward at its output y, as aten::_softmax_backward_data."""
    return SoftmaxBackwardData.apply(grad_output, output, dim=dim)


def softmax_backward_data_composed(grad_output: Tensor, output: Tensor, dim: int = -1) -> Tensor:
    return output * (grad_output - (grad_output * output).sum(dim=dim, keepdim=True))


# -- log-softmax: dx = g - exp(y) sum(g) ---------------------------------------------------------------------


class LogSoftmaxBackwardData(Function):
    """dx = g - e^y sum(g) along dim;  d/dg = grad - sum(grad e^y),  d/dy = -grad e^y sum(g)."""

    @staticmethod
    def forward(ctx: Context, grad_output: np.ndarray, output: np.ndarray, dim: int = -1) -> np.ndarray:
        _check_pair("log_softmax_backward_data", grad_output, output, "output")
        ctx.axis = normalize_dims(dim, output.ndim, "log_softmax_backward_data")
        ctx.save_for_backward(grad_output, output)
        return grad_output - np.exp(output) * grad_output.sum(axis=ctx.axis, keepdims=True)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # dx_i/dg_j = delta_ij - p_i and dx_i/dy_j = -delta_ij p_i sum(g), p = e^y = softmax(x)
        g, y = ctx.saved_tensors
        p = np.exp(y)
        grad_g = grad - (grad * p).sum(axis=ctx.axis, keepdims=True)
        return grad_g, -grad * p * g.sum(axis=ctx.axis, keepdims=True)


@tensor_inputs("grad_output", "output")
def log_softmax_backward_data(grad_output: Tensor, output: Tensor, dim: int = -1) -> Tensor:
    """g - exp(y) sum(g, dim): log-softmax's backward at its output y, as aten::_log_softmax_backward_data."""
    return LogSoftmaxBackwardData.apply(grad_output, output, dim=dim)


def log_softmax_backward_data_composed(grad_output: Tensor, output: Tensor, dim: int = -1) -> Tensor:
    return grad_output - output.exp() * grad_output.sum(dim=dim, keepdim=True)


# -- GELU, tanh form: dx = g gelu'(x) -----------------------------------------------------------------------


class GeluTanhBackward(Function):
    """dx = g gelu'(x),  gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) u',  t = tanh(u),  u = k (x + c x^3);
    d/dg = grad gelu'(x),  d/dx = grad g gelu''(x),  gelu''(x) = (1 - t^2) (u' - x t u'^2 + 3 k c x^2)."""

    @staticmethod
    def forward(ctx: Context, grad_output: np.ndarray, input: np.ndarray) -> np.ndarray:
        _check_pair("gelu_backward", grad_output, input, "input")
        x = input
        k, c, c3, half, one = _constants(x, SQRT_2_OVER_PI, GELU_COEF, 3.0 * GELU_COEF, 0.5, 1.0)
        t = np.tanh(k * (x + c * x * x * x))  # tanh(u)
        ctx.save_for_backward(grad_output, x, t)
        du_dx = k * (one + c3 * x * x)
        return grad_output * (half * (one + t) + half * x * (one - t * t) * du_dx)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # gelu'' by the product rule on both terms of gelu', with dt/dx = (1 - t^2) u' and u'' = 6 k c x
        g, x, t = ctx.saved_tensors
        k, c3, half, one = _constants(x, SQRT_2_OVER_PI, 3.0 * GELU_COEF, 0.5, 1.0)
        du_dx = k * (one + c3 * x * x)
        first = half * (one + t) + half * x * (one - t * t) * du_dx  # gelu'(x)
        second = (one - t * t) * (du_dx - x * t * du_dx * du_dx + k * c3 * x * x)  # gelu''(x)
        return grad * first, grad * g * second


@tensor_inputs("grad_output", "input")
def gelu_backward(grad_output: Tensor, input: Tensor, approximate: str = "tanh") -> Tensor:
    """g gelu'(x) for the tanh GELU (the tutorial's NewGELU), as aten::gelu_backward(approximate="tanh")."""
    if approximate != "tanh":
        raise NotImplementedError(f"gelu_backward: approximate={approximate!r} is not written as an op here; "
                                  "only 'tanh' (the tutorial's GELU)")
    return GeluTanhBackward.apply(grad_output, input)


def gelu_backward_composed(grad_output: Tensor, input: Tensor) -> Tensor:
    x = input
    t = (SQRT_2_OVER_PI * (x + GELU_COEF * (x * x * x))).tanh()
    du_dx = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_COEF * (x * x))
    return grad_output * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du_dx)
