"""Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""
from __future__ import annotations

import math

import numpy as np

from minigrad.ops.elementwise import tensor_inputs
from minigrad.engine import Context, Function
from minigrad.random import default_generator
from minigrad.tensor import Tensor


def dropout_keep(shape: tuple[int, ...], p: float) -> np.ndarray:
    """keep ~ Bernoulli(1 - p) as a bool array: which elements survive dropout.

    This is how minigrad draws every dropout mask (so the reference and the kernels draw the
    same ones): keep = (a uniform 16-bit integer >= round(p * 2^16)), four integers from each
    64-bit word of the generator, so P(keep) = 1 - p to within 2^-16.
    """
    if p >= 1.0:
        return np.zeros(shape, dtype=bool)
    n = math.prod(shape)
    bits = default_generator().bit_generator.random_raw((n + 3) // 4).view(np.uint16)[:n]
    return (bits >= keep_threshold(p)).reshape(shape)


def keep_threshold(p: float) -> np.uint16:
    """The smallest 16-bit draw that keeps an element: round(p * 2^16) (at most 2^16 - 1)."""
    return np.uint16(min(round(p * 65536.0), 65535))


def keep_scale(p: float) -> float:
    """1 / (1 - p): what a kept element is multiplied by (0 when p = 1: nothing is kept)."""
    return 0.0 if p >= 1.0 else 1.0 / (1.0 - p)


def apply_keep(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """x * keep / (1 - p): 0 where dropped."""
    return x * keep * x.dtype.type(keep_scale(p))


def dropout_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> np.ndarray:
    """keep / (1 - p) as numbers: the factor each element is multiplied by."""
    return apply_keep(np.ones(shape, dtype=dtype), dropout_keep(shape, p), p)


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")


def dropout_composed(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """y = x * mask: one Mul op, whose backward multiplies by the same mask."""
    _check_p(p)
    if not training or p == 0.0:
        return x
    return x * Tensor(dropout_mask(x.shape, p, x.dtype))  # each element: 0 or 1/(1-p)


class Dropout(Function):
    """y = x * keep / (1 - p), keep ~ Bernoulli(1 - p) drawn once per call."""

    draws_random = True  # the dropout mask

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, p: float) -> np.ndarray:
        keep = dropout_keep(x.shape, p)
        ctx.save_for_backward(keep)  # a bool per element
        ctx.p = p
        return apply_keep(x, keep, p)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (keep,) = ctx.saved_tensors
        return apply_keep(grad, keep, ctx.p)  # the same elements are dropped, the same scale applied


@tensor_inputs("input")
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """y = x * Bernoulli(1-p) / (1-p) in training, y = x in eval;  any shape -> same
    (inplace=True is accepted and computed out of place)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, p=p)
