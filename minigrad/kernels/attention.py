"""Scaled dot-product attention, fast: a few (Tq, Tk) score matrices at a time, across the cores.

A chunk's matrices stay in the CPU cache through every pass over them, forward and backward.
Each chunk is copied to contiguous 3-d stacks first (NumPy's stacked matmul is slow on strided
operands, such as the views a fused qkv projection gives). Three identities keep the large
(Tq, Tk) matrices out of as many passes as possible:

- forward keeps E = exp(S - shift) and its row sums l instead of P = E / l: with D = E * M
  (M = keep / (1 - p), the dropout factor), out = (D @ v) / l, a division of Tq x dv values,
  and D @ v = (E * keep) @ (v / (1 - p)): the scale multiplies the small operand too;
- backward divides the small operands by l instead: dv = D^T @ (dO / l), dq = ((dS' @ k) / l) s,
  dk = dS'^T @ (q / l) s, where dS' = E * (dD * M - r) and dD = dO @ v^T (again with 1 / (1 - p)
  on dO, and keep, a bool array, as the only (Tq, Tk) factor);
- the outputs and gradients are written in the memory layout of q (for the ViT: (B, T, nh, hs)
  order), so the transposes and reshapes around the op cost no copy.

(The softmax backward's row sums sum_k dP P also equal sum_j dO out, FlashAttention's shortcut with
Tq x dv products instead of Tq x Tk; in float32 its rounding does not cancel the way the textbook
sum does, e.g. a query that sees one key then gets a gradient of ~1e-5 instead of 0, so the
textbook sum it is, as one einsum: no (Tq, Tk) temporary for dP * P.) Other cases (batch dims
that broadcast, a mask per batch entry) run the reference formulas.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context
from minigrad.functional.attention import ScaledDotProductAttention as Reference
from minigrad.functional.dropout import keep_scale
from minigrad.kernels.dropout import draw_keep
from minigrad.kernels.parallel import for_each_chunk, sum_in_order
from minigrad.kernels.registry import replaces
from minigrad.kernels.rows import softmax_last_dim_

MATRICES = 64  # (Tq, Tk) score matrices per chunk: about 1 MB each for the ViT's 65 tokens, in a core's L2 cache


def _fast_path(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None) -> bool:
    """Same batch dims for q, k and v (at least one), no empty (Tq, d), (Tk, d) or (Tk, dv) matrices,
    and a bias (if any) shared by all of them that adds no batch dims of its own."""
    same = q.ndim >= 3 and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
    empty = 0 in q.shape[-2:] + k.shape[-2:] + v.shape[-2:]  # rows of no keys: 0 / 0 in out = (D v) / l
    return same and not empty and (bias is None or (bias.ndim <= q.ndim and math.prod(bias.shape[:-2]) == 1))


def _stack(a: np.ndarray, factor: float | None = None) -> np.ndarray:
    """a chunk (b, ..., rows, cols) as a C-contiguous (n, rows, cols) stack (times factor), one pass."""
    out = np.empty(a.shape, dtype=a.dtype)
    if factor is None:
        np.copyto(out, a)
    else:
        np.multiply(a, a.dtype.type(factor), out=out)
    return out.reshape(math.prod(a.shape[:-2]), *a.shape[-2:])  # not -1: ambiguous for an empty chunk


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
        keep_e = any(ctx.needs_input_grad)  # a backward follows: keep E and l
        exps = np.empty((*q.shape[:-1], tk), dtype=q.dtype) if keep_e else None  # E = exp(S - shift)
        sums = np.empty((*q.shape[:-1], 1), dtype=q.dtype)  # l = its row sums
        keep = draw_keep((*q.shape[:-1], tk), dropout_p) if dropout_p > 0 else None
        p_scale = q.dtype.type(keep_scale(dropout_p))
        out = np.empty_like(q, shape=(*q.shape[:-1], v.shape[-1]))  # in q's memory layout

        def chunk(c: slice) -> None:
            qs, kt = _stack(q[c], scale), _stack(np.swapaxes(k[c], -1, -2))  # (n, Tq, d), (n, d, Tk)
            into = None if exps is None else exps[c].reshape(len(qs), tq, tk)  # a contiguous block of exps

            def scores() -> np.ndarray:
                s = np.matmul(qs, kt, out=into)  # (n, Tq, Tk)
                if bias2 is not None:
                    s += bias2
                return s

            e, l = softmax_last_dim_(scores, normalize=False)
            sums[c] = l.reshape(sums[c].shape)
            if keep is None:
                o = e @ _stack(v[c])  # (n, Tq, dv)
            else:  # D v = (E * keep) (v / (1 - p)): the dropout scale on the small operand
                o = np.multiply(e, keep[c].reshape(e.shape)) @ _stack(v[c], p_scale)
            o /= l
            out[c] = o.reshape(out[c].shape)

        for_each_chunk(len(q), _chunk_rows(q), chunk)
        ctx.save_for_backward(q, k, v, exps, sums, keep)  # q, k, v: the inputs' own arrays, no copies
        ctx.scale, ctx.p_scale = scale, p_scale
        ctx.bias_shape = None if bias is None else (1,) * max(0, bias.ndim - 2) + (tq, tk)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        if not ctx.fast:
            return Reference.backward(ctx, grad)
        q, k, v, exps, sums, keep = ctx.saved_tensors
        grads = [np.empty_like(t) for t in (q, k, v)]  # each in its input's memory layout
        tq, tk = exps.shape[-2:]
        scale = q.dtype.type(ctx.scale)
        with_bias = ctx.bias_shape is not None

        def chunk(c: slice) -> np.ndarray | None:
            n = math.prod(exps[c].shape[:-2])
            e, l = exps[c].reshape(n, tq, tk), sums[c].reshape(n, tq, 1)  # (n, Tq, Tk), (n, Tq, 1)
            kc = None if keep is None else keep[c].reshape(e.shape)
            g3 = _stack(grad[c], None if kc is None else ctx.p_scale)  # dO (times 1 / (1 - p)): (n, Tq, dv)
            gs = g3 @ _stack(np.swapaxes(v[c], -1, -2))  # dD = dO v^T: (n, Tq, Tk), v^T contiguous (faster)
            g3 /= l
            d = e if kc is None else np.multiply(e, kc)  # E * keep = D l (1 - p)
            grads[2][c] = (np.swapaxes(d, -1, -2) @ g3).reshape(v[c].shape)  # dv = D^T dO
            if kc is not None:
                gs *= kc  # dP = dD * M = (dD / (1 - p)) * keep
            gs -= np.einsum("nqk,nqk->nq", gs, e)[..., None] / l  # dP - sum_k dP P (the row sums, no (Tq, Tk) temporary)
            gs *= e  # dS l = E (dP - r)
            gq = gs @ _stack(k[c])  # (n, Tq, d)
            gq /= l
            gq *= scale
            grads[0][c] = gq.reshape(q[c].shape)  # dq = dS k scale
            qc = _stack(q[c])
            qc /= l
            qc *= scale
            grads[1][c] = (np.swapaxes(gs, -1, -2) @ qc).reshape(k[c].shape)  # dk = dS^T q scale
            if not with_bias:
                return None
            gs /= l  # dS itself: the bias's gradient
            return gs.sum(axis=0)

        parts = for_each_chunk(len(q), _chunk_rows(q), chunk)
        if not with_bias:
            return tuple(grads)
        grad_bias = sum_in_order(parts, np.empty((tq, tk), dtype=q.dtype))
        return (*grads, grad_bias.reshape(ctx.bias_shape))  # the engine sums it down to the bias's shape
