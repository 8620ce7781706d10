"""linear (fused and composed) against torch.nn.functional.linear.

Run alone: `pytest tests/test_linear.py -k linear`.
"""
import numpy as np
import pytest
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, check_op, random_inputs
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
