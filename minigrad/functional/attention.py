"""Scaled dot-product attention: composed (matmul, softmax, dropout, matmul) beside the reference."""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context, Function
from minigrad.functional.activation import softmax, softmax_array
from minigrad.functional.dropout import apply_keep, dropout, dropout_keep
from minigrad.ops.elementwise import check_dtypes, check_float, tensor_inputs
from minigrad.tensor import Tensor


def attention_composed(q: Tensor, k: Tensor, v: Tensor, dropout_p: float = 0.0,
                       training: bool = True) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(d)) v, written as the tutorial writes it; returns (out, probs)."""
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    probs = dropout(softmax(scores, dim=-1), dropout_p, training)  # (..., Tq, Tk)
    return probs @ v, probs  # (..., Tq, dv)


def _swap(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)  # (..., m, n) -> (..., n, m)


class ScaledDotProductAttention(Function):
    """out = D v,  D = dropout(P),  P = softmax(S) over keys,  S = q k^T * scale (+ bias)."""

    draws_random = True  # the dropout mask

    @staticmethod
    def forward(ctx: Context, q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None = None,
                *, scale: float, dropout_p: float, keep: np.ndarray | None = None) -> np.ndarray:
        scores = (q @ _swap(k)) * q.dtype.type(scale)  # (..., Tq, d) @ (..., d, Tk) -> (..., Tq, Tk)
        if bias is not None:
            scores = scores + bias  # e.g. -inf where a query may not look
        probs = softmax_array(scores, axis=-1)  # (..., Tq, Tk): each row sums to 1
        if bias is not None:  # a query that may look nowhere attends to nothing: zeros, not 0/0 (PyTorch's)
            probs = np.where(np.isneginf(scores).all(axis=-1, keepdims=True), q.dtype.type(0), probs)
        if keep is None and dropout_p > 0:  # keep is given when forward runs again (create_graph): the same mask
            keep = dropout_keep(probs.shape, dropout_p)
        dropped = probs if keep is None else apply_keep(probs, keep, dropout_p)
        ctx.save_for_backward(q, k, v, probs, keep)
        ctx.keep = keep
        ctx.scale, ctx.p = scale, dropout_p
        return dropped @ v  # (..., Tq, Tk) @ (..., Tk, dv) -> (..., Tq, dv)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        q, k, v, probs, keep = ctx.saved_tensors
        scale = q.dtype.type(ctx.scale)
        dropped = probs if keep is None else apply_keep(probs, keep, ctx.p)
        grad_v = _swap(dropped) @ grad  # (..., Tk, Tq) @ (..., Tq, dv) -> (..., Tk, dv)
        grad_dropped = grad @ _swap(v)  # (..., Tq, dv) @ (..., dv, Tk) -> (..., Tq, Tk)
        grad_probs = grad_dropped if keep is None else apply_keep(grad_dropped, keep, ctx.p)
        # the softmax backward, row by row: dS = P (dP - sum_k dP P)
        grad_scores = probs * (grad_probs - (grad_probs * probs).sum(axis=-1, keepdims=True))
        grad_q = (grad_scores @ k) * scale  # (..., Tq, Tk) @ (..., Tk, d) -> (..., Tq, d)
        grad_k = (_swap(grad_scores) @ q) * scale  # (..., Tk, Tq) @ (..., Tq, d) -> (..., Tk, d)
        grad_bias = (grad_scores,) if len(ctx.inputs) == 4 else ()  # S = ... + bias: dL/dbias = dS
        return (grad_q, grad_k, grad_v, *grad_bias)  # the engine sums broadcast batch dims


def _mask_bias(attn_mask: Tensor | np.ndarray | None, is_causal: bool, tq: int, tk: int,
               dtype: np.dtype) -> Tensor | None:
    """The additive bias: 0 / -inf from a boolean keep-mask or causality, or the float mask itself."""
    if is_causal:
        return Tensor(np.where(np.tril(np.ones((tq, tk), dtype=bool)), 0.0, -np.inf).astype(dtype))
    if attn_mask is None:
        return None
    if not isinstance(attn_mask, Tensor):  # an array takes the query's dtype, as any constant does
        attn_mask = np.asarray(attn_mask)
        attn_mask = Tensor(attn_mask if attn_mask.dtype == np.bool_ else attn_mask.astype(dtype))
    mask = attn_mask
    if mask.dtype == np.bool_:
        return Tensor(np.where(mask._data, 0.0, -np.inf).astype(dtype))  # True = may attend
    if mask.dtype != dtype:
        raise TypeError(f"scaled_dot_product_attention: attn_mask has dtype {mask.dtype}; it must be bool or "
                        f"the query's dtype {dtype}")
    return mask  # a float mask is an input: if it requires grad, it gets dL/dS


@tensor_inputs("query", "key", "value")
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | np.ndarray | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v;  q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv) -> (..., Tq, dv)."""
    q, k, v = query, key, value
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query {q.shape}, key {k.shape}, value {v.shape} do not fit "
                         "(need query (..., Tq, d), key (..., Tk, d), value (..., Tk, dv))")
    op = "scaled_dot_product_attention"
    check_float(op, query=q._data, key=k._data, value=v._data)
    check_dtypes(op, q._data, k._data, "query vs key")
    check_dtypes(op, q._data, v._data, "query vs value")
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"scaled_dot_product_attention: the batch dims of query {q.shape}, key {k.shape} and "
                         f"value {v.shape} cannot be broadcast together") from None
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both (as PyTorch)")
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa=True is not supported")
    bias = _mask_bias(attn_mask, is_causal, q.shape[-2], k.shape[-2], q.dtype)
    if scale is None:  # 1 / sqrt(d); with d = 0 every score is 0 and any scale gives PyTorch's answer
        scale = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    scale = float(scale)
    inputs = (q, k, v) if bias is None else (q, k, v, bias)
    return ScaledDotProductAttention.apply(*inputs, scale=scale, dropout_p=dropout_p)
