"""GELU (tanh form) in cache-sized chunks across the cores, and softmax over the last dim.

Kernels, not formulas: stepping into one of these in a debugger lands in speed code. The formulas each
replaces are the reference Function it names in @replaces; `with minigrad.reference():`, or
MINIGRAD_REFERENCE=1 for a whole process, runs those instead.
"""
from __future__ import annotations

import numpy as np

from minigrad.engine import Context
from minigrad.functional.activation import GELU_COEF, SQRT_2_OVER_PI
from minigrad.functional.activation import GeluTanh as ReferenceGelu
from minigrad.functional.activation import Softmax as ReferenceSoftmax
from minigrad.kernels.parallel import CHUNK, for_each_chunk, rows_per_chunk
from minigrad.kernels.registry import replaces
from minigrad.kernels.rows import softmax_last_dim_
from minigrad.ops import normalize_dim


@replaces(ReferenceGelu)
class GeluTanhKernel:
    """0.5 x (1 + tanh(u)) computed as x * s, s = sigmoid(2u): the same function, and s is what
    backward needs (d/dx x s = s + 2 x s (1 - s) du/dx)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x).reshape(x.shape)  # (reshape: ascontiguousarray makes 0-d 1-d)
        y = np.empty_like(x)
        s = np.empty_like(x) if any(ctx.needs_input_grad) else None  # sigmoid(2u), kept for backward
        flat_x, flat_y = x.reshape(-1), y.reshape(-1)
        flat_s = s.reshape(-1) if s is not None else None

        def chunk(c: slice) -> None:
            xc = flat_x[c]
            # x x, not x ** 3 (NumPy's slow power path), into s's chunk (or y's), then every pass in place:
            # a pass that writes a third array costs about twice as much (the README's speed section)
            e = np.multiply(xc, xc, out=flat_y[c] if flat_s is None else flat_s[c])
            e *= -2.0 * SQRT_2_OVER_PI * GELU_COEF
            e += -2.0 * SQRT_2_OVER_PI
            e *= xc  # -2u
            with np.errstate(over="ignore"):  # exp(-2u) = inf for x << 0 gives s = 0, y = -0: right
                np.exp(e, out=e)
            e += 1.0
            if flat_s is None:
                np.divide(xc, e, out=e)  # y = x / (1 + exp(-2u)), in y's own chunk
            else:
                np.divide(1.0, e, out=e)  # s
                np.multiply(xc, e, out=flat_y[c])

        for_each_chunk(flat_x.size, CHUNK, chunk)
        ctx.save_for_backward(x, s)
        return y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        x, s = ctx.saved_tensors
        flat_x, flat_s = x.reshape(-1), s.reshape(-1)
        flat_g = np.ascontiguousarray(grad).reshape(-1)
        out = np.empty_like(x)
        flat_out = out.reshape(-1)

        def chunk(c: slice) -> None:
            xc, sc = flat_x[c], flat_s[c]
            d = np.multiply(xc, xc, out=flat_out[c])
            d *= 2.0 * SQRT_2_OVER_PI * 3.0 * GELU_COEF
            d += 2.0 * SQRT_2_OVER_PI  # 2 du/dx
            d *= xc
            d *= sc
            d *= 1.0 - sc  # x s'
            d += sc
            d *= flat_g[c]

        for_each_chunk(flat_x.size, CHUNK, chunk)
        return out


@replaces(ReferenceSoftmax)
class SoftmaxKernel:
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int = -1) -> np.ndarray:
        if x.ndim == 0 or normalize_dim(dim, x.ndim, "softmax") != x.ndim - 1:
            return ReferenceSoftmax.forward(ctx, x, dim)  # another dim: the reference, one max per row
        ctx.axis = x.ndim - 1
        rows = x.reshape(-1, x.shape[-1]) if x.size else x.reshape(0, x.shape[-1])
        y = np.empty(rows.shape, dtype=x.dtype)

        def chunk(c: slice) -> None:
            y[c] = softmax_last_dim_(lambda: np.array(rows[c], dtype=x.dtype, copy=True))[0]

        for_each_chunk(len(rows), rows_per_chunk(x.shape[-1]), chunk)
        y = y.reshape(x.shape)
        ctx.save_for_backward(y)
        return y

    backward = staticmethod(ReferenceSoftmax.backward)  # y (g - sum g y): it needs only the saved y
