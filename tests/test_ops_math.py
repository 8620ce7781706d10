"""More math against PyTorch: sin, cos, log10, ..., where, maximum / minimum, the zero-gradient steps
(sign, floor, ...), cumsum, prod, t(), and the axis= / keepdims= spellings of dim= / keepdim=.

Run one op alone, e.g. `pytest tests/test_ops_math.py -k log1p`.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import DTYPES, check_finite_differences, check_op, check_refused


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


# -- unary math: the Tensor method, then the top-level function ------------------------------------
# name: inputs (None: standard normal, "positive": 0.5 + |N(0, 1)|, "above_minus_1": |N(0, 1)| - 0.5)
UNARY = {"sin": None, "cos": None, "log10": "positive", "log2": "positive", "log1p": "above_minus_1",
         "expm1": None, "exp2": None, "square": None, "rsqrt": "positive"}
LOW = {None: None, "positive": 0.5, "above_minus_1": -0.5}


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)], ids=["scalar", "5", "2x3x4"])
@pytest.mark.parametrize("name", UNARY)
def test_unary_math(name, shape, dtype):
    method = lambda x: getattr(x, name)()  # noqa: E731
    check_op(method, method, [shape], dtype, low=LOW[UNARY[name]])
    check_op(getattr(mg, name), getattr(torch, name), [shape], dtype, low=LOW[UNARY[name]])
    check_finite_differences(method, [shape], low=LOW[UNARY[name]])


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)], ids=["scalar", "5", "2x3x4"])
def test_erf(shape, dtype):
    """The Erf op (what gelu's exact form is differentiated through, at every order): as torch.erf."""
    check_op(mg.ops.Erf.apply, torch.erf, [shape], dtype)
    check_finite_differences(mg.ops.Erf.apply, [shape])


def test_log1p_and_expm1_are_exact_for_small_inputs():
    x = np.array([1e-12, -3e-15, 2e-9])
    for name in ("log1p", "expm1"):
        check_op(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), inputs=[x])


STEPS = ["sign", "floor", "ceil", "round", "trunc"]


@pytest.mark.parametrize("name", STEPS)
def test_steps_have_zero_gradient(name, dtype):
    x = np.array([[-2.5, -1.5, -0.7, 0.0], [0.5, 1.5, 2.49, 3.7]], dtype=dtype)  # halves round to even
    check_op(getattr(mg, name), getattr(torch, name), inputs=[x])


@pytest.mark.parametrize("decimals", [2, -1])
def test_round_decimals(decimals, dtype):
    fn = lambda x: x.round(decimals=decimals)  # noqa: E731
    check_op(fn, fn, [(4, 5)], dtype)


INTEGER_INPUTS = ["sin", "cos", "log10", "log2", "log1p", "expm1", "exp2", "rsqrt", "square", "sign", "floor",
                  "round", "cumsum", "prod"]


@pytest.mark.parametrize("np_dtype", [np.int64, np.int32, np.bool_], ids=["int64", "int32", "bool"])
@pytest.mark.parametrize("name", INTEGER_INPUTS)
def test_integer_inputs_give_pytorchs_dtype(name, np_dtype):
    """sin of an int is float32, square of a bool int64, cumsum of an int32 int64: as PyTorch."""
    x = np.array([[1, 4, 1], [2, 9, 3]]).astype(np_dtype)
    if np_dtype == np.bool_ and name in ("floor", "round"):
        check_refused(getattr(mg, name), getattr(torch, name), [x], f"^{name}: not supported for a bool tensor")
        return
    args = (0,) if name == "cumsum" else ()
    ours, theirs = getattr(mg, name)(mg.tensor(x), *args), getattr(torch, name)(torch.tensor(x), *args)
    assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


# -- where, maximum, minimum ------------------------------------------------------------------------
MASK = np.array([[True, False, True, False], [False, True, True, False], [True, True, False, False]])


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(), (3, 1)]], ids=["same", "row", "broadcast"])
def test_where(shapes, dtype):
    ours = lambda a, b: mg.where(mg.tensor(MASK), a, b)  # noqa: E731
    check_op(ours, lambda a, b: torch.where(torch.tensor(MASK), a, b), shapes, dtype)
    check_op(lambda a, b: a.where(mg.tensor(MASK), b), lambda a, b: a.where(torch.tensor(MASK), b), shapes, dtype)


def test_where_with_numbers_and_indices():
    x = mg.tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    y = mg.where(x > 0, x, 0.0)  # relu, as learners write it
    y.backward(mg.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0], [0, 1]])
    assert mg.where(mg.tensor([True, False]), 1.0, 0.0).dtype == np.float32
    rows, cols = mg.where(x > 0)
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1] and rows.dtype == np.int64
    check_refused(lambda c, a, b: mg.where(c, a, b), torch.where, [np.ones(2), np.ones(2), np.ones(2)],
                  "^where: condition must be a bool")


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 4), (3, 1)]], ids=["same", "row", "both"])
def test_maximum_minimum(name, shapes, dtype):
    check_op(getattr(mg, name), getattr(torch, name), shapes, dtype)
    check_finite_differences(getattr(mg, name), shapes)


