"""Movement ops against PyTorch: reshape/view, transpose, permute, flatten, (un)squeeze, expand,
indexing, chunk/split, cat/stack. Their backward only routes gradients back to where they came from.

Run one concept alone, e.g. `pytest tests/test_ops_movement.py -k getitem`.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import DTYPES, check_op


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


# name: (function, input shape); the same code runs on a minigrad and a torch tensor.
# The `* 1.0` in a few cases puts an op after the movement, so its gradient is not the identity.
MOVES = {
    "reshape_6x4": (lambda x: x.reshape(6, 4), (2, 3, 4)),
    "reshape_tuple": (lambda x: x.reshape((4, 6)), (2, 3, 4)),
    "reshape_minus1": (lambda x: x.reshape(4, -1, 2), (2, 3, 4)),
    "reshape_flat": (lambda x: x.reshape(-1), (2, 3, 4)),
    "reshape_0d_to_1": (lambda x: x.reshape(1, 1), ()),
    "view_2x12": (lambda x: x.view(2, 12), (2, 3, 4)),
    "transpose_0_2": (lambda x: x.transpose(0, 2), (2, 3, 4)),
    "transpose_neg": (lambda x: x.transpose(-1, -2), (2, 3, 4)),
    "transpose_same_dim": (lambda x: x.transpose(1, 1), (2, 3, 4)),
    "permute_2_0_1": (lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    "permute_tuple_neg": (lambda x: x.permute((0, -1, 1)), (2, 3, 4)),
    "T_matrix": (lambda x: x.T, (3, 4)),
    "T_column": (lambda x: x.T, (4, 1)),
    "flatten_all": (lambda x: x.flatten(), (2, 3, 4)),
    "flatten_from_1": (lambda x: x.flatten(1), (2, 3, 4)),
    "flatten_0_1": (lambda x: x.flatten(0, 1), (2, 3, 4)),
    "flatten_neg": (lambda x: x.flatten(-2, -1), (2, 3, 4, 5)),
    "flatten_patches": (lambda x: x.flatten(2).transpose(1, 2), (2, 3, 4, 4)),  # ViT: (B,C,h,w)->(B,hw,C)
    "unsqueeze_0": (lambda x: x.unsqueeze(0), (3, 4)),
    "unsqueeze_neg1": (lambda x: x.unsqueeze(-1), (3, 4)),
    "unsqueeze_mid": (lambda x: x.unsqueeze(1), (3, 4)),
    "squeeze_all": (lambda x: x.squeeze(), (1, 3, 1, 4)),
    "squeeze_dim": (lambda x: x.squeeze(2), (1, 3, 1, 4)),
    "squeeze_neg": (lambda x: x.squeeze(-4), (1, 3, 1, 4)),
    "squeeze_not_1": (lambda x: x.squeeze(1) * 1.0, (1, 3, 1, 4)),  # no-op, as in torch
    "squeeze_dims": (lambda x: x.squeeze((0, -2)), (1, 3, 1, 4)),  # several dims (PyTorch 2.0)
    "squeeze_dims_some_not_1": (lambda x: x.squeeze([0, 1]), (1, 3, 1, 4)),  # dims that are not 1 stay
    "squeeze_dims_none": (lambda x: x.squeeze([]) * 1.0, (1, 3, 1, 4)),
    # a 0-d tensor: dim 0 and -1 are allowed and change nothing, as in torch
    "squeeze_0d_dim0": (lambda x: x.squeeze(0) * 1.0, ()),
    "squeeze_0d_neg1": (lambda x: x.squeeze(-1) * 1.0, ()),
    "transpose_0d": (lambda x: x.transpose(0, -1) * 1.0, ()),
    "unsqueeze_0d": (lambda x: x.unsqueeze(-1), ()),
    "flatten_0d": (lambda x: x.flatten(), ()),
    "expand_lead": (lambda x: x.expand(2, 3, 4), (3, 1)),
    "expand_minus1": (lambda x: x.expand(-1, 4), (3, 1)),
    "expand_same": (lambda x: x.expand(3, 4) * 1.0, (3, 4)),
    "expand_tuple": (lambda x: x.expand((5, 1, 4)), (1, 1, 4)),
}


@pytest.mark.parametrize("name", MOVES)
def test_movement(name, dtype):
    fn, shape = MOVES[name]
    check_op(fn, fn, [shape], dtype)


# Indexing: the same index object works in both frameworks except integer arrays, which
# torch wants as tensors; `torch_index` converts them.
def torch_index(index):
    convert = lambda i: torch.as_tensor(i) if isinstance(i, np.ndarray) else i  # noqa: E731
    return tuple(convert(i) for i in index) if isinstance(index, tuple) else convert(index)


INDEXES = {
    "int": 1,
    "negative_int": -1,
    "slice": slice(1, 3),
    "slice_step": (slice(None), slice(None, None, 2)),
    "int_int_int": (1, 2, 3),
    "vit_cls_token": (slice(None), 0, slice(None)),  # x[:, 0, :]
    "ellipsis": (Ellipsis, 1),
    "ellipsis_slice": (0, Ellipsis, slice(1, 3)),
    "none": (None, slice(None), 1),
    "none_ellipsis": (Ellipsis, None),
    "int_array": np.array([1, 0]),
    "repeated_int_array": np.array([1, 1, 0, 1]),  # gradients of repeats add up
    "int_array_2d": np.array([[0, 1], [1, 1]]),
    "int_array_on_dim1": (slice(None), np.array([2, 0, 2])),
    "paired_int_arrays": (np.array([0, 1, 1]), np.array([2, 0, 2])),
    "list": [1, 0, 1],
    "bool_mask_dim0": np.array([True, False]),
}


@pytest.mark.parametrize("name", INDEXES)
def test_getitem(name, dtype):
    index = INDEXES[name]
    check_op(lambda x: x[index], lambda x: x[torch_index(index)], [(2, 3, 4)], dtype)


def test_getitem_with_a_minigrad_index_tensor(dtype):
    labels = np.array([3, 0, 1])  # e.g. picking each row's target logit
    rows = np.arange(3)
    check_op(
        lambda x: x[mg.Tensor(rows), mg.Tensor(labels)],
        lambda x: x[torch.as_tensor(rows), torch.as_tensor(labels)],
        [(3, 4)],
        dtype,
    )


def test_getitem_of_a_0d_result_is_a_tensor(dtype):
    check_op(lambda x: x[1, 2], lambda x: x[1, 2], [(3, 4)], dtype)


# chunk / split return lists: each piece is checked on its own (gradient lands in its slice).
PIECES = {
    "chunk_3_dim1": (lambda x: x.chunk(3, dim=1), (2, 7)),  # sizes 3, 3, 1
    "chunk_2_dim0": (lambda x: x.chunk(2), (4, 3)),
    "chunk_qkv": (lambda x: x.chunk(3, dim=-1), (2, 5, 12)),  # ViT: (B, T, 3C) -> 3 x (B, T, C)
    "split_2_dim0": (lambda x: x.split(2), (5, 3)),  # sizes 2, 2, 1
    "split_sizes": (lambda x: x.split([1, 4, 2], dim=1), (2, 7)),
    "split_neg_dim": (lambda x: x.split(3, dim=-1), (2, 3, 6)),
}


@pytest.mark.parametrize("name", PIECES)
def test_chunk_split(name, dtype):
    fn, shape = PIECES[name]
    n = len(fn(torch.zeros(shape)))
    assert len(fn(mg.zeros(*shape))) == n
    for k in range(n):
        check_op(lambda x: fn(x)[k], lambda x: fn(x)[k], [shape], dtype)


CAT_STACK = {
    "cat_dim0": ("cat", [(2, 3), (4, 3)], 0),
    "cat_dim1_three": ("cat", [(2, 1), (2, 3), (2, 2)], 1),
    "cat_neg_dim": ("cat", [(2, 3, 1), (2, 3, 4)], -1),
    "cat_one_tensor": ("cat", [(2, 3)], 0),
    "stack_dim0": ("stack", [(2, 3), (2, 3)], 0),
    "stack_dim1_three": ("stack", [(2, 3), (2, 3), (2, 3)], 1),
    "stack_neg_dim": ("stack", [(2, 3), (2, 3)], -1),
    "stack_0d": ("stack", [(), (), ()], 0),
}


@pytest.mark.parametrize("name", CAT_STACK)
def test_cat_stack(name, dtype):
    op, shapes, dim = CAT_STACK[name]
    ours, theirs = getattr(mg, op), getattr(torch, op)
    check_op(lambda *xs: ours(list(xs), dim=dim), lambda *xs: theirs(list(xs), dim=dim), shapes, dtype)


def test_cat_of_pieces_of_one_tensor(dtype):
    """split then cat in another order: both gradient contributions land on the one input."""
    fn = lambda x, cat: cat([x[:, 2:], x[:, :2], x[:, 1:3]], dim=1)  # noqa: E731
    check_op(lambda x: fn(x, mg.cat), lambda x: fn(x, torch.cat), [(3, 4)], dtype)


# -- errors -----------------------------------------------------------------------------------
def test_reshape_to_incompatible_size():
    with pytest.raises(ValueError, match=r"reshape: cannot view shape \(2, 3\) \(6 elements\) as \(4,\)"):
        mg.zeros(2, 3).reshape(4)


BAD_DIM_CALLS = {
    "transpose": lambda x: x.transpose(0, 3),
    "unsqueeze": lambda x: x.unsqueeze(4),
    "squeeze": lambda x: x.squeeze(-4),
    "flatten": lambda x: x.flatten(3),
    "permute": lambda x: x.permute(0, 1, 5),
    "split": lambda x: x.split(1, dim=3),
    "chunk": lambda x: x.chunk(2, dim=-4),
    "cat": lambda x: mg.cat([x, x], dim=3),
    "stack": lambda x: mg.stack([x, x], dim=5),
}


@pytest.mark.parametrize("op", BAD_DIM_CALLS)
def test_invalid_dim_names_op_and_dim(op):
    with pytest.raises(IndexError, match=rf"{op}: dim -?\d is out of range"):
        BAD_DIM_CALLS[op](mg.zeros(2, 3, 4))


def test_permute_not_a_permutation():
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0, 1\) are not a permutation"):
        mg.zeros(2, 3, 4).permute(0, 0, 1)


def test_expand_non_unit_dim():
    with pytest.raises(ValueError, match=r"expand: shape \(3, 2\) cannot be expanded to \(3, 4\)"):
        mg.zeros(3, 2).expand(3, 4)


@pytest.mark.parametrize(
    "index", [5, (0, 3), np.array([0, 2]), (slice(None), 7)], ids=["int", "tuple", "array", "slice_int"]
)
def test_getitem_out_of_range_names_shape(index):
    with pytest.raises(IndexError, match=r"getitem: .*out of bounds.*\(tensor shape \(2, 3\)\)"):
        mg.zeros(2, 3)[index]


def test_getitem_float_index_array():
    with pytest.raises(IndexError, match="getitem: index arrays must be integer or bool, got dtype float32"):
        mg.zeros(2, 3)[mg.Tensor([0.0, 1.0])]


def test_cat_mismatched_shapes():
    with pytest.raises(ValueError, match=r"cat: shapes \(2, 3\) and \(2, 4\) differ outside dim 0"):
        mg.cat([mg.zeros(2, 3), mg.zeros(2, 4)])


def test_cat_mismatched_dims_names_pytorchs_legacy_rule():
    with pytest.raises(ValueError, match=r"cat: the tensors must have the same number of dims, got shapes "
                                         r"\[\(0,\), \(5, 5\)\] \(PyTorch's legacy skipping of 1-d empty tensors"):
        mg.cat([mg.zeros(0), mg.zeros(5, 5)], dim=1)


def test_stack_mismatched_shapes():
    with pytest.raises(ValueError, match=r"stack: all shapes must be equal, got \[\(2, 3\), \(3, 2\)\]"):
        mg.stack([mg.zeros(2, 3), mg.zeros(3, 2)])


def test_cat_mixed_dtypes():
    with pytest.raises(TypeError, match=r"cat: all tensors must share one dtype"):
        mg.cat([mg.zeros(2, dtype=np.float32), mg.zeros(2, dtype=np.float64)])


def test_split_sizes_must_add_up():
    with pytest.raises(ValueError, match=r"split: sizes \[1, 2\] do not add up to 4"):
        mg.zeros(4, 2).split([1, 2])
