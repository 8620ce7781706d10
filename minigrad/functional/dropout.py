"""Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""
from __future__ import annotations

import math

import numpy as np

from minigrad.engine import Context, Function
from minigrad.random import default_generator
from minigrad.tensor import Tensor


def dropout_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> np.ndarray:
    """keep / (1 - p) where keep ~ Bernoulli(1 - p): the factor each element is multiplied by.

    keep = (a uniform 32-bit integer >= p * 2^32): raw generator bits are ~2x cheaper than
    drawing floats, and P(keep) = 1 - p to within 2^-32.
    """
    if p >= 1.0:
        return np.zeros(shape, dtype=dtype)
    n = math.prod(shape)
    bits = default_generator().bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
    keep = (bits >= np.uint32(round(p * 2.0**32))).reshape(shape)
    return np.where(keep, dtype.type(1.0 / (1.0 - p)), dtype.type(0.0))


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")


def dropout_composed(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """y = x * mask: one Mul op, whose backward multiplies by the same mask."""
    _check_p(p)
    if not training or p == 0.0:
        return x
    return x * Tensor(dropout_mask(x.shape, p, x.dtype))


class Dropout(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, p: float) -> np.ndarray:
        mask = dropout_mask(x.shape, p, x.dtype)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (mask,) = ctx.saved_tensors
        return grad * mask  # the same elements are dropped, the same scale applied


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """y = x * Bernoulli(1-p) / (1-p) in training, y = x in eval;  any shape -> same."""
    _check_p(p)
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=p)
