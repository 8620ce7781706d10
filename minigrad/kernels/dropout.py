"""Dropout: the mask (drawn as minigrad draws every mask) applied in cache-sized chunks."""
from __future__ import annotations

import numpy as np

from minigrad.engine import Context
from minigrad.functional.dropout import Dropout as Reference
from minigrad.functional.dropout import dropout_keep, keep_scale
from minigrad.kernels.parallel import for_each_chunk
from minigrad.kernels.registry import replaces

CHUNK = 1 << 16  # elements per chunk


def apply_keep(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """x * keep / (1 - p) in one new array: the reference's arithmetic, in the same order."""
    out = np.empty(x.shape, dtype=x.dtype)
    scale = x.dtype.type(keep_scale(p))
    if not (x.flags.c_contiguous and keep.flags.c_contiguous):
        np.multiply(x, keep, out=out)
        out *= scale
        return out
    flat_x, flat_keep, flat_out = x.reshape(-1), keep.reshape(-1), out.reshape(-1)

    def chunk(c: slice) -> None:
        o = np.multiply(flat_x[c], flat_keep[c], out=flat_out[c])  # bool -> 0 or x: cheaper than np.where
        o *= scale

    for_each_chunk(flat_x.size, CHUNK, chunk)
    return out


@replaces(Reference)
class Dropout:
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, p: float) -> np.ndarray:
        keep = dropout_keep(x.shape, p)
        ctx.save_for_backward(keep)
        ctx.p = p
        return apply_keep(x, keep, p)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (keep,) = ctx.saved_tensors
        return apply_keep(grad, keep, ctx.p)
