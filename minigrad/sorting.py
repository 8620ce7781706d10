"""Sorting and counting, as torch's functions: sort, argsort, topk, unique, histogram, histc, bincount.

sort and topk return their values by indexing the input with the indices they found (the GetItem op,
x[index]), so the values carry the gradient back to the elements they came from, with no new backward.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from minigrad import ops
from minigrad.creation import write_out
from minigrad.tensor import Tensor


class SortResult(NamedTuple):  # torch.return_types.sort
    values: Tensor
    indices: Tensor


class TopkResult(NamedTuple):  # torch.return_types.topk
    values: Tensor
    indices: Tensor


class HistogramResult(NamedTuple):  # torch.return_types.histogram
    hist: Tensor
    bin_edges: Tensor


def _gather(input: Tensor, indices: np.ndarray, axis: int) -> Tensor:
    """input's elements at indices along axis (np.take_along_axis), through GetItem so gradients flow."""
    if input.ndim == 0:
        return ops.GetItem.apply(input, index=())
    grid = list(np.ix_(*[np.arange(n) for n in indices.shape]))
    grid[axis] = indices
    return ops.GetItem.apply(input, index=tuple(grid))


def _order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable order along axis; NaN sorts as the largest value, as in PyTorch."""
    if x.dtype == np.bool_:
        x = x.astype(np.int8)
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    flipped = np.flip(x, axis=axis)  # stable descending: reverse, sort ascending, reverse, renumber
    ascending = np.argsort(flipped, axis=axis, kind="stable")
    return x.shape[axis] - 1 - np.flip(ascending, axis=axis) if x.ndim else ascending


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False, out: Any = None) -> SortResult:
    """(values, indices) along dim, ascending unless descending; indices int64; equal values keep their order."""
    if out is not None:
        raise NotImplementedError("sort: out= is not supported")
    axis = ops.normalize_dim(dim, input.ndim, "sort") if input.ndim else 0
    indices = _order(input._data, axis, descending) if input.ndim else np.zeros((), np.int64)
    return SortResult(_gather(input, indices, axis), Tensor(indices.astype(np.int64)))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """sort(input, dim, descending).indices: int64."""
    return sort(input, dim, descending, stable=stable).indices


def topk(input: Tensor, k: int, dim: int | None = None, largest: bool = True, sorted: bool = True, *,  # noqa: A002
         out: Any = None) -> TopkResult:
    """The k largest (or smallest) values along dim (the last by default) and their int64 indices."""
    if out is not None:
        raise NotImplementedError("topk: out= is not supported")
    dim = -1 if dim is None else dim
    axis = ops.normalize_dim(dim, input.ndim, "topk") if input.ndim else 0
    size = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= size:
        raise IndexError(f"topk: k ({k}) is out of range for dimension {dim} of size {size}")
    if input.ndim == 0:
        return TopkResult(_gather(input, np.zeros((), np.int64), 0), Tensor(np.zeros((), np.int64)))
    indices = np.take(_order(input._data, axis, descending=largest), np.arange(k), axis=axis)
    return TopkResult(_gather(input, indices, axis), Tensor(indices.astype(np.int64)))


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim: int | None = None) -> Tensor | tuple[Tensor, ...]:
    """The distinct values in ascending order (flattened, or distinct slices along dim); optionally the
    index of each element's value (inverse, input's shape) and how often each occurs (counts)."""
    x = input._data
    axis = None if dim is None else ops.normalize_dim(dim, x.ndim, "unique")
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=axis)
    inverse = inverse.reshape(x.shape if axis is None else (x.shape[axis],))
    result = [Tensor(values)]
    if return_inverse:
        result.append(Tensor(inverse.astype(np.int64)))
    if return_counts:
        result.append(Tensor(counts.astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)


def _edges(x: np.ndarray, bins: int, lo: float, hi: float, op: str, widen: float) -> np.ndarray:
    if not np.isfinite([lo, hi]).all():
        raise ValueError(f"{op}: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise ValueError(f"{op}: max ({hi}) must be larger than or equal to min ({lo})")
    if lo == hi:  # PyTorch widens an empty range: by 0.5 on each side for histogram, by 1 for histc
        lo, hi = lo - widen, hi + widen
    return np.linspace(lo, hi, bins + 1, dtype=np.float64).astype(x.dtype)


def _counts(x: np.ndarray, edges: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """Bin i holds edges[i] <= x < edges[i+1]; the last bin also holds x == edges[-1]; outside: dropped."""
    inside = (x >= edges[0]) & (x <= edges[-1])
    pos = np.searchsorted(edges, x[inside], side="right") - 1
    pos = np.minimum(pos, len(edges) - 2)
    w = None if weight is None else weight[inside].astype(np.float64)
    return np.bincount(pos, weights=w, minlength=len(edges) - 1).astype(x.dtype)


def histogram(input: Tensor, bins: Any = 100, *, range: tuple[float, float] | None = None,  # noqa: A002
              weight: Tensor | None = None, density: bool = False, out: Any = None) -> HistogramResult:
    """(hist, bin_edges): counts (or weights' sums) of input's elements in bins equal-width bins over range
    (the data's min and max by default) or between the given edges; float input, float output."""
    if out is not None:
        raise NotImplementedError("histogram: out= is not supported")
    x = input._data.reshape(-1)
    if x.dtype.kind != "f":
        raise TypeError(f"histogram: input must be a float tensor, got dtype {x.dtype}")
    if isinstance(bins, Tensor):
        edges = bins._data.astype(x.dtype)
        if edges.ndim != 1 or edges.size < 1 or (np.diff(edges) < 0).any():
            raise ValueError(f"histogram: bins must be a 1-d tensor of increasing edges, got {bins._data!r}")
    else:
        if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins <= 0:
            raise ValueError(f"histogram: bins must be a positive int or a tensor of edges, got {bins!r}")
        lo, hi = range if range is not None else ((x.min(), x.max()) if x.size else (0.0, 1.0))
        edges = _edges(x, int(bins), float(lo), float(hi), "histogram", 0.5)
    w = None
    if weight is not None:
        if weight.shape != input.shape:
            raise ValueError(f"histogram: weight has shape {weight.shape}, input has shape {input.shape}")
        w = weight._data.reshape(-1)
    hist = _counts(x, edges, w)
    if density:
        with np.errstate(invalid="ignore", divide="ignore"):
            hist = (hist / (hist.sum() * np.diff(edges))).astype(x.dtype)
    return HistogramResult(Tensor(hist), Tensor(edges))


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0, *,  # noqa: A002
          out: Tensor | None = None) -> Tensor:
    """Counts in bins equal-width bins from min to max (both 0: the data's min and max); float input, (bins,)."""
    x = input._data.reshape(-1)
    if x.dtype.kind != "f":
        raise TypeError(f"histc: input must be a float tensor, got dtype {x.dtype}")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins <= 0:
        raise ValueError(f"histc: bins must be a positive int, got {bins!r}")
    lo, hi = float(min), float(max)
    if lo == hi and x.size:
        lo, hi = float(x.min()), float(x.max())
    result = _counts(x, _edges(x, int(bins), lo, hi, "histc", 1.0), None)
    return write_out(result, out, "histc") if out is not None else Tensor(result)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """counts[i] = number of elements equal to i (or the sum of their weights): 1-d non-negative ints ->
    (max(max + 1, minlength),), int64, or float64 / the weights' float dtype with weights."""
    x = input._data
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise ValueError(f"bincount: input must be a 1-d integer tensor, got {x.dtype} of shape {x.shape}")
    if x.size and x.min() < 0:
        raise ValueError(f"bincount: input must be non-negative, got a minimum of {x.min()}")
    if minlength < 0:
        raise ValueError(f"bincount: minlength must be non-negative, got {minlength}")
    if weights is None:
        return Tensor(np.bincount(x, minlength=minlength).astype(np.int64))
    w = weights._data
    if w.shape != x.shape:
        raise ValueError(f"bincount: weights has shape {w.shape}, input has shape {x.shape}")
    dtype = w.dtype if w.dtype == np.float32 else np.float64  # float32 weights stay float32, others: double
    return Tensor(np.bincount(x, weights=w.astype(np.float64), minlength=minlength).astype(dtype))


__all__ = ["sort", "argsort", "topk", "unique", "histogram", "histc", "bincount"]
