"""Where a trained ViT looks: [CLS] attention per layer and head, and attention rollout.

    logits, attentions = model(x, output_attentions=True)   # one (B, nh, T, T) per block
    maps = cls_attention(attentions)                          # (B, layers, heads, g, g)
    rolled = attention_rollout(attentions)                    # (B, g, g)

Token 0 is [CLS]; the T - 1 = g * g others are the patches, row by row.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _stacked(attentions: Sequence) -> np.ndarray:
    """The blocks' attention probabilities as one array: L x (B, nh, T, T) -> (B, L, nh, T, T)."""
    arrays = [np.asarray(getattr(a, "data", a), dtype=np.float64) for a in attentions]
    if not arrays or any(a.ndim != 4 or a.shape[-1] != a.shape[-2] or a.shape != arrays[0].shape for a in arrays):
        raise ValueError("explain: expected one (B, heads, T, T) attention array per block, all of one shape, got "
                         f"{[a.shape for a in arrays]}")
    return np.stack(arrays, axis=1)


def _grid(cls_row: np.ndarray) -> np.ndarray:
    """(..., T - 1) patch values -> (..., g, g), the patches' layout in the image."""
    side = math.isqrt(cls_row.shape[-1])
    if side * side != cls_row.shape[-1]:
        raise ValueError(f"explain: {cls_row.shape[-1]} patch tokens do not form a square grid")
    return cls_row.reshape(*cls_row.shape[:-1], side, side)


def cls_attention(attentions: Sequence) -> np.ndarray:
    """What [CLS] attends to, per block and head: attn[:, l, h, 0, 1:];  -> (B, L, nh, g, g)."""
    return _grid(_stacked(attentions)[..., 0, 1:])


def mean_cls_attention(attentions: Sequence) -> np.ndarray:
    """The tutorial repository's view: [CLS] attention averaged over every block and head;  -> (B, g, g)."""
    return cls_attention(attentions).mean(axis=(1, 2))


def attention_rollout(attentions: Sequence, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): how much [CLS]'s output draws on each patch through
    all the blocks;  -> (B, g, g).

    Each block mixes tokens by A = mean over heads of its attention, and its skip connection adds the
    tokens back: the block's token mixing is A' = residual * I + (1 - residual) * A (rows still sum
    to 1). Mixing compounds from the first block to the last: R = A'_L ... A'_2 A'_1. Row 0 of R,
    without the [CLS] column, is the rollout map.
    """
    if not 0.0 <= residual < 1.0:
        raise ValueError(f"attention_rollout: residual must be in [0, 1), got {residual}")
    mixing = _stacked(attentions).mean(axis=2)  # (B, L, T, T)
    tokens = mixing.shape[-1]
    rolled = np.broadcast_to(np.eye(tokens), mixing.shape[:1] + (tokens, tokens)).copy()  # (B, T, T)
    for layer in range(mixing.shape[1]):
        step = residual * np.eye(tokens) + (1.0 - residual) * mixing[:, layer]
        rolled = step @ rolled  # this block's mixing after all the earlier ones
    return _grid(rolled[:, 0, 1:])
