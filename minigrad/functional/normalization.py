"""Layer normalisation: composed (a graph of primitive ops) beside the reference Function."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops.elementwise import check_dtypes, check_float, tensor_inputs
from minigrad.tensor import Tensor


def _norm_axes(x_shape: tuple, normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x_shape[len(x_shape) - len(shape):]) != shape:
        raise ValueError(f"layer_norm: input shape {tuple(x_shape)} does not end in normalized_shape {shape}")
    return tuple(range(len(x_shape) - len(shape), len(x_shape)))


def layer_norm_composed(x: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
                        bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over the last dims."""
    axes = _norm_axes(x.shape, normalized_shape)
    centered = x - x.mean(dim=axes, keepdim=True)
    var = (centered * centered).mean(dim=axes, keepdim=True)  # biased, as PyTorch
    y = centered / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


class LayerNorm(Function):
    """y = xhat * w + b,  xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps), statistics over `axes`."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                axes: tuple[int, ...], eps: float) -> np.ndarray:
        centered = x - x.mean(axis=axes, keepdims=True)  # (..., *normalized_shape)
        var = (centered * centered).mean(axis=axes, keepdims=True)  # (..., 1, ...): biased, as PyTorch
        rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))  # a constant row gives 1/sqrt(eps), not NaN
        xhat = centered * rstd
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.axes = axes
        return xhat * weight + bias

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # With gh = g * w:  dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)), means over `axes`
        xhat, rstd, weight = ctx.saved_tensors
        gh = grad * weight
        mean_gh = gh.mean(axis=ctx.axes, keepdims=True)
        mean_gh_xhat = (gh * xhat).mean(axis=ctx.axes, keepdims=True)
        grad_x = rstd * (gh - mean_gh - xhat * mean_gh_xhat)
        return grad_x, grad * xhat, grad  # dw = g xhat, db = g: the engine sums them over the batch dims


@tensor_inputs("input", "weight", "bias")
def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias;  (..., *normalized_shape) -> same."""
    x = input
    axes = _norm_axes(x.shape, normalized_shape)
    shape = x.shape[axes[0]:]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} has shape {t.shape}, expected {shape}")
    check_float("layer_norm", input=x._data, weight=None if weight is None else weight._data,
                bias=None if bias is None else bias._data)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            check_dtypes("layer_norm", x._data, t._data, f"input vs {name}")
    weight = weight if weight is not None else Tensor(np.ones(shape, dtype=x.dtype))
    bias = bias if bias is not None else Tensor(np.zeros(shape, dtype=x.dtype))
    return LayerNorm.apply(x, weight, bias, axes=axes, eps=eps)
