"""LayerNorm on (N, D) rows, a cache-sized block of rows per chunk, row means through BLAS.

Kernels, not formulas: stepping into one of these in a debugger lands in speed code. The formulas each
replaces are the reference Function it names in @replaces; `with minigrad.reference():`, or
MINIGRAD_REFERENCE=1 for a whole process, runs those instead.
"""
from __future__ import annotations

import numpy as np

from minigrad.engine import Context
from minigrad.functional.normalization import LayerNorm as Reference
from minigrad.kernels.parallel import for_each_chunk, rows_per_chunk, sum_in_order
from minigrad.kernels.registry import replaces
from minigrad.kernels.rows import column_sums, row_sums


@replaces(Reference)
class LayerNormKernel:
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                axes: tuple[int, ...], eps: float) -> np.ndarray:
        d = weight.size
        ctx.fast = d > 0  # rows of no elements: the reference's formulas (its NaN statistics, its shapes)
        if not ctx.fast:
            return Reference.forward(ctx, x, weight, bias, axes, eps)
        x2 = x.reshape(-1, d)  # (..., *normalized_shape) -> (N, D): each row is normalized
        y, rstd = np.empty(x2.shape, x.dtype), np.empty((len(x2), 1), x.dtype)
        xhat = np.empty(x2.shape, x.dtype) if any(ctx.needs_input_grad) else y  # no backward: xhat only passes through y
        w, b, eps_ = weight.reshape(-1), bias.reshape(-1), x.dtype.type(eps)

        def chunk(c: slice) -> None:
            xc = x2[c]
            h = np.subtract(xc, row_sums(xc, 1.0 / d), out=xhat[c])  # centered
            r = np.sqrt(row_sums(h * h, 1.0 / d) + eps_, out=rstd[c])  # (n, 1): biased variance, as PyTorch
            np.divide(1.0, r, out=r)
            h *= r
            np.multiply(h, w, out=y[c])  # in place when xhat is y (writing a third array costs ~2x)
            y[c] += b

        for_each_chunk(len(x2), rows_per_chunk(d), chunk)
        if xhat is not y:
            ctx.save_for_backward(xhat, rstd, weight)
        ctx.x_shape = x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        if not ctx.fast:
            return Reference.backward(ctx, grad)
        xhat, rstd, weight = ctx.saved_tensors
        d = weight.size
        g2 = grad.reshape(xhat.shape)  # (N, D)
        w = weight.reshape(-1)
        w_mean = weight.reshape(d, 1) * xhat.dtype.type(1.0 / d)  # x @ w_mean = mean(x w) per row, through BLAS
        grad_x = np.empty(xhat.shape, dtype=xhat.dtype)

        def chunk(c: slice) -> tuple[np.ndarray, np.ndarray]:
            gc, hc = g2[c], xhat[c]
            p = gc * hc  # g xhat: its column sums are this chunk's share of dw, and mean(gh xhat) = p @ w / D
            gx = np.multiply(gc, w, out=grad_x[c])  # gh = g w
            gx -= gc @ w_mean  # - mean(gh)
            gx -= hc * (p @ w_mean)  # - xhat mean(gh xhat)
            gx *= rstd[c]
            return column_sums(p), column_sums(gc)  # this chunk's share of dw and db

        parts = for_each_chunk(len(xhat), rows_per_chunk(d), chunk)
        grad_w = sum_in_order([p[0] for p in parts], weight) if ctx.needs_input_grad[1] else None
        grad_b = sum_in_order([p[1] for p in parts], weight) if ctx.needs_input_grad[2] else None
        return grad_x.reshape(ctx.x_shape), grad_w, grad_b

