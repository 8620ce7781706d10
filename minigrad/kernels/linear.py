"""Matrix products: Linear through np.matmul on (N, in) rows (its bias as one more row of the weight),
MatMul with a shared matrix folded into one product, and Im2Col's patchify case (kernel = stride, no
padding, no dilation) as a reshape whose one copy runs image by image across the cores.

Kernels, not formulas: stepping into one of these in a debugger lands in speed code. The formulas each
replaces are the reference Function it names in @replaces; `with minigrad.reference():`, or
MINIGRAD_REFERENCE=1 for a whole process, runs those instead.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context
from minigrad.functional.linear import Im2Col as ReferenceIm2Col
from minigrad.functional.linear import Linear as ReferenceLinear
from minigrad.kernels.parallel import for_each_chunk, rows_per_chunk, sum_in_order
from minigrad.kernels.registry import replaces
from minigrad.kernels.rows import column_sums
from minigrad.ops.matmul import MatMul as ReferenceMatMul


ROWS = 1024  # rows of x per chunk


@replaces(ReferenceLinear)
class LinearKernel:
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        out_features, in_features = weight.shape
        x2 = x.reshape(math.prod(x.shape[:-1]), in_features)  # (..., in) -> (N, in): row blocks of one large product
        y = np.empty((len(x2), out_features), dtype=x.dtype)
        wt = weight.T if bias is None else np.concatenate([weight.T, bias[None]])  # (in [+ 1], out): b as a last row

        def chunk(c: slice) -> None:
            xc = x2[c]
            if bias is not None:  # [x 1] @ [W^T; b] = x W^T + b: BLAS adds b, no second pass over y
                xc = np.empty((len(xc), in_features + 1), dtype=x.dtype)
                xc[:, :-1], xc[:, -1] = x2[c], 1
            np.matmul(xc, wt, out=y[c])  # (not np.dot: it first zeroes out, which BLAS does anyway)

        for_each_chunk(len(x2), ROWS, chunk)
        ctx.save_for_backward(x2, weight)
        ctx.x_shape = x.shape
        return y.reshape(*x.shape[:-1], out_features)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        x2, weight = ctx.saved_tensors
        g2 = grad.reshape(len(x2), weight.shape[0])  # (N, out)
        needs = ctx.needs_input_grad
        grad_x = np.empty(x2.shape, dtype=x2.dtype) if needs[0] else None
        with_bias = len(needs) > 2 and needs[2]

        def chunk(c: slice) -> tuple:
            if grad_x is not None:
                np.matmul(g2[c], weight, out=grad_x[c])  # (n, out) @ (out, in)
            return (np.matmul(g2[c].T, x2[c]) if needs[1] else None,  # this chunk's dW
                    column_sums(g2[c]) if with_bias else None)  # and db

        parts = for_each_chunk(len(x2), ROWS, chunk)
        grad_w = sum_in_order([p[0] for p in parts], weight) if needs[1] else None
        bias_like = np.empty(weight.shape[:1], dtype=weight.dtype)
        grad_b = sum_in_order([p[1] for p in parts], bias_like) if with_bias else None
        grad_x = grad_x.reshape(ctx.x_shape) if grad_x is not None else None
        return (grad_x, grad_w, grad_b)[:len(needs)]


@replaces(ReferenceMatMul)
class MatMulKernel:
    forward = staticmethod(ReferenceMatMul.forward)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        a, b = ctx.saved_tensors
        if b.ndim != 2 or a.ndim < 3:
            return ReferenceMatMul.backward(ctx, grad)
        # (B, T, n) @ one shared (n, k) matrix: fold the batch into rows, one product instead of B and a sum
        rows = math.prod(a.shape[:-1])  # not reshape(-1, n): that fails for an empty batch with n = 0
        grad_a = grad @ b.T if ctx.needs_input_grad[0] else None
        grad_b = (np.matmul(a.reshape(rows, a.shape[-1]).T, grad.reshape(rows, grad.shape[-1]))
                  if ctx.needs_input_grad[1] else None)
        return grad_a, grad_b


@replaces(ReferenceIm2Col)
class Im2ColKernel:
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple,
                dilation: tuple = (1, 1)) -> np.ndarray:
        (kh, kw), (sh, sw) = kernel, stride
        B, C, H, W = x.shape
        ctx.patchify = ((kh, kw) == (sh, sw) and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1)
                        and H % kh == 0 and W % kw == 0)
        if not ctx.patchify:
            return ReferenceIm2Col.forward(ctx, x, kernel, stride, padding, dilation)
        ctx.x_shape = x.shape
        Ho, Wo = H // kh, W // kw
        patches = x.reshape(B, C, Ho, kh, Wo, kw).transpose(0, 2, 4, 1, 3, 5)  # (B, Ho, Wo, C, kh, kw), a view
        return _copy_by_images(patches).reshape(B, Ho, Wo, C * kh * kw)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        if not ctx.patchify:
            return ReferenceIm2Col.backward(ctx, grad)
        B, C, H, W = ctx.x_shape
        Ho, Wo = grad.shape[1:3]
        g = grad.reshape(B, Ho, Wo, C, H // Ho, W // Wo)
        return _copy_by_images(g.transpose(0, 3, 1, 4, 2, 5)).reshape(B, C, H, W)  # each pixel: in one patch


def _copy_by_images(view: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a strided view, its images (first axis) copied in chunks across the cores."""
    out = np.empty(view.shape, dtype=view.dtype)

    def chunk(c: slice) -> None:
        out[c] = view[c]

    for_each_chunk(len(view), rows_per_chunk(math.prod(view.shape[1:])), chunk)
    return out
