"""scaled_dot_product_attention (and attention_composed) against PyTorch.

Run alone: `pytest tests/test_attention.py`, or one case: `-k causal`.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch.nn.attention import SDPBackend, sdpa_kernel

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, check_op, check_refused, random_inputs
from minigrad.testing import check_twins, seeded

from attention_rows import far_apart_rows, overflowing_rows

DTYPE_IDS = ["f64", "f32"]
sdpa = F.scaled_dot_product_attention


def torch_sdpa(*args, **kwargs):
    """PyTorch's scaled_dot_product_attention on its math backend (matmul, softmax, matmul), which has a double
    backward: its CPU flash kernel has none ("derivative for aten::_scaled_dot_product_flash_attention_for_cpu_
    backward is not implemented")."""
    with sdpa_kernel(SDPBackend.MATH):
        return TF.scaled_dot_product_attention(*args, **kwargs)


def bool_mask(tq: int, tk: int) -> np.ndarray:
    """A random keep-mask (True = may attend) in which every query keeps at least one key."""
    keep = np.random.default_rng(5).random((tq, tk)) < 0.6
    keep[:, 0] = True
    return keep


def float_mask(tq: int, tk: int) -> np.ndarray:
    """An additive mask: random biases, and -inf where bool_mask says no."""
    bias = np.random.default_rng(6).standard_normal((tq, tk))
    return np.where(bool_mask(tq, tk), bias, -np.inf)


# name -> (q, k, v shapes, keyword arguments shared by both frameworks)
CASES = {
    "B2_h3_T5_d4": (((2, 3, 5, 4),) * 3, {}),
    "3d_B2_T5_d4": (((2, 5, 4),) * 3, {}),
    "Tq3_Tk6": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)), {}),
    "dv7_ne_d4": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 7)), {}),
    "bool_mask": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)), {"attn_mask": bool_mask(3, 6)}),
    "bool_mask_per_batch": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)),
                            {"attn_mask": np.stack([bool_mask(3, 6), bool_mask(3, 6)[:, ::-1]])[:, None]}),
    "float_mask": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)), {"attn_mask": float_mask(3, 6)}),
    "causal": (((2, 2, 5, 4),) * 3, {"is_causal": True}),
    "causal_Tq4_Tk6": (((2, 2, 4, 4), (2, 2, 6, 4), (2, 2, 6, 4)), {"is_causal": True}),
    "scale_0.3": (((2, 2, 5, 4),) * 3, {"scale": 0.3}),
    "head_size_0": (((2, 3, 0), (2, 5, 0), (2, 5, 4)), {}),  # scores all 0: every key weighs the same
}


def torch_kwargs(kwargs: dict, dtype) -> dict:
    """The same arguments for PyTorch: a float mask has the inputs' dtype."""
    kw = dict(kwargs)
    if "attn_mask" in kw:
        mask = kw["attn_mask"]
        kw["attn_mask"] = torch.tensor(mask if mask.dtype == bool else mask.astype(dtype))
    return kw


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", CASES)
def test_sdpa_matches_torch(case, dtype):
    shapes, kwargs = CASES[case]
    check_op(lambda q, k, v: sdpa(q, k, v, **kwargs),
             lambda q, k, v: torch_sdpa(q, k, v, **torch_kwargs(kwargs, dtype)),
             shapes, dtype)


def test_sdpa_mask_may_be_a_tensor():
    shapes, kwargs = CASES["bool_mask"]
    q, k, v = [mg.Tensor(a) for a in random_inputs(shapes, np.float64)]
    from_array = sdpa(q, k, v, attn_mask=kwargs["attn_mask"])
    from_tensor = sdpa(q, k, v, attn_mask=mg.Tensor(kwargs["attn_mask"]))
    np.testing.assert_array_equal(from_tensor.numpy(), from_array.numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sdpa_broadcasts_batch_dims_forward_and_backward(dtype):
    """query (4, 3, 8) against key/value (4, 4, 6, 8): the batch dims broadcast, and every gradient
    is summed back to its input's shape."""
    check_op(sdpa, torch_sdpa, [(4, 3, 8), (4, 4, 6, 8), (4, 4, 6, 8)], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sdpa_float_mask_that_requires_grad_gets_its_gradient(dtype):
    check_op(lambda q, k, v, m: sdpa(q, k, v, attn_mask=m),
             lambda q, k, v, m: torch_sdpa(q, k, v, attn_mask=m),
             [(2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4), (2, 1, 3, 6)], dtype)


def test_sdpa_mask_of_another_float_dtype_is_refused():
    q = mg.Tensor(np.zeros((2, 3, 4), dtype=np.float32))
    with pytest.raises(TypeError, match=r"attn_mask has dtype float64; it must be bool or the query's dtype float32"):
        sdpa(q, q, q, attn_mask=mg.Tensor(np.zeros((3, 3))))


def test_sdpa_mask_and_is_causal_together_are_refused():
    q = mg.Tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"give attn_mask or is_causal=True, not both"):
        sdpa(q, q, q, attn_mask=np.ones((3, 3), dtype=bool), is_causal=True)


# -- attention_composed: the tutorial's softmax(q k^T / sqrt(d)) v, no mask -------------------------

COMPOSED_CASES = ["B2_h3_T5_d4", "3d_B2_T5_d4", "Tq3_Tk6", "dv7_ne_d4"]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", COMPOSED_CASES)
def test_attention_composed_matches_torch(case, dtype):
    shapes, _ = CASES[case]
    check_op(lambda q, k, v: F.attention_composed(q, k, v), torch_sdpa, shapes, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("dropout_p", [0.0, 0.3])
@pytest.mark.parametrize("case", COMPOSED_CASES)
def test_sdpa_fused_equals_composed(case, dropout_p, dtype):
    """Same seed, same dropout mask: equal outputs and gradients, with and without dropout."""
    shapes, _ = CASES[case]
    check_twins(seeded(lambda q, k, v: sdpa(q, k, v, dropout_p=dropout_p)),
                seeded(lambda q, k, v: F.attention_composed(q, k, v, dropout_p=dropout_p)),
                random_inputs(shapes, dtype))


# -- dropout on the attention probabilities ----------------------------------------------------------

P = 0.4
DROP_SHAPES = ((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 5))


def dropout_factor(q, k, v, dtype) -> np.ndarray:
    """The 0 or 1/(1-p) factor seeded sdpa applied to each probability: the composed twin, seeded
    alike, draws the same mask and returns the dropped probabilities (probs are all > 0)."""
    _, dropped = seeded(F.attention_composed)(mg.Tensor(q), mg.Tensor(k), mg.Tensor(v), dropout_p=P)
    return np.where(dropped.numpy() != 0, 1 / (1 - P), 0).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sdpa_dropout_matches_torch_with_same_mask(dtype):
    q, k, v = random_inputs(DROP_SHAPES, dtype)
    factor = torch.tensor(dropout_factor(q, k, v, dtype))
    assert 0 < (factor == 0).sum() < factor.numel()

    def torch_fn(q, k, v):
        probs = torch.softmax(q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1]), dim=-1)
        return (probs * factor) @ v

    check_op(seeded(lambda q, k, v: sdpa(q, k, v, dropout_p=P)), torch_fn, inputs=[q, k, v], dtype=dtype)


