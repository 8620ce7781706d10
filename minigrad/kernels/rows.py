"""Row-wise helpers the kernels share: row sums through BLAS, and the kernels' softmax."""
from __future__ import annotations

from typing import Callable

import numpy as np

UNDERFLOW = 1e-10  # a row sum below this: the row's max is > ~23 below the array's max


def row_sums(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """scale * x.sum(-1, keepdims=True);  (..., n) -> (..., 1).

    Written as a product with a column of `scale`s: BLAS does it several times faster than
    NumPy's reduction over a short last axis (scale = 1/n gives the row means).
    """
    return x @ np.full((x.shape[-1], 1), scale, dtype=x.dtype)


def softmax_last_dim_(scores: Callable[[], np.ndarray], normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """e = exp(s - shift), in place in the array scores() returns, and its row sums (..., 1);
    e is divided by them (the softmax over the last dim) if normalize.

    One shift for the whole array, its max, instead of each row's max: a max over a short last
    axis costs more than the exp. Every row then sums to at most its length, never overflows, and
    only underflows if its own max sits far below the array's: then scores() is called again and
    each row is shifted by its own max instead (any per-row shift gives the same softmax). So is
    an array with a NaN (or +inf) in it: its max would make every row NaN, not just that row.
    """
    e = scores()
    e -= e.max(initial=-np.inf)
    np.exp(e, out=e)
    sums = row_sums(e)
    if e.size and not sums.min() >= UNDERFLOW:  # also a NaN anywhere: the shared max is NaN, every row too
        e = scores()
        e -= e.max(axis=-1, keepdims=True, initial=-np.inf)
        np.exp(e, out=e)
        sums = row_sums(e)
    if normalize:
        e /= sums
    return e, sums
