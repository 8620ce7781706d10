"""Matrix product against PyTorch: 1-D operands, batched and broadcast batch dims.

grad_a = grad @ b^T and grad_b = a^T @ grad, summed over every batch dim an operand was
broadcast along. A random upstream gradient (never ones) is what exposes a missing transpose.
Run one case alone, e.g. `pytest tests/test_matmul.py -k vector`.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import DTYPES, check_op


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


MATMUL_SHAPES = {
    "matrix_matrix": [(3, 4), (4, 5)],
    "vector_matrix": [(4,), (4, 5)],
    "matrix_vector": [(3, 4), (4,)],
    "vector_vector": [(4,), (4,)],
    "BTC_CD": [(2, 3, 4), (4, 5)],  # a Linear layer on a batch of token sequences
    "batch_batch": [(2, 3, 4), (2, 4, 5)],
    "broadcast_batch_dims": [(2, 1, 3, 4), (5, 4, 6)],  # batch dims (2, 1) and (5,) -> (2, 5)
    "matrix_batch": [(3, 4), (2, 4, 5)],  # a is broadcast along the batch
    "vector_batch": [(4,), (2, 4, 5)],
    "batch_vector": [(2, 3, 4), (4,)],
    "attention_scores": [(2, 3, 5, 4), (2, 3, 4, 5)],  # (B, nh, T, hs) @ (B, nh, hs, T)
    "one_by_one": [(1, 1), (1, 1)],
}


@pytest.mark.parametrize("name", MATMUL_SHAPES)
def test_matmul(name, dtype):
    fn = lambda a, b: a @ b  # noqa: E731
    check_op(fn, fn, MATMUL_SHAPES[name], dtype)


def test_matmul_same_tensor_both_sides(dtype):
    fn = lambda x: x @ x  # noqa: E731  (both gradients land on x)
    check_op(fn, fn, [(4, 4)], dtype)


def test_matmul_with_transposed_operand(dtype):
    fn = lambda q, k: q @ k.transpose(-2, -1)  # noqa: E731
    check_op(fn, fn, [(2, 5, 4), (2, 5, 4)], dtype)


W = np.arange(20, dtype=np.float64).reshape(4, 5) / 10 - 1  # a float64 NumPy constant


@pytest.mark.parametrize("side", ["x_np", "np_x"])
def test_matmul_with_numpy_constant(side, dtype):
    """A NumPy operand takes the tensor's dtype (float32 stays float32)."""
    tw = lambda x: torch.as_tensor(W, dtype=x.dtype)  # noqa: E731
    if side == "x_np":
        check_op(lambda x: x @ W, lambda x: x @ tw(x), [(3, 4)], dtype)
    else:
        check_op(lambda x: W.T @ x, lambda x: tw(x).T @ x, [(4, 2)], dtype)


def test_matmul_only_one_side_needs_grad(dtype):
    fn = lambda a, b: a @ b  # noqa: E731
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)).astype(dtype), rng.standard_normal((4, 2)).astype(dtype)
    check_op(fn, fn, dtype=dtype, inputs=[a, b], grad_inputs=[False, True])
    check_op(fn, fn, dtype=dtype, inputs=[a, b], grad_inputs=[True, False])


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shapes", [[(2, 3), (4, 5)], [(3,), (4,)], [(2, 3), (4,)], [(2, 5, 3), (2, 4, 6)]],
    ids=["matrix", "vector", "matrix_vector", "batch"],
)
def test_matmul_shape_mismatch_names_both_shapes(shapes):
    a, b = (mg.zeros(*s) for s in shapes)
    expected = rf"matmul: shapes {_re(shapes[0])} and {_re(shapes[1])} are not aligned"
    with pytest.raises(ValueError, match=expected):
        a @ b


def test_matmul_batch_dims_that_cannot_broadcast():
    with pytest.raises(ValueError, match=r"matmul: batch dims of \(2, 3, 4\) and \(3, 4, 5\) cannot"):
        mg.zeros(2, 3, 4) @ mg.zeros(3, 4, 5)


def test_matmul_with_0d_operand():
    with pytest.raises(ValueError, match=r"matmul: both operands need at least 1 dim"):
        mg.zeros(3) @ mg.tensor(2.0)


def test_matmul_dtype_mismatch():
    with pytest.raises(TypeError, match="matmul: dtype mismatch float32 vs float64"):
        mg.zeros(2, 3) @ mg.zeros(3, 2, dtype=np.float64)


def _re(shape: tuple) -> str:
    """A shape as a regex: (3,) -> '\\(3,\\)'."""
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")
