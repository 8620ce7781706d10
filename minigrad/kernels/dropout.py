"""Dropout: the mask drawn across the cores with the very bits minigrad's dropout_keep draws, and
applied in cache-sized chunks.

Kernels, not formulas: stepping into one of these in a debugger lands in speed code. The formulas each
replaces are the reference Function it names in @replaces; `with minigrad.reference():`, or
MINIGRAD_REFERENCE=1 for a whole process, runs those instead.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from minigrad.engine import Context
from minigrad.functional.dropout import Dropout as Reference
from minigrad.functional.dropout import dropout_keep, keep_scale, keep_threshold
from minigrad.kernels.parallel import CHUNK, for_each_chunk
from minigrad.kernels.registry import replaces
from minigrad.random import default_generator

WORDS = 1 << 16  # 64-bit generator words per chunk of a mask: each gives four 16-bit draws
_own = threading.local()  # each thread's PCG64, reused: making one costs more than setting its state


def draw_keep(shape: tuple[int, ...], p: float) -> np.ndarray:
    """dropout_keep(shape, p), the same bits, drawn on every core at once.

    dropout_keep reads 64-bit words from minigrad's generator in order, four 16-bit draws each.
    A PCG64 generator can jump ahead (advance) to any word, so each chunk copies the generator,
    jumps to its first word and draws its own; then the generator is advanced past all of them,
    as one draw would have left it. (advance also drops the 32-bit half-word the generator keeps
    from an odd number of 32-bit draws, which random_raw leaves alone: it is put back.)
    """
    generator = default_generator().bit_generator
    n = math.prod(shape)
    if p >= 1.0 or not isinstance(generator, np.random.PCG64) or n <= 4 * WORDS:
        return dropout_keep(shape, p)
    threshold = keep_threshold(p)
    state, words = generator.state, (n + 3) // 4
    keep = np.empty(n, dtype=bool)

    def chunk(c: slice) -> None:
        own = getattr(_own, "generator", None) or _make_own()
        own.state = state
        own.advance(c.start)
        bits = own.random_raw(c.stop - c.start).view(np.uint16)[:n - 4 * c.start]
        np.greater_equal(bits, threshold, out=keep[4 * c.start:4 * c.start + len(bits)])

    for_each_chunk(words, WORDS, chunk)
    generator.advance(words)
    after = generator.state
    after["has_uint32"], after["uinteger"] = state["has_uint32"], state["uinteger"]
    generator.state = after
    return keep.reshape(shape)


def _make_own() -> np.random.PCG64:
    _own.generator = np.random.PCG64(0)
    return _own.generator


def apply_keep(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """x * keep / (1 - p) in one new array, chunk by chunk: the reference's arithmetic, in the same order."""
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
class DropoutKernel:
    @staticmethod
    def to_reference(ctx: Context) -> None:
        """For backward in reference mode: this kernel saves what the reference saves (the mask, ctx.p)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, p: float) -> np.ndarray:
        keep = draw_keep(x.shape, p)
        ctx.save_for_backward(keep)
        ctx.p = p
        return apply_keep(x, keep, p)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (keep,) = ctx.saved_tensors
        return apply_keep(grad, keep, ctx.p)
