"""Row-wise helpers the kernels share: row and column sums through BLAS, and the kernels' softmax."""
from __future__ import annotations

from typing import Callable

import numpy as np

UNDERFLOW = 1e-10  # a row sum below this: the row's largest score is below about -23


def row_sums(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """scale * x.sum(-1, keepdims=True);  (..., n) -> (..., 1).

    Written as a product with a column of `scale`s: BLAS does it several times faster than
    NumPy's reduction over a short last axis (scale = 1/n gives the row means).
    """
    return x @ np.full((x.shape[-1], 1), scale, dtype=x.dtype)


def column_sums(x: np.ndarray) -> np.ndarray:
    """x.sum(axis=0) of an (n, d) array, as a product with a row of ones: (n, d) -> (d,).

    BLAS again: NumPy's reduction down the rows is several times slower (a bias's gradient).
    """
    return (np.ones((1, len(x)), dtype=x.dtype) @ x).reshape(x.shape[1:])


def softmax_last_dim_(scores: Callable[[], np.ndarray], normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """e = exp(s - shift), in place in the array scores() returns, and its row sums (..., 1);
    e is divided by them (the softmax over the last dim) if normalize.

    No shift at first: exp(s) itself, which saves two passes over the array (its max, then the
    subtraction), and any shift gives the same softmax. That is safe while every row sum stays
    finite and not tiny: scores above ~88 overflow float32's exp, a row whose scores all lie
    below ~-23 underflows. If any row does either (or holds a NaN), scores() is called again and
    each row is shifted by its own max, as the textbook softmax does.
    """
    e = scores()
    with np.errstate(over="ignore"):  # an overflow is caught below, by its infinite row sum
        np.exp(e, out=e)
    sums = row_sums(e)
    if e.size and not UNDERFLOW <= sums.min() <= sums.max() < np.inf:  # also a NaN anywhere
        e = scores()
        e -= e.max(axis=-1, keepdims=True, initial=-np.inf)
        np.exp(e, out=e)
        sums = row_sums(e)
    if normalize:
        e /= sums
    return e, sums
