"""Scaled dot-product attention, fast: a few (Tq, Tk) score matrices at a time, across the cores.

A chunk's matrices stay in the CPU cache through every pass of the softmax and of dropout,
forward and backward, instead of each pass streaming all of them through memory. Each chunk is
copied to contiguous 3-d stacks first (NumPy's stacked matmul is slow on strided operands, such
as the views a fused qkv projection gives). The outputs and gradients are written in the memory
layout of q (for the ViT: (B, T, nh, hs) order), so that the transposes and reshapes around
the op cost no copy. Other cases (batch dims that broadcast, a mask per batch entry) run the
reference formulas.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context
from minigrad.functional.attention import ScaledDotProductAttention as Reference
from minigrad.functional.dropout import dropout_keep, keep_scale
from minigrad.kernels.parallel import for_each_chunk
from minigrad.kernels.registry import replaces
from minigrad.kernels.rows import row_sums, softmax_last_dim_

MATRICES = 32  # (Tq, Tk) score matrices per chunk: about 0.5 MB for the ViT's 65 tokens


def _fast_path(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None) -> bool:
    """Same batch dims for q, k and v (at least one), and a bias (if any) shared by all of them."""
    same = q.ndim >= 3 and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
    return same and (bias is None or math.prod(bias.shape[:-2]) == 1)


def _stack(a: np.ndarray, factor: float | None = None) -> np.ndarray:
    """a chunk (b, ..., rows, cols) as a C-contiguous (n, rows, cols) stack (times factor), one pass."""
    out = np.empty(a.shape, dtype=a.dtype)
    if factor is None:
        np.copyto(out, a)
    else:
        np.multiply(a, a.dtype.type(factor), out=out)
    return out.reshape(-1, *a.shape[-2:])


def _chunk_rows(q: np.ndarray) -> int:
    """Entries of q's first axis per chunk: about MATRICES score matrices."""
    return max(1, MATRICES // max(1, math.prod(q.shape[1:-2])))


@replaces(Reference)
class ScaledDotProductAttention:
    @staticmethod
    def forward(ctx: Context, q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None = None,
                *, scale: float, dropout_p: float) -> np.ndarray:
        ctx.fast = _fast_path(q, k, v, bias)
        if not ctx.fast:
            return Reference.forward(ctx, q, k, v, bias, scale=scale, dropout_p=dropout_p)
        tq, tk = q.shape[-2], k.shape[-2]
        bias2 = None if bias is None else np.broadcast_to(bias.reshape(bias.shape[max(0, bias.ndim - 2):]), (tq, tk))
        backward_follows = any(ctx.needs_input_grad)
        probs = np.empty((*q.shape[:-1], tk), dtype=q.dtype) if backward_follows else None  # saved for backward
        keep = dropout_keep((*q.shape[:-1], tk), dropout_p) if dropout_p > 0 else None
        out = np.empty_like(q, shape=(*q.shape[:-1], v.shape[-1]))  # in q's memory layout
        p_scale = q.dtype.type(keep_scale(dropout_p))

        def chunk(c: slice) -> None:
            qs, kt = _stack(q[c], scale), _stack(np.swapaxes(k[c], -1, -2))  # (n, Tq, d), (n, d, Tk)

            def scores() -> np.ndarray:
                s = qs @ kt  # (n, Tq, Tk)
                if bias2 is not None:
                    s += bias2
                return s

            # Without a backward, divide by the row sums after @ v: Tq * dv values instead of Tq * Tk
            e, sums = softmax_last_dim_(scores, normalize=backward_follows)
            if probs is not None:
                probs[c] = e.reshape(probs[c].shape)
            if keep is not None:
                e *= keep[c].reshape(e.shape)
                e *= p_scale
            o = e @ _stack(v[c])  # (n, Tq, dv)
            if not backward_follows:
                o /= sums
            out[c] = o.reshape(out[c].shape)

        for_each_chunk(len(q), _chunk_rows(q), chunk)
        ctx.save_for_backward(q, k, v, probs, keep)  # q, k, v: the inputs' own arrays, no copies
        ctx.scale, ctx.p = scale, dropout_p
        ctx.bias_shape = None if bias is None else (1,) * max(0, bias.ndim - 2) + (tq, tk)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        if not ctx.fast:
            return Reference.backward(ctx, grad)
        q, k, v, probs, keep = ctx.saved_tensors
        grads = [np.empty_like(t) for t in (q, k, v)]  # each in its input's memory layout
        grad_bias = np.zeros(probs.shape[-2:], dtype=q.dtype) if ctx.bias_shape is not None else None
        p_scale, scale = q.dtype.type(keep_scale(ctx.p)), q.dtype.type(ctx.scale)

        def chunk(c: slice) -> np.ndarray | None:
            q3, k3, v3, g3 = _stack(q[c]), _stack(k[c]), _stack(v[c]), _stack(grad[c])
            p = probs[c].reshape(-1, *probs.shape[-2:])  # (n, Tq, Tk)
            kc = None if keep is None else keep[c].reshape(p.shape)
            dropped = p if kc is None else p * kc * p_scale
            grads[2][c] = (np.swapaxes(dropped, -1, -2) @ g3).reshape(v[c].shape)  # dV = D^T dO
            gs = g3 @ np.swapaxes(v3, -1, -2)  # dD = dO V^T: (n, Tq, Tk)
            if kc is not None:
                gs *= kc
                gs *= p_scale  # dP
            gs -= row_sums(gs * p)  # the softmax backward, in place: dS = P (dP - sum dP P)
            gs *= p
            part = gs.sum(axis=0) if grad_bias is not None else None  # this chunk's share of dbias
            gs *= scale
            grads[0][c] = (gs @ k3).reshape(q[c].shape)  # dQ = dS K * scale
            grads[1][c] = (np.swapaxes(gs, -1, -2) @ q3).reshape(k[c].shape)  # dK = dS^T Q * scale
            return part

        parts = for_each_chunk(len(q), _chunk_rows(q), chunk)
        if grad_bias is None:
            return tuple(grads)
        for part in parts:  # in chunk order: the same bits for any thread count
            grad_bias += part
        return (*grads, grad_bias.reshape(ctx.bias_shape))  # the engine sums it down to the bias's shape
