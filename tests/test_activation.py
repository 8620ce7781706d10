"""softmax, log_softmax, gelu, relu (fused and composed) against torch.nn.functional.

Run one family alone: `pytest tests/test_activation.py -k gelu`.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, MODES, check_op, mode, random_inputs
from minigrad.testing import check_twins

DTYPE_IDS = ["f64", "f32"]

# -- softmax and log_softmax ----------------------------------------------------------------------

# name -> (minigrad fn, PyTorch fn); each takes (x, dim)
SOFTMAXES = {
    "softmax": (F.softmax, torch.softmax),
    "softmax_composed": (F.softmax_composed, torch.softmax),
    "log_softmax": (F.log_softmax, torch.log_softmax),
    "log_softmax_composed": (F.log_softmax_composed, torch.log_softmax),
}
TWINS = {"softmax": (F.softmax, F.softmax_composed), "log_softmax": (F.log_softmax, F.log_softmax_composed)}
# (shape, dim): 1-D .. 4-D, positive and negative dims
SHAPE_DIMS = [((6,), 0), ((6,), -1), ((3, 5), 0), ((3, 5), -1), ((2, 3, 4), 1), ((2, 3, 4), -2),
              ((2, 3, 4, 5), 0), ((2, 3, 4, 5), 2), ((2, 3, 4, 5), -1)]
SHAPE_DIM_IDS = [f"{'x'.join(map(str, s))}-dim{d}" for s, d in SHAPE_DIMS]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,dim", SHAPE_DIMS, ids=SHAPE_DIM_IDS)
@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmax_family_matches_torch(name, shape, dim, dtype):
    ours, theirs = SOFTMAXES[name]
    check_op(lambda x: ours(x, dim=dim), lambda x: theirs(x, dim=dim), [shape], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,dim", SHAPE_DIMS, ids=SHAPE_DIM_IDS)
@pytest.mark.parametrize("name", TWINS)
def test_softmax_family_fused_equals_composed(name, shape, dim, dtype):
    fused, composed = TWINS[name]
    x = random_inputs([shape], dtype)
    check_twins(lambda t: fused(t, dim=dim), lambda t: composed(t, dim=dim), x)


# 0-d tensors and empty dims, as PyTorch: softmax of a 0-d tensor is 1, a size-0 dim gives an empty result
EDGE_SHAPE_DIMS = [((), 0), ((), -1), ((3, 0), -1), ((3, 0), 0), ((0, 4), -1), ((2, 0, 3), 1)]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,dim", EDGE_SHAPE_DIMS, ids=[f"{'x'.join(map(str, s)) or '0d'}-dim{d}" for s, d in EDGE_SHAPE_DIMS])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_on_0d_and_empty_tensors(name, shape, dim, dtype):
    ours, theirs = SOFTMAXES[name]
    check_op(lambda x: ours(x, dim=dim), lambda x: theirs(x, dim=dim), [shape], dtype)


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_dim_picks_pytorchs_legacy_dim_and_warns(name, ndim):
    """F.softmax(x) without dim: dim 0 for 0-, 1- and 3-d inputs, else 1, with PyTorch's warning."""
    x = random_inputs([(2, 3, 4, 5)[:ndim]], np.float64)[0]
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name} has been deprecated"):
        ours = getattr(F, name)(mg.Tensor(x))
    with pytest.warns(UserWarning):
        theirs = getattr(TF, name)(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument_casts_first(name):
    check_op(lambda x: getattr(F, name)(x, dim=1, dtype=mg.float64),
             lambda x: getattr(TF, name)(x, dim=1, dtype=torch.float64), [(2, 3)], np.float32)


# Logits where a naive exp(x) / sum(exp(x)) overflows, underflows or loses every digit.
INF = np.inf
HARD_LOGITS = {
    "plus_1e4": [[1e4, 1e4 + 1, 1e4 - 2, 1e4], [1e4, 1e4, 1e4 + 0.5, 1e4 - 0.5]],
    "minus_1e4": [[-1e4, -1e4 + 1, -1e4 - 2, -1e4], [-1e4, -1e4, -1e4 + 0.5, -1e4 - 0.5]],
    "mixed_1e4_and_0": [[1e4, 0.0, 0.0, -1e4], [0.0, 1e4, 1e4, 0.0]],
    "equal": [[3.0, 3.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0]],
    "tiny_1e-30": [[1e-30, -1e-30, 0.0, 2e-30], [3e-30, 1e-30, -2e-30, 0.0]],
    "masked_-inf": [[1.0, -INF, 0.5, -INF], [-INF, 2.0, -INF, -INF]],  # partially masked rows
}


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (out * dout).sum() of -inf
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", HARD_LOGITS)
@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmax_family_is_stable(name, case, dtype):
    """Values and gradients match PyTorch (-inf log-probabilities compare equal as infinities)."""
    ours, theirs = SOFTMAXES[name]
    x = np.array(HARD_LOGITS[case], dtype=dtype)
    check_op(lambda t: ours(t, dim=-1), lambda t: theirs(t, dim=-1), inputs=[x], dtype=dtype)
    t = mg.Tensor(x, requires_grad=True)
    ours(t, dim=-1).backward(np.ones(x.shape))
    assert np.isfinite(t.grad).all(), f"{name} on {case}: gradient {t.grad}"


@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmax_family_gradcheck(name):
    ours, _ = SOFTMAXES[name]
    x = mg.Tensor(random_inputs([(3, 4)], np.float64)[0], requires_grad=True)
    assert mg.gradcheck(lambda t: ours(t, dim=0), [x])


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_family_bad_dim_names_op(fn):
    with pytest.raises(IndexError, match=rf"{fn.__name__}: dim 2 is out of range for a 2-d tensor"):
        fn(mg.Tensor(np.zeros((3, 4))), dim=2)


# -- GELU -----------------------------------------------------------------------------------------

# name -> (minigrad fn, PyTorch fn)
GELUS = {
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "gelu_none": (lambda x: F.gelu(x, approximate="none"), lambda x: TF.gelu(x, approximate="none")),
    "gelu_composed": (F.gelu_composed, lambda x: TF.gelu(x, approximate="tanh")),
}
SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 3, 4, 5)]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name", GELUS)
def test_gelu_matches_torch(name, shape, dtype):
    ours, theirs = GELUS[name]
    check_op(ours, theirs, [shape], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_gelu_fused_equals_composed(shape, dtype):
    check_twins(lambda x: F.gelu(x, approximate="tanh"), F.gelu_composed, random_inputs([shape], dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", GELUS)
def test_gelu_large_inputs_are_finite(name, dtype):
    """x^3 in the tanh form reaches 1e12: finite, and still equal to PyTorch, in both dtypes."""
    ours, theirs = GELUS[name]
    x = np.array([-1e4, -1e3, -30.0, -5.0, -0.5, 0.0, 0.5, 5.0, 30.0, 1e3, 1e4], dtype=dtype)
    check_op(ours, theirs, inputs=[x], dtype=dtype)
    t = mg.Tensor(x, requires_grad=True)
    y = ours(t)
    y.backward(np.ones(x.shape))
    assert np.isfinite(y.numpy()).all() and np.isfinite(t.grad).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", GELUS)
def test_gelu_on_a_scalar_tensor(name, dtype):
    """A 0-d input (a single activation) works in every form, as in PyTorch."""
    ours, theirs = GELUS[name]
    check_op(ours, theirs, inputs=[np.array(0.7, dtype=dtype)], dtype=dtype)


@pytest.mark.parametrize("name", GELUS)
def test_gelu_gradcheck(name):
    ours, _ = GELUS[name]
    x = mg.Tensor(random_inputs([(3, 4)], np.float64, seed=3)[0] * 2, requires_grad=True)
    assert mg.gradcheck(ours, [x])


def test_gelu_bad_approximate_names_the_choices():
    with pytest.raises(ValueError, match=r'gelu: approximate must be "tanh" or "none", got \'erf\''):
        F.gelu(mg.Tensor(np.zeros(3)), approximate="erf")


# -- ReLU -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_relu_matches_torch(shape, dtype):
    check_op(F.relu, TF.relu, [shape], dtype)


def test_relu_gradcheck():
    x = random_inputs([(3, 4)], np.float64)[0]
    x = np.where(np.abs(x) < 0.1, 0.5, x)  # away from the kink at 0
    assert mg.gradcheck(F.relu, [mg.Tensor(x, requires_grad=True)])


# -- integer inputs: refused, as PyTorch refuses them ------------------------------------------------

INT_INPUT = np.array([[1, 2, 3], [-1, 0, 4]])
INTEGER_REFUSALS = {  # name -> (minigrad, torch, the op named in the message)
    "gelu_none": (F.gelu, TF.gelu, "gelu"),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), "gelu"),
    "softmax": (lambda x: F.softmax(x, dim=-1), lambda x: TF.softmax(x, dim=-1), "softmax"),
    "log_softmax": (lambda x: F.log_softmax(x, dim=-1), lambda x: TF.log_softmax(x, dim=-1), "log_softmax"),
    "softmax_dtype_int": (lambda x: F.softmax(x, dim=-1, dtype=np.int64),
                          lambda x: TF.softmax(x, dim=-1, dtype=torch.int64), "softmax"),
}


@pytest.mark.parametrize("np_dtype", [np.int64, np.uint8, np.bool_], ids=["int64", "uint8", "bool"])
@pytest.mark.parametrize("name", INTEGER_REFUSALS)
def test_integer_input_is_refused_as_in_torch(name, np_dtype):
    """gelu gave zeros (or float64), softmax overflowed: both frameworks refuse, kernels and reference alike."""
    ours, theirs, op = INTEGER_REFUSALS[name]
    x = INT_INPUT.astype(np_dtype)
    got = np.dtype(np.int64 if name == "softmax_dtype_int" else np_dtype)  # dtype=: cast first, then checked
    with pytest.raises((RuntimeError, NotImplementedError)):
        theirs(torch.tensor(x))
    for name_of_mode in MODES:
        with mode(name_of_mode), pytest.raises(
                TypeError, match=rf"^{op}: needs a floating-point tensor, got input of dtype {got}"):
            ours(mg.tensor(x))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_integers_with_a_float_dtype_matches_torch(name):
    """softmax(int, dtype=float32) is PyTorch's way: the cast comes first, then the check passes."""
    ours, theirs = getattr(F, name), getattr(TF, name)
    check_op(lambda x: ours(x, dim=-1, dtype=np.float32), lambda x: theirs(x, dim=-1, dtype=torch.float32),
             inputs=[INT_INPUT], rtol=1e-6, atol=1e-6)
