"""Scaled dot-product attention: composed (matmul, softmax, dropout, matmul) beside fused."""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context, Function
from minigrad.functional.activation import softmax
from minigrad.functional.dropout import dropout, dropout_mask
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
    """softmax over the last dim; `scores` is used as scratch space.

    One global shift instead of a max per row (several times cheaper). A row whose values all
    sit far below the global max would underflow, so such rows are redone with their own max.
    """
    scores -= scores.max()  # now every value <= 0
    probs = np.exp(scores)
    sums = _row_sums(probs)  # (..., Tq, 1)
    low = sums[..., 0] < 1e-10  # this row's max is more than ~23 below the global max
    if low.any():
        rows = scores[low]  # (n_low, Tk)
        probs[low] = np.exp(rows - rows.max(axis=-1, keepdims=True))
        sums[low] = _row_sums(probs[low])
    probs /= sums
    return probs


class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx: Context, q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float,
                bias: np.ndarray | None, dropout_p: float, weights_out: list | None) -> np.ndarray:
        scores = q @ np.swapaxes(k, -1, -2)  # (..., Tq, Tk)
        scores *= q.dtype.type(scale)
        if bias is not None:
            scores += bias
        probs = softmax_last_dim(scores)  # softmax over keys
        mask = dropout_mask(probs.shape, dropout_p, probs.dtype) if dropout_p > 0 else None
        dropped = probs * mask if mask is not None else probs
        if weights_out is not None:
            weights_out.append(dropped.copy())  # for the caller (need_weights): a copy, so editing it cannot change gradients
        ctx.save_for_backward(q, k, v, probs, mask)
        ctx.scale = scale
        return dropped @ v  # (..., Tq, dv)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        q, k, v, probs, mask = ctx.saved_tensors
        dropped = probs * mask if mask is not None else probs
        grad_v = np.swapaxes(dropped, -1, -2) @ grad  # (..., Tk, dv)
        grad_scores = grad @ np.swapaxes(v, -1, -2)  # dL/d dropped: (..., Tq, Tk), a fresh buffer
        if mask is not None:
            grad_scores *= mask  # dL/d probs
        # softmax backward, then the scale: d scores = p (gp - sum(gp p)) * scale, in place
        grad_scores -= _row_sums(grad_scores * probs)
        grad_scores *= probs
        grad_scores *= q.dtype.type(ctx.scale)
        grad_q = grad_scores @ k  # (..., Tq, d)
        grad_k = np.swapaxes(grad_scores, -1, -2) @ q  # (..., Tk, d)
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
