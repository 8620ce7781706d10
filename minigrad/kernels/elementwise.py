"""Elementwise and movement ops: large same-shape adds across the cores, small integer powers as
products, and GetItem's gradient written instead of added up where no element is picked twice (basic
slicing: block by block, in parallel; integer arrays that pick distinct rows, such as PatchDropout's).

Kernels, not formulas: stepping into one of these in a debugger lands in speed code. The formulas each
replaces are the reference Function it names in @replaces; `with minigrad.reference():`, or
MINIGRAD_REFERENCE=1 for a whole process, runs those instead.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.engine import Context
from minigrad.kernels.parallel import CHUNK, for_each_chunk, rows_per_chunk
from minigrad.kernels.registry import replaces
from minigrad.ops.elementwise import Add as ReferenceAdd
from minigrad.ops.elementwise import PowScalar as ReferencePowScalar
from minigrad.ops.movement import GetItem as ReferenceGetItem


@replaces(ReferenceAdd)
class AddKernel:
    """a + b for two large float arrays of one shape and dtype (a residual connection), in chunks."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if not (a.shape == b.shape and a.dtype == b.dtype and a.dtype.kind == "f" and a.size > CHUNK
                and a.flags.c_contiguous and b.flags.c_contiguous):
            return ReferenceAdd.forward(ctx, a, b)
        out = np.empty_like(a)
        fa, fb, fo = a.reshape(-1), b.reshape(-1), out.reshape(-1)
        for_each_chunk(fa.size, CHUNK, lambda c: np.add(fa[c], fb[c], out=fo[c]))
        return out

    backward = staticmethod(ReferenceAdd.backward)  # grad, grad: nothing to compute


def _power(a: np.ndarray, c: float) -> np.ndarray:
    """a ** c, with the common exponents as products: NumPy's float power is much slower."""
    if c == 2.0:
        return a * a
    if c == 3.0:
        return a * a * a
    if c == 1.0:
        return a.copy()
    if c == 0.5:
        return np.sqrt(a)
    if c == -1.0:
        return a.dtype.type(1) / a  # not 1 / a: NumPy 1.26 makes that float64 for a 0-d float32 a
    return a ** a.dtype.type(c)


@replaces(ReferencePowScalar)
class PowScalarKernel:
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, exponent: float) -> np.ndarray:
        if a.dtype.kind != "f":
            return ReferencePowScalar.forward(ctx, a, exponent)
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return np.ones_like(a) if exponent == 0 else _power(a, exponent)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        c = ctx.exponent
        if c == 0.0:
            return np.zeros_like(grad)
        return grad * (a.dtype.type(c) * (np.ones_like(a) if c == 1.0 else _power(a, c - 1.0)))


def _basic_part(i: Any) -> bool:
    """A slice, an integer (not a bool), None or Ellipsis; anything else (an array, a list, a tuple,
    a bool) is advanced indexing, where an element may be picked more than once."""
    return (i is None or i is Ellipsis or isinstance(i, slice)
            or (isinstance(i, int | np.integer) and not isinstance(i, bool)))


def _basic(index: Any) -> bool:
    """Only slices, integers, None and Ellipsis: each element is picked at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(_basic_part(i) for i in items)


def _distinct_rows(index: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, int] | None:
    """For x[i0, i1, ..., ik-1] with integer arrays i (no slices, booleans or None) that pick each of
    x's leading-k-dims rows at most once (PatchDropout's x[rows, cols]): (the picked rows as flat
    indices over those k dims, in the result's order; k); else None."""
    items = index if isinstance(index, tuple) else (index,)
    if not items or len(items) > len(shape) or not all(
            isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items):
        return None
    k = len(items)
    flat = np.ravel_multi_index(np.broadcast_arrays(*items), shape[:k], mode="wrap").reshape(-1)  # wrap: -1 is the last
    return (flat, k) if len(np.unique(flat)) == len(flat) else None


@replaces(ReferenceGetItem)
class GetItemKernel:
    forward = staticmethod(ReferenceGetItem.forward)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        if not _basic(ctx.index):
            rows = _distinct_rows(ctx.index, ctx.in_shape)
            if rows is None:  # an element may be picked twice, or not an index of leading rows: add them up
                return ReferenceGetItem.backward(ctx, grad)
            flat, k = rows
            rest = ctx.in_shape[k:]
            out = np.zeros(ctx.in_shape, dtype=grad.dtype)
            out.reshape(math.prod(ctx.in_shape[:k]), *rest)[flat] = grad.reshape(len(flat), *rest)
            return out  # assignment, not np.add.at: no element is picked twice
        out = np.empty(ctx.in_shape, dtype=grad.dtype)
        index = ctx.index if isinstance(ctx.index, tuple) else (ctx.index,)
        if out.ndim == 0 or not index or index[0] != slice(None) or grad.ndim == 0 or len(grad) != len(out):
            out.fill(0)
            out[ctx.index] = grad  # assignment, not np.add.at: no element repeats, and it is much faster
            return out
        rest = index[1:]  # x[:, ...]: the gradient of rows c is zeros with grad's rows c written in

        def chunk(c: slice) -> None:
            block = out[c]
            block.fill(0)
            block[(slice(None), *rest)] = grad[c]

        for_each_chunk(len(out), rows_per_chunk(out[0].size), chunk)
        return out
