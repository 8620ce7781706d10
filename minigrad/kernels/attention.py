"""Scaled dot-product attention, fast: a few (Tq, Tk) score matrices at a time, across the cores.

A chunk's matrices stay in the CPU cache through every pass over them, forward and backward.
The products take q, k and v as they come, views included (a fused qkv projection's strided
thirds): BLAS reads strided rows at full speed, and copying them first to contiguous stacks cost
more than it saved. Three identities keep the large (Tq, Tk) matrices out of as many passes as
possible:

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

Kernels, not formulas: stepping into one of these in a debugger lands in speed code. The formulas each
replaces are the reference Function it names in @replaces; `with minigrad.reference():`, or
MINIGRAD_REFERENCE=1 for a whole process, runs those instead.
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

MATRICES = 64  # (Tq, Tk) score matrices per chunk: about 1 MB in all for the ViT's 65 tokens (float32), as CHUNK


def _fast_path(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None) -> bool:
    """Same batch dims for q, k and v (at least one), no empty (Tq, d), (Tk, d) or (Tk, dv) matrices,
    and a bias (if any) shared by all of them that adds no batch dims of its own."""
    same = q.ndim >= 3 and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
    empty = 0 in q.shape[-2:] + k.shape[-2:] + v.shape[-2:]  # rows of no keys: 0 / 0 in out = (D v) / l
    return same and not empty and (bias is None or (bias.ndim <= q.ndim and math.prod(bias.shape[:-2]) == 1
                                                    and not np.isneginf(bias).all(axis=-1).any()))  # no dead row


def _chunk_rows(q: np.ndarray) -> int:
    """Entries of q's first axis per chunk: about MATRICES score matrices."""
    return max(1, MATRICES // max(1, math.prod(q.shape[1:-2])))


@replaces(Reference)
class ScaledDotProductAttentionKernel:
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
        p_scale, scale_t = q.dtype.type(keep_scale(dropout_p)), q.dtype.type(scale)
        out = np.empty_like(q, shape=(*q.shape[:-1], v.shape[-1]))  # in q's memory layout

        def chunk(c: slice) -> None:
            qs = np.multiply(q[c], scale_t)  # q times the scale (the small operand), in q's layout
            kt = np.swapaxes(k[c], -1, -2)  # views: BLAS reads the strided rows of a fused qkv directly
            into = None if exps is None else exps[c]  # a contiguous block of exps

            def scores() -> np.ndarray:
                s = np.matmul(qs, kt, out=into)  # (b, ..., Tq, Tk)
                if bias2 is not None:
                    s += bias2
                return s

            e, l = softmax_last_dim_(scores, normalize=False)
            sums[c] = l
            if keep is None:
                o = e @ v[c]  # (b, ..., Tq, dv)
            else:  # D v = (E * keep) (v / (1 - p)): the dropout scale on the small operand
                o = np.multiply(e, keep[c]) @ np.multiply(v[c], p_scale)
            o /= l
            out[c] = o

        for_each_chunk(len(q), _chunk_rows(q), chunk)
        ctx.save_for_backward(q, k, v, exps, sums, keep)  # q, k, v: the inputs' own arrays, no copies
        ctx.keep = keep  # the mask the reference is given if it runs forward again (create_graph)
        ctx.scale, ctx.p_scale = scale, p_scale
        ctx.bias_shape = None if bias is None else (1,) * max(0, bias.ndim - 2) + (tq, tk)
        return out

    @staticmethod
    def to_reference(ctx: Context) -> None:
        """For backward in reference mode: what the reference saves, P = E / l from this kernel's E and l."""
        if ctx.fast:
            q, k, v, exps, sums, keep = ctx.saved_tensors
            ctx.save_for_backward(q, k, v, exps / sums, keep)
            ctx.p = ctx.kwargs["dropout_p"]

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
            e, l = exps[c], sums[c]  # (b, ..., Tq, Tk), (b, ..., Tq, 1)
            kc = None if keep is None else keep[c]
            vs = v[c] if kc is None else np.multiply(v[c], ctx.p_scale)  # v / (1 - p): the small operand
            gs = grad[c] @ np.swapaxes(vs, -1, -2)  # dD = dO v^T (times 1 / (1 - p)): (b, ..., Tq, Tk)
            g_l = grad[c] / l if kc is None else np.multiply(grad[c], ctx.p_scale / l)  # dO / (l (1 - p))
            d = e if kc is None else np.multiply(e, kc)  # E * keep = D l (1 - p)
            grads[2][c] = np.swapaxes(d, -1, -2) @ g_l  # dv = D^T dO
            if kc is not None:
                gs *= kc  # dP = dD * M = (dD / (1 - p)) * keep
            n = math.prod(e.shape[:-2])
            gs -= np.einsum("nqk,nqk->nq", gs.reshape(n, tq, tk), e.reshape(n, tq, tk)).reshape(l.shape) / l
            gs *= e  # dS l = E (dP - r), where r = sum_k dP P: the row sums, no (Tq, Tk) temporary
            gq = gs @ k[c]  # (b, ..., Tq, d)
            gq *= scale / l
            grads[0][c] = gq  # dq = dS k scale
            grads[1][c] = np.swapaxes(gs, -1, -2) @ np.multiply(q[c], scale / l)  # dk = dS^T q scale
            if not with_bias:
                return None
            gs /= l  # dS itself: the bias's gradient
            return gs.reshape(n, tq, tk).sum(axis=0)

        parts = for_each_chunk(len(q), _chunk_rows(q), chunk)
        if not with_bias:
            return tuple(grads)
        grad_bias = sum_in_order(parts, np.empty((tq, tk), dtype=q.dtype))
        return (*grads, grad_bias.reshape(ctx.bias_shape))  # the engine sums it down to the bias's shape
