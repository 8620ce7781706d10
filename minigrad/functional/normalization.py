"""Layer normalisation: composed beside fused."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops.elementwise import check_dtypes
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


def _row_means(x2: np.ndarray) -> np.ndarray:
    """x2.mean(axis=1) for (N, D) as a matrix-vector product: several times faster in BLAS."""
    return x2 @ np.full(x2.shape[1], 1.0 / x2.shape[1], dtype=x2.dtype)  # (N,)


class LayerNorm(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                axes: tuple[int, ...], eps: float) -> np.ndarray:
        check_dtypes("layer_norm", x, weight)
        check_dtypes("layer_norm", x, bias)
        x2 = x.reshape(-1, weight.size)  # (..., *normalized_shape) -> (N, D): rows are normalized
        xhat = x2 - _row_means(x2)[:, None]  # centered
        var = _row_means(xhat * xhat)  # (N,), biased, as PyTorch
        rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))  # a constant row gives 1/sqrt(eps), not NaN
        xhat *= rstd[:, None]
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.x_shape = x.shape
        y = xhat * weight.reshape(-1)
        y += bias.reshape(-1)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        # With gh = g * weight:  dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
        xhat, rstd, weight = ctx.saved_tensors
        g2 = grad.reshape(xhat.shape)  # (N, D)
        gh = g2 * weight.reshape(-1)
        grad_x = gh - _row_means(gh)[:, None]
        grad_x -= xhat * _row_means(gh * xhat)[:, None]
        grad_x *= rstd[:, None]
        grad_w = (g2 * xhat).sum(axis=0).reshape(weight.shape) if ctx.needs_input_grad[1] else None
        grad_b = g2.sum(axis=0).reshape(weight.shape) if ctx.needs_input_grad[2] else None
        return grad_x.reshape(ctx.x_shape), grad_w, grad_b


def layer_norm(x: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias;  (..., *normalized_shape) -> same."""
    axes = _norm_axes(x.shape, normalized_shape)
    shape = x.shape[axes[0]:]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} has shape {t.shape}, expected {shape}")
    weight = weight if weight is not None else Tensor(np.ones(shape, dtype=x.dtype))
    bias = bias if bias is not None else Tensor(np.zeros(shape, dtype=x.dtype))
    return LayerNorm.apply(x, weight, bias, axes=axes, eps=eps)
