"""Matrix product with NumPy's `@` semantics: 1-D operands and broadcast batch dims."""
from __future__ import annotations

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops.elementwise import check_dtypes


def _swap_last(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


class MatMul(Function):
    """out = a @ b;  grad_a = grad @ b^T,  grad_b = a^T @ grad  (summed over broadcast batch dims)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}")
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                f"(last dim of a is {k_a}, {'first' if b.ndim == 1 else 'second-to-last'} dim of b is {k_b})"
            )
        check_dtypes("matmul", a, b)
        try:
            out = a @ b
        except ValueError:
            raise ValueError(f"matmul: batch dims of {a.shape} and {b.shape} cannot be broadcast") from None
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        a, b = ctx.saved_tensors
        # A 1-D operand is a matrix with a unit dim that the product dropped: put it back.
        a2 = a[None, :] if a.ndim == 1 else a  # (n,) -> (1, n)
        b2 = b[:, None] if b.ndim == 1 else b  # (n,) -> (n, 1)
        g = grad
        if b.ndim == 1:
            g = np.expand_dims(g, -1)  # (..., m) -> (..., m, 1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)  # (..., n) -> (..., 1, n); () -> (1,) -> (1, 1) for vector @ vector
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = g @ _swap_last(b2)  # (..., m, k) @ (..., k, n)^T
            if a.ndim == 1:
                grad_a = grad_a[..., 0, :]
        if ctx.needs_input_grad[1]:
            grad_b = _swap_last(a2) @ g  # (..., k, m) @ (..., m, n); the engine sums broadcast batch dims
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b
