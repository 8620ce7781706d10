"""Scaled dot-product attention: composed (matmul, softmax, dropout, matmul) beside fused."""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context, Function
from minigrad.functional.activation import softmax
from minigrad.functional.dropout import apply_keep, dropout, dropout_keep
from minigrad.tensor import Tensor


def attention_composed(q: Tensor, k: Tensor, v: Tensor, dropout_p: float = 0.0,
                       training: bool = True) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(d)) v, written as the tutorial writes it; returns (out, probs)."""
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    probs = dropout(softmax(scores, dim=-1), dropout_p, training)  # (..., Tq, Tk)
    return probs @ v, probs  # (..., Tq, dv)


def _mask_bias(attn_mask: np.ndarray | None, is_causal: bool, tq: int, tk: int, dtype: np.dtype) -> np.ndarray | None:
    """An additive bias (0 or -inf) from a boolean keep-mask, a float mask, or causality."""
    bias = None
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            bias = np.where(attn_mask, 0.0, -np.inf).astype(dtype)  # True = may attend
        else:
            bias = attn_mask.astype(dtype, copy=False)
    if is_causal:
        causal = np.where(np.tril(np.ones((tq, tk), dtype=bool)), 0.0, -np.inf).astype(dtype)
        bias = causal if bias is None else bias + causal
    return bias


def _row_sums(x: np.ndarray) -> np.ndarray:
    """x.sum(-1, keepdims=True) as a product with a ones vector: several times faster in BLAS."""
    return x @ np.ones((x.shape[-1], 1), dtype=x.dtype)


def softmax_last_dim(scores: np.ndarray) -> np.ndarray:
    """softmax over the last dim, computed in place in `scores` (which it returns).

    One global shift instead of a max per row (several times cheaper). A row whose values all
    sit far below the global max would underflow: then every row is redone with its own max
    from `scores` recomputed by the caller (rare: never for a trained ViT's attention).
    """
    scores -= scores.max()  # now every value <= 0
    np.exp(scores, out=scores)
    sums = _row_sums(scores)  # (..., Tq, 1)
    if sums.min() < 1e-10:  # a row's max is more than ~23 below the global max
        raise _Underflow
    scores /= sums
    return scores


class _Underflow(Exception):
    """Some row of exp(scores - global max) underflowed: redo the softmax with per-row maxima."""


def _softmax_rows(scores: np.ndarray, normalize: bool = True) -> np.ndarray:
    """The classic per-row-max softmax (in place), the fallback of softmax_last_dim."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    if normalize:
        scores /= _row_sums(scores)
    return scores


def _batched(a: np.ndarray, flat: bool) -> np.ndarray:
    """C-contiguous, and (N, rows, cols) when every operand has the same batch dims: NumPy's
    stacked matmul is several times slower on strided operands and on 4-d stacks."""
    a = np.ascontiguousarray(a)
    return a.reshape(-1, *a.shape[-2:]) if flat else a


def _contiguous(a: np.ndarray, factor: float | None = None) -> np.ndarray:
    """A C-contiguous copy of a (strided) view, times `factor` if given: one pass over the data."""
    out = np.empty(a.shape, dtype=a.dtype)
    if factor is None:
        np.copyto(out, a)
    else:
        np.multiply(a, a.dtype.type(factor), out=out)
    return out


INFERENCE_CHUNK = 128  # (Tq, Tk) score matrices per chunk: about 2 MB for the ViT's 65 tokens


def attention_inference(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    """softmax(q k^T * scale) v when no backward will follow;  (..., Tq, d), (..., Tk, d), (..., Tk, dv) -> (..., Tq, dv).

    The training forward must keep the whole (..., Tq, Tk) probability tensor for backward.
    Without that, this goes through the score matrices a chunk at a time, so a chunk's scores
    stay in the CPU cache across the softmax passes (shift, exp, row sums), and it divides by
    the row sums after multiplying by v: Tq * dv values to divide per matrix instead of Tq * Tk.
    Each chunk is shifted by its own max (any shift that is constant along a row gives the same softmax).
    """
    (tq, d), (tk, dv) = q.shape[-2:], v.shape[-2:]
    qs = _contiguous(q, scale).reshape(-1, tq, d)  # (N, Tq, d), scaled: 1/Tk of the work of scaling scores
    kt = _contiguous(np.swapaxes(k, -1, -2)).reshape(-1, d, tk)  # (N, d, Tk)
    v3 = np.ascontiguousarray(v).reshape(-1, tk, dv)  # (N, Tk, dv)
    out = np.empty((len(qs), tq, dv), dtype=q.dtype)
    for start in range(0, len(qs), INFERENCE_CHUNK):
        chunk = slice(start, start + INFERENCE_CHUNK)
        e = qs[chunk] @ kt[chunk]  # (n, Tq, Tk) scores
        e -= e.max()
        np.exp(e, out=e)
        sums = _row_sums(e)  # (n, Tq, 1)
        if sums.min() < 1e-10:  # some row underflowed: shift every row by its own max instead
            e = _softmax_rows(qs[chunk] @ kt[chunk], normalize=False)
            sums = _row_sums(e)
        o = np.matmul(e, v3[chunk], out=out[chunk])  # (n, Tq, dv), not yet divided by the sums
        o /= sums
    return out.reshape(q.shape[:-1] + (dv,))


class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx: Context, q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float,
                bias: np.ndarray | None, dropout_p: float, weights_out: list | None) -> np.ndarray:
        out_shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]) + (q.shape[-2], v.shape[-1])
        flat = q.shape[:-2] == k.shape[:-2] == v.shape[:-2] and bias is None
        if flat and not any(ctx.needs_input_grad) and dropout_p == 0 and weights_out is None:
            return attention_inference(q, k, v, scale)  # no backward can follow: skip what it needs
        q3, k3, v3 = _batched(q, flat), _batched(k, flat), _batched(v, flat)  # (N, T, d) each
        k3t = _batched(np.swapaxes(k3, -1, -2), flat)  # (N, d, Tk), contiguous: q @ k^T is fast then
        q3s = q3 * q.dtype.type(scale)  # scaling q costs a 1/Tk of scaling the scores

        def scores() -> np.ndarray:  # (N, Tq, Tk)
            s = q3s @ k3t
            if bias is not None:
                s += bias
            return s

        try:
            probs = softmax_last_dim(scores())  # softmax over keys
        except _Underflow:
            probs = _softmax_rows(scores())
        keep = dropout_keep(probs.shape, dropout_p) if dropout_p > 0 else None
        dropped = apply_keep(probs, keep, dropout_p) if keep is not None else probs
        if weights_out is not None:  # for the caller (need_weights): a copy, so editing it cannot change gradients
            weights_out.append(dropped.reshape(out_shape[:-2] + probs.shape[-2:]).copy())
        ctx.save_for_backward(q3, k3, v3, probs, keep)
        ctx.scale, ctx.p, ctx.shapes = scale, dropout_p, (q.shape, k.shape, v.shape)
        return (dropped @ v3).reshape(out_shape)  # (..., Tq, dv)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        q3, k3, v3, probs, keep = ctx.saved_tensors
        q_shape, k_shape, v_shape = ctx.shapes
        g3 = _batched(grad, q3.ndim == 3)  # (N, Tq, dv)
        dropped = apply_keep(probs, keep, ctx.p) if keep is not None else probs
        grad_v = np.swapaxes(dropped, -1, -2) @ g3  # (N, Tk, dv)
        grad_scores = g3 @ np.swapaxes(v3, -1, -2)  # dL/d dropped: (N, Tq, Tk), a fresh buffer
        if keep is not None:
            grad_scores = apply_keep(grad_scores, keep, ctx.p)  # dL/d probs
        # softmax backward, then the scale: d scores = p (gp - sum(gp p)) * scale, in place
        grad_scores -= _row_sums(grad_scores * probs)
        grad_scores *= probs
        grad_scores *= q3.dtype.type(ctx.scale)
        grad_q = grad_scores @ k3  # (N, Tq, d)
        grad_k = np.swapaxes(grad_scores, -1, -2) @ q3  # (N, Tk, d)
        if q3.ndim == 3 and len(q_shape) != 3:  # back from (N, T, d) to the inputs' batch dims
            grad_q, grad_k, grad_v = grad_q.reshape(q_shape), grad_k.reshape(k_shape), grad_v.reshape(v_shape)
        return grad_q, grad_k, grad_v


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | np.ndarray | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 need_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """softmax(q k^T * scale + mask) v;  q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv) -> (..., Tq, dv).

    With need_weights=True also returns the attention probabilities actually applied to v
    (after dropout, as the tutorial returns them), detached from the graph.
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: q {q.shape}, k {k.shape}, v {v.shape} do not fit "
                         "(need q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv))")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {dropout_p}")
    mask = attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask
    bias = _mask_bias(None if mask is None else np.asarray(mask), is_causal, q.shape[-2], k.shape[-2], q.dtype)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    weights: list | None = [] if need_weights else None
    out = ScaledDotProductAttention.apply(q, k, v, scale=scale, bias=bias, dropout_p=dropout_p, weights_out=weights)
    if need_weights:
        return out, Tensor(weights[0])
    return out