@pytest.mark.parametrize("name", ["maximum", "minimum", "max", "min"])
def test_ties_split_the_gradient_half_and_half(name, dtype):
    a = np.array([[1.0, 2.0, np.nan], [0.5, 3.0, 1.0]], dtype=dtype)
    b = np.array([[1.0, 1.0, 0.0], [0.5, 3.0, 2.0]], dtype=dtype)  # three ties, a NaN
    check_op(getattr(mg, name), getattr(torch, name), inputs=[a, b])


# -- cumsum and prod ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum(dim, dtype):
    check_op(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), [(3, 4, 5)], dtype)
    check_op(lambda x: mg.cumsum(x, dim=dim), lambda x: torch.cumsum(x, dim=dim), [(3, 4)], dtype)
    check_finite_differences(lambda x: x.cumsum(dim), [(3, 4)])


PRODS = {"all": ((3, 4), {}), "dim_1": ((2, 3, 4), {"dim": 1}), "dim_0_keepdim": ((3, 4), {"dim": 0, "keepdim": True}),
         "scalar": ((), {"dim": 0})}


@pytest.mark.parametrize("name", PRODS)
def test_prod(name, dtype):
    shape, kwargs = PRODS[name]
    check_op(lambda x: x.prod(**kwargs), lambda x: x.prod(**kwargs), [shape], dtype)
    check_finite_differences(lambda x: x.prod(**kwargs), [shape])


@pytest.mark.parametrize("dim", [None, 1])
def test_prod_gradient_with_zeros(dim, dtype):
    x = np.array([[0.5, 0.0, 2.0], [0.0, 3.0, 0.0], [1.5, -2.0, 0.5]], dtype=dtype)  # one zero, two, none
    fn = (lambda t: t.prod()) if dim is None else (lambda t: t.prod(dim))
    check_op(fn, fn, inputs=[x])


# -- t(), nelement(), and the NumPy spellings axis= / keepdims= ----------------------------------------
@pytest.mark.parametrize("shape", [(), (4,), (3, 4)], ids=["scalar", "vector", "matrix"])
def test_t(shape, dtype):
    check_op(lambda x: x.t(), lambda x: x.t(), [shape], dtype)
    check_op(mg.t, torch.t, [shape], dtype)


def test_t_refuses_more_than_two_dims_and_nelement_is_numel():
    check_refused(lambda x: x.t(), lambda x: x.t(), [np.ones((2, 3, 4))], r"^t: expects .*\(2, 3, 4\)", ValueError)
    assert mg.ones(2, 3).nelement() == 6


AXIS_CALLS = {  # name: (minigrad call, PyTorch call), both with axis= and keepdims=
    "torch.sum": (lambda x: mg.sum(x, axis=1, keepdims=True), lambda x: torch.sum(x, axis=1, keepdims=True)),
    "torch.mean": (lambda x: mg.mean(x, axis=(0, 2)), lambda x: torch.mean(x, axis=(0, 2))),
    "torch.max": (lambda x: mg.max(x, axis=1, keepdims=True), lambda x: torch.max(x, axis=1, keepdims=True)),
    "torch.min": (lambda x: mg.min(x, axis=-1), lambda x: torch.min(x, axis=-1)),
    "torch.std": (lambda x: mg.std(x, axis=0, keepdims=True), lambda x: torch.std(x, axis=0, keepdims=True)),
    "torch.var": (lambda x: mg.var(x, axis=2), lambda x: torch.var(x, axis=2)),
    "torch.softmax": (lambda x: mg.softmax(x, axis=1), lambda x: torch.softmax(x, axis=1)),
    "torch.cumsum": (lambda x: mg.cumsum(x, axis=1), lambda x: torch.cumsum(x, axis=1)),
    "torch.prod": (lambda x: mg.prod(x, axis=1, keepdims=True), lambda x: torch.prod(x, axis=1, keepdims=True)),
    "Tensor.std": (lambda x: x.std(axis=1), lambda x: x.std(axis=1)),
    "Tensor.var": (lambda x: x.var(axis=1, keepdims=True), lambda x: x.var(axis=1, keepdims=True)),
    "Tensor.prod": (lambda x: x.prod(axis=2), lambda x: x.prod(axis=2)),
    "Tensor.cumsum": (lambda x: x.cumsum(axis=0), lambda x: x.cumsum(axis=0)),
}


@pytest.mark.parametrize("name", AXIS_CALLS)
def test_axis_and_keepdims_spellings(name, dtype):
    check_op(*AXIS_CALLS[name], [(2, 3, 4)], dtype)


def test_axis_spellings_of_the_index_reductions():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert mg.argmax(x, axis=1, keepdims=True).tolist() == [[1], [0]]
    assert mg.argmin(x, axis=0).tolist() == [0, 1, 0]
    assert (x > 1).all(axis=1).tolist() == [False, False] and (x > 1).any(axis=0, keepdims=True).tolist() == [[True, True, True]]
    with pytest.raises(TypeError, match="^std: got both dim= and its alias axis="):
        x.std(dim=0, axis=0)
