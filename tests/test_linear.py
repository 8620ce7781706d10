"""linear (fused and composed) against torch.nn.functional.linear.

Run alone: `pytest tests/test_linear.py -k linear`.
"""
import numpy as np
import pytest
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, check_op, check_refused, random_inputs
from minigrad.testing import check_twins

DTYPE_IDS = ["f64", "f32"]
IN, OUT = 5, 6
X_SHAPES = {"1d": (IN,), "2d": (4, IN), "3d": (2, 3, IN)}  # (..., in)
LINEARS = {"fused": F.linear, "composed": F.linear_composed}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("x", X_SHAPES)
@pytest.mark.parametrize("impl", LINEARS)
def test_linear_matches_torch(impl, x, bias, dtype):
    fn = LINEARS[impl]
    shapes = [X_SHAPES[x], (OUT, IN)] + ([(OUT,)] if bias else [])
    check_op(fn, TF.linear, shapes, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("x", X_SHAPES)
def test_linear_fused_equals_composed(x, bias, dtype):
    shapes = [X_SHAPES[x], (OUT, IN)] + ([(OUT,)] if bias else [])
    check_twins(F.linear, F.linear_composed, random_inputs(shapes, dtype))


@pytest.mark.parametrize("impl", LINEARS)
def test_linear_gradcheck(impl):
    arrays = random_inputs([(2, 3, IN), (OUT, IN), (OUT,)], np.float64)
    assert mg.gradcheck(LINEARS[impl], [mg.Tensor(a, requires_grad=True) for a in arrays])


def test_linear_wrong_in_features_names_both_shapes():
    x, w = mg.Tensor(np.zeros((4, 3))), mg.Tensor(np.zeros((OUT, IN)))
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 3\) has 3 features, "
                                         r"but weight of shape \(6, 5\) expects 5"):
        F.linear(x, w)


# name -> (input dtype, weight dtype, bias dtype or None, the argument the message names)
LINEAR_DTYPE_REFUSALS = {
    "int_input_float_weight": (np.int64, np.float32, None, r"int64 vs float32 \(input vs weight\)"),
    "float_input_int_weight": (np.float32, np.int64, None, r"float32 vs int64 \(input vs weight\)"),
    "float64_bias": (np.float32, np.float32, np.float64, r"float32 vs float64 \(input vs bias\)"),
    "int_bias": (np.float64, np.float64, np.int64, r"float64 vs int64 \(input vs bias\)"),
}


@pytest.mark.parametrize("case", LINEAR_DTYPE_REFUSALS)
def test_linear_refuses_mixed_dtypes_as_torch(case):
    """int input with a float weight gave float64 (reference) or a raw NumPy error (kernel); PyTorch refuses."""
    x_dtype, w_dtype, b_dtype, message = LINEAR_DTYPE_REFUSALS[case]
    x, w = np.arange(6).reshape(2, 3).astype(x_dtype), np.ones((4, 3), dtype=w_dtype)
    b = None if b_dtype is None else np.ones(4, dtype=b_dtype)
    check_refused(F.linear, TF.linear, [x, w, b], rf"^linear: dtype mismatch {message}")


def test_linear_of_integers_matches_torch():
    """int64 with int64 PyTorch computes in integers, and so does minigrad (no refusal needed)."""
    x, w, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(4, 3) - 5, np.arange(4)
    check_op(F.linear, TF.linear, inputs=[x, w, b])
