"""Attention inputs whose score rows defeat an unshifted softmax, shared by the kernel tests
(kernel against reference) and the attention tests (against PyTorch)."""
import numpy as np


def far_apart_rows() -> list[np.ndarray]:
    """q, k, v whose score rows sit ~60 apart: unshifted, exp underflows the low rows to 0 / 0,
    so the kernel's softmax must take its per-row fallback."""
    rng = np.random.default_rng(7)
    q = rng.standard_normal((2, 3, 4)) * 0.1
    k = np.ones((2, 5, 4)) + rng.standard_normal((2, 5, 4)) * 0.1
    q[0, 0] += 30.0
    q[1, 2] -= 30.0
    return [q, k, rng.standard_normal((2, 5, 6))]


def overflowing_rows() -> list[np.ndarray]:
    """q, k, v with one row of scores near 100: exp overflows float32 there (exp(89) = inf), so
    the kernel's unshifted softmax must take its per-row fallback."""
    q, k, v = far_apart_rows()
    q[1, 1] += 50.0  # scores ~ 50 * 4 / sqrt(4) = 100
    return [q, k, v]