@pytest.mark.parametrize("kwargs", [{}, {"dropout_p": P}, {"attn_mask": float_mask(3, 6), "scale": 0.3},
                                    {"is_causal": True}], ids=["plain", "dropout", "float_mask_scale", "causal"])
def test_sdpa_gradcheck(kwargs):
    arrays = random_inputs(DROP_SHAPES, np.float64)
    fn = seeded(lambda q, k, v: sdpa(q, k, v, **kwargs))  # reseeded: one dropout mask for every call
    assert mg.gradcheck(fn, [mg.Tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("dropout_p", [0.0, P], ids=["eval", "dropout"])
def test_attention_composed_gradcheck(dropout_p):
    arrays = random_inputs(DROP_SHAPES, np.float64)
    fn = seeded(lambda q, k, v: F.attention_composed(q, k, v, dropout_p=dropout_p)[0])  # (out, probs)
    assert mg.gradcheck(fn, [mg.Tensor(a, requires_grad=True) for a in arrays])


# -- errors ------------------------------------------------------------------------------------------

BAD_SHAPES = {
    "d_mismatch": ((2, 5, 4), (2, 5, 3), (2, 5, 4)),
    "Tk_mismatch": ((2, 5, 4), (2, 6, 4), (2, 5, 4)),
}


@pytest.mark.parametrize("case", BAD_SHAPES)
def test_sdpa_mismatched_shapes_name_all_three(case):
    q, k, v = (mg.Tensor(np.zeros(s)) for s in BAD_SHAPES[case])
    pattern = rf"scaled_dot_product_attention: query {q.shape}, key {k.shape}, value {v.shape} do not fit"
    with pytest.raises(ValueError, match=pattern.replace("(", r"\(").replace(")", r"\)")):
        sdpa(q, k, v)


def test_sdpa_bad_dropout_p():
    q = mg.Tensor(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: dropout_p must be in \[0, 1\], got 1.5"):
        sdpa(q, q, q, dropout_p=1.5)


@pytest.mark.parametrize("rows", [far_apart_rows, overflowing_rows], ids=["underflow", "overflow"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_sdpa_rows_that_underflow_or_overflow_take_the_per_row_fallback(dtype, rows):
    """Score rows ~60 apart: unshifted, exp underflows the low row to all zeros (0 / 0); with a row
    scoring ~100 it overflows float32 (inf / inf). Either way the op must shift each row by its own
    max and match PyTorch."""
    check_op(lambda a, b, c: F.scaled_dot_product_attention(a, b, c),
             lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c),
             inputs=[np.asarray(t, dtype=dtype) for t in rows()])


# name -> (query, key, value dtypes, what the message says)
SDPA_DTYPE_REFUSALS = {
    "float64_key": ((np.float32, np.float64, np.float32), r"dtype mismatch float32 vs float64 \(query vs key\)"),
    "float64_value": ((np.float32, np.float32, np.float64), r"dtype mismatch float32 vs float64 \(query vs value\)"),
    "float32_key_of_float64": ((np.float64, np.float32, np.float64),
                               r"dtype mismatch float64 vs float32 \(query vs key\)"),
    "int_query": ((np.int64, np.int64, np.int64), "needs a floating-point tensor, got query of dtype int64"),
    "int_value": ((np.float32, np.float32, np.int64), "needs a floating-point tensor, got value of dtype int64"),
}


@pytest.mark.parametrize("case", SDPA_DTYPE_REFUSALS)
def test_sdpa_refuses_mixed_and_integer_dtypes_as_torch(case):
    """q float32 with k float64 gave float32 (kernel) or float64 (reference); PyTorch refuses it."""
    dtypes, message = SDPA_DTYPE_REFUSALS[case]
    arrays = [np.ones(shape, dtype=d) for shape, d in zip([(2, 3, 4), (2, 5, 4), (2, 5, 4)], dtypes)]
    check_refused(sdpa, TF.scaled_dot_product_attention, arrays, rf"^scaled_dot_product_attention: {message}")
