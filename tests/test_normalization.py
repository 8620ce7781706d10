"""layer_norm (fused and composed) against torch.nn.functional.layer_norm.

Run alone: `pytest tests/test_normalization.py -k layer_norm`.
"""
import numpy as np
import pytest
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, check_op, check_refused, random_inputs
from minigrad.testing import check_twins

DTYPE_IDS = ["f64", "f32"]
# (input shape, normalized_shape as the caller writes it): an int, or a tuple of 1 or 2 dims
CASES = {
    "4x6-int": ((4, 6), 6),
    "2x3x8-int": ((2, 3, 8), 8),
    "2x3x8-tuple1": ((2, 3, 8), (8,)),
    "3x4x5-tuple2": ((3, 4, 5), (4, 5)),
    "2x3x4x5-tuple2": ((2, 3, 4, 5), (4, 5)),
}
AFFINE = ["weight+bias", "weight", "bias", "none"]
EPS = [1e-5, 0.1]  # 0.1 is large enough that ignoring eps would show


def as_tuple(normalized_shape) -> tuple:
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def layer_norm_pair(fn, normalized_shape, affine: str, eps: float):
    """(ours, torch's) as functions of (x, *params), params being weight and/or bias."""
    has_w, has_b = "weight" in affine, "bias" in affine
    ns = as_tuple(normalized_shape)

    def split(params):
        params = list(params)
        w = params.pop(0) if has_w else None
        b = params.pop(0) if has_b else None
        return w, b

    def ours(x, *params):
        return fn(x, normalized_shape, *split(params), eps=eps)

    def theirs(x, *params):
        w, b = split(params)
        if w is None and b is not None:  # PyTorch's double backward of layer_norm reads the weight whenever the
            return TF.layer_norm(x, ns, eps=eps) + b  # bias has a gradient ("Expected a proper Tensor but got None")
        return TF.layer_norm(x, ns, w, b, eps=eps)

    shapes = [ns] * (has_w + has_b)
    return ours, theirs, shapes


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("eps", EPS, ids=lambda e: f"eps{e}")
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fn", [F.layer_norm, F.layer_norm_composed], ids=["fused", "composed"])
def test_layer_norm_matches_torch(fn, case, affine, eps, dtype):
    x_shape, normalized_shape = CASES[case]
    ours, theirs, param_shapes = layer_norm_pair(fn, normalized_shape, affine, eps)
    check_op(ours, theirs, [x_shape, *param_shapes], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("case", CASES)
def test_layer_norm_fused_equals_composed(case, affine, dtype):
    x_shape, normalized_shape = CASES[case]
    fused, _, param_shapes = layer_norm_pair(F.layer_norm, normalized_shape, affine, 1e-5)
    composed, _, _ = layer_norm_pair(F.layer_norm_composed, normalized_shape, affine, 1e-5)
    check_twins(fused, composed, random_inputs([x_shape, *param_shapes], dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("fn", [F.layer_norm, F.layer_norm_composed], ids=["fused", "composed"])
def test_layer_norm_constant_row_has_no_nan(fn, dtype):
    """Variance 0: y = bias, and 1/sqrt(0 + eps) keeps values and gradients finite."""
    x, w, b = random_inputs([(3, 8), (8,), (8,)], dtype)
    x[1] = 0.7  # a constant row
    ours, theirs, _ = layer_norm_pair(fn, 8, "weight+bias", 1e-5)
    check_op(ours, theirs, inputs=[x, w, b], dtype=dtype)
    t = mg.Tensor(x, requires_grad=True)
    y = ours(t, mg.Tensor(w), mg.Tensor(b))
    y.backward(np.ones(y.shape))
    assert np.isfinite(y.numpy()).all() and np.isfinite(t.grad).all()


@pytest.mark.parametrize("affine", ["weight+bias", "none"])
@pytest.mark.parametrize("fn", [F.layer_norm, F.layer_norm_composed], ids=["fused", "composed"])
def test_layer_norm_gradcheck(fn, affine):
    ours, _, param_shapes = layer_norm_pair(fn, (3, 4), affine, 1e-5)
    arrays = random_inputs([(2, 3, 4), *param_shapes], np.float64)
    assert mg.gradcheck(ours, [mg.Tensor(a, requires_grad=True) for a in arrays])


def test_layer_norm_normalized_shape_must_end_the_input():
    with pytest.raises(ValueError, match=r"layer_norm: input shape \(2, 3, 4\) does not end in normalized_shape \(3,\)"):
        F.layer_norm(mg.Tensor(np.zeros((2, 3, 4))), 3)


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_layer_norm_param_shape_is_checked(name):
    params = {name: mg.Tensor(np.ones(5))}
    with pytest.raises(ValueError, match=rf"layer_norm: {name} has shape \(5,\), expected \(4,\)"):
        F.layer_norm(mg.Tensor(np.zeros((2, 4))), 4, **params)


# name -> (input dtype, weight dtype, the argument the message names)
LAYER_NORM_DTYPE_REFUSALS = {
    "int_input": (np.int64, None, "got input of dtype int64"),
    "uint8_input": (np.uint8, None, "got input of dtype uint8"),
    "int_weight": (np.float32, np.int64, "got weight of dtype int64"),
    "float64_weight": (np.float32, np.float64, r"dtype mismatch float32 vs float64 \(input vs weight\)"),
}


@pytest.mark.parametrize("case", LAYER_NORM_DTYPE_REFUSALS)
def test_layer_norm_refuses_integers_and_mixed_dtypes_as_torch(case):
    """An integer input gave float64 (reference) or crashed in NumPy (kernel); PyTorch refuses all of these."""
    x_dtype, w_dtype, message = LAYER_NORM_DTYPE_REFUSALS[case]
    x = np.arange(6).reshape(2, 3).astype(x_dtype)
    w = None if w_dtype is None else np.ones(3, dtype=w_dtype)
    check_refused(lambda x, w: F.layer_norm(x, (3,), w), lambda x, w: TF.layer_norm(x, (3,), w), [x, w],
                  rf"^layer_norm: .*{message}")
