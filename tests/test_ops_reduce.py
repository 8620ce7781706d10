"""Reductions against PyTorch: sum, mean and max over one or several dims, keepdim, negative dims.

`x.max(dim)` returns (values, indices) like torch.max; its gradient goes to the arg-max only.
`x.max()` over the whole tensor shares the gradient evenly between tied maxima, as torch does.
Run one concept alone, e.g. `pytest tests/test_ops_reduce.py -k mean`.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import DTYPES, check_op


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


def kid(kwargs: dict) -> str:
    """dict(dim=(0, 2), keepdim=True) -> 'dim0_2-keepdim': test ids that `pytest -k` accepts."""
    dim = kwargs.get("dim")
    parts = ["all" if dim is None else "dim" + "_".join(map(str, np.atleast_1d(dim)))]
    return "-".join(parts + (["keepdim"] if kwargs.get("keepdim") else []))


SUM_MEAN_ARGS = [
    dict(),
    dict(dim=0),
    dict(dim=1),
    dict(dim=-1),
    dict(dim=-1, keepdim=True),
    dict(dim=(0, 2)),
    dict(dim=(0, 2), keepdim=True),
    dict(dim=(-1, -3)),
    dict(dim=(0, 1, 2)),
]


@pytest.mark.parametrize("kwargs", SUM_MEAN_ARGS, ids=kid)
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(op, kwargs, dtype):
    fn = lambda x: getattr(x, op)(**kwargs)  # noqa: E731  (same call in minigrad and torch)
    check_op(fn, fn, [(2, 3, 4)], dtype)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean_of_0d_tensor(op, dtype):
    fn = lambda x: getattr(x, op)()  # noqa: E731
    check_op(fn, fn, [()], dtype)


MAX_ARGS = [
    dict(), dict(dim=0), dict(dim=1), dict(dim=-1), dict(dim=-1, keepdim=True), dict(dim=0, keepdim=True)
]


@pytest.mark.parametrize("kwargs", MAX_ARGS, ids=kid)
def test_max(kwargs, dtype):
    """Random normal inputs have no ties, so the arg-max is unique."""
    fn = lambda x: x.max(**kwargs)  # noqa: E731  (with dim: the values, first of the pair)
    check_op(fn, fn, [(2, 3, 4)], dtype)


@pytest.mark.parametrize("kwargs", MAX_ARGS[1:], ids=kid)
def test_max_with_dim_returns_torch_indices(kwargs):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    values, indices = mg.Tensor(x).max(**kwargs)
    expected = torch.tensor(x).max(**kwargs)
    assert indices.dtype == np.int64 and indices.shape == tuple(expected.indices.shape)
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())


def test_max_whole_tensor_shares_ties_evenly(dtype):
    """Three elements tie for the max: each gets a third of the gradient (PyTorch does the same)."""
    x = np.array([[1.0, 3.0, 0.5], [3.0, -2.0, 3.0]], dtype=dtype)
    check_op(lambda t: t.max(), lambda t: t.max(), dtype=dtype, inputs=[x])
    t = mg.Tensor(x, requires_grad=True)
    t.max().backward()
    np.testing.assert_allclose(t.grad, np.where(x == 3.0, 1 / 3, 0.0), rtol=1e-6)


def test_max_of_an_expression(dtype):
    """max inside a graph: gradient flows through the arg-max into earlier ops."""
    fn = lambda a, b: (a * b).max(dim=1)[0] * 2.0  # noqa: E731
    check_op(fn, fn, [(3, 4), (3, 4)], dtype)


def test_argmax_matches_torch():
    x = np.random.default_rng(1).standard_normal((3, 5))
    assert mg.Tensor(x).argmax().item() == torch.tensor(x).argmax().item()
    np.testing.assert_array_equal(mg.Tensor(x).argmax(dim=-1).numpy(), torch.tensor(x).argmax(dim=-1).numpy())


def test_reductions_keep_float32():
    x = mg.randn(3, 4, requires_grad=True)
    for out in (x.sum(), x.mean(dim=0), x.max(), x.max(dim=1).values):
        assert out.dtype == np.float32, out


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("dim", [3, -4])
def test_invalid_dim_names_op_and_dim(op, dim):
    x = mg.zeros(2, 3, 4)
    with pytest.raises(IndexError, match=rf"{op}: dim {dim} is out of range for a 3-d tensor"):
        getattr(x, op)(dim=dim)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_repeated_dim_is_an_error(op):
    with pytest.raises(ValueError, match=rf"{op}: dim \(1, -2\) names the same dimension twice"):
        getattr(mg.zeros(2, 3, 4), op)(dim=(1, -2))


def test_max_of_empty_tensor_is_an_error():
    with pytest.raises(ValueError, match="max: cannot take the max of an empty tensor"):
        mg.zeros(0).max()


@pytest.mark.parametrize("values", [[1, 2], [True, False, False]], ids=["int", "bool"])
def test_mean_of_integer_or_bool_tensor_is_not_truncated(values):
    """PyTorch refuses mean() on integer/bool tensors; a silently truncated mean is wrong.

    Accepted: raise TypeError (as torch does), or return the true mean as float32.
    """
    t = mg.Tensor(np.array(values))
    try:
        out = t.mean()
    except TypeError:
        return
    assert out.dtype == np.float32, f"mean of {t.dtype} gave dtype {out.dtype}"
    assert out.item() == pytest.approx(np.mean(values))


# -- 0-d tensors: dim 0 and -1 name the only "dim", as in PyTorch ----------------------------------------
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("op", ["sum", "mean", "max", "var_0", "std_0"])
def test_0d_tensor_with_dim(op, dim, dtype):
    name, *correction = op.split("_")
    kwargs = dict(correction=int(correction[0])) if correction else {}
    fn = lambda x: getattr(x, name)(dim, **kwargs)  # noqa: E731
    check_op(fn, fn, [()], dtype)


@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("op", ["max", "min", "argmax", "argmin"])
def test_0d_tensor_indices(op, dim):
    ours, theirs = getattr(mg.tensor(2.0), op)(dim), getattr(torch.tensor(2.0), op)(dim)
    ours_i, theirs_i = (ours, theirs) if op.startswith("arg") else (ours.indices, theirs.indices)
    assert ours_i.dtype == np.int64 and ours_i.shape == () and ours_i.item() == theirs_i.item()


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered", "ignore:divide by zero")
@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("dim", [0, 1, (0, 1)], ids=["dim0", "dim1", "dims01"])
def test_reductions_over_empty_tensors(op, dim, dtype):
    """A (0, 3) tensor: the sum of nothing is 0, the mean of nothing NaN, as in PyTorch (NumPy also warns)."""
    fn = lambda x: getattr(x, op)(dim=dim)  # noqa: E731
    check_op(fn, fn, [(0, 3)], dtype)


def test_max_over_a_nonempty_dim_of_an_empty_tensor(dtype):
    check_op(lambda x: x.max(dim=1), lambda x: x.max(dim=1), [(0, 3)], dtype)
    with pytest.raises(ValueError, match=r"max: cannot take the max of an empty tensor \(shape \(0, 3\)\) along its "
                                         r"dim 0"):
        mg.zeros(0, 3).max(dim=0)


# -- min, argmin, var and std -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", MAX_ARGS, ids=kid)
def test_min(kwargs, dtype):
    fn = lambda x: x.min(**kwargs)  # noqa: E731
    check_op(fn, fn, [(2, 3, 4)], dtype)


def test_min_with_dim_returns_torch_indices():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    ours, theirs = mg.Tensor(x).min(dim=1), torch.tensor(x).min(dim=1)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(mg.Tensor(x).argmin(dim=-1).numpy(), torch.tensor(x).argmin(dim=-1).numpy())


INT_DATA = np.array([[0, 1, 2, 0], [5, 0, 3, 7], [4, 4, 1, 1]])  # zeros and ties: where -max(-x) went wrong


@pytest.mark.parametrize("np_dtype", [np.uint8, np.int8, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("op", ["min", "max"])
def test_min_max_of_integer_and_bool_tensors_match_torch(op, np_dtype):
    """min is a real min (not -max(-x)): uint8's 0 stays the min, bool works; values, dtype and indices as torch."""
    x = INT_DATA.astype(np_dtype)
    ours, theirs = getattr(mg.tensor(x), op), getattr(torch.tensor(x), op)
    whole = ours()
    assert whole.dtype == np_dtype and whole.shape == () and whole.item() == theirs().item()
    for kwargs in (dict(dim=0), dict(dim=1), dict(dim=-1, keepdim=True)):
        values, indices = ours(**kwargs)
        expected = theirs(**kwargs)
        assert values.dtype == np_dtype and indices.dtype == np.int64, kwargs
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())


def test_min_whole_tensor_shares_ties_evenly(dtype):
    """Two elements tie for the min: each gets half of the gradient, as torch.min() gives it."""
    x = np.array([[1.0, -2.0, 0.5], [-2.0, 3.0, 4.0]], dtype=dtype)
    check_op(lambda t: t.min(), lambda t: t.min(), dtype=dtype, inputs=[x])


@pytest.mark.parametrize("dim", [0, 1])
def test_min_and_max_along_a_dim_with_ties_follow_torch_indices(dim, dtype):
    """Ties along dim: the whole gradient goes to the index torch returns (the first), for min as for max."""
    x = np.array([[1.0, -2.0, -2.0, 3.0], [1.0, 3.0, -2.0, 3.0]], dtype=dtype)
    for op in ("min", "max"):
        fn = lambda t: getattr(t, op)(dim=dim)  # noqa: E731
        check_op(fn, fn, dtype=dtype, inputs=[x])
        ours, theirs = getattr(mg.Tensor(x), op)(dim=dim), getattr(torch.tensor(x), op)(dim=dim)
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_min_of_empty_tensor_names_min():
    with pytest.raises(ValueError, match="min: cannot take the min of an empty tensor"):
        mg.zeros(0).min()
    with pytest.raises(ValueError, match=r"min: cannot take the min of an empty tensor \(shape \(0, 3\)\) along"):
        mg.zeros(0, 3).min(dim=0)


VAR_ARGS = [dict(), dict(dim=1), dict(dim=(0, 2), keepdim=True), dict(dim=-1, correction=0),
            dict(dim=1, unbiased=False), dict(correction=2)]


@pytest.mark.parametrize("kwargs", VAR_ARGS, ids=lambda k: "-".join(f"{a}{b}" for a, b in k.items()) or "all")
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(op, kwargs, dtype):
    fn = lambda x: getattr(x, op)(**kwargs)  # noqa: E731
    check_op(fn, fn, [(2, 3, 4)], dtype)


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_gradcheck(op):
    x = mg.Tensor(np.random.default_rng(2).standard_normal((3, 4)), requires_grad=True)
    assert mg.gradcheck(lambda t: getattr(t, op)(dim=1), [x])


def test_var_of_integer_tensor_is_refused_as_in_torch():
    with pytest.raises(TypeError, match="mean: needs a floating-point tensor"):
        mg.tensor([1, 2, 3]).var()


@pytest.mark.parametrize("dim", [None, 1, (0, 2)], ids=["all", "dim1", "dims02"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm(dim, keepdim, dtype):
    fn = lambda x: x.norm(dim=dim, keepdim=keepdim)  # noqa: E731
    check_op(fn, fn, [(2, 3, 4)], dtype)


@pytest.mark.parametrize("keepdim", [False, True])
def test_norm_of_a_zero_row_has_zero_gradient(keepdim, dtype):
    """d ||x|| / dx is x / ||x||: PyTorch takes it as 0 where ||x|| = 0, not 0 / 0."""
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], dtype=dtype)
    fn = lambda t: t.norm(dim=1, keepdim=keepdim)  # noqa: E731
    check_op(fn, fn, dtype=dtype, inputs=[x])


def test_std_of_a_constant_has_zero_gradient(dtype):
    """d std / dx is (x - mean) / ((N - 1) std): PyTorch takes it as 0 where std = 0, not 0 / 0."""
    x = np.array([[2.0, 2.0, 2.0], [1.0, -1.0, 0.5]], dtype=dtype)
    check_op(lambda t: t.std(dim=1), lambda t: t.std(dim=1), dtype=dtype, inputs=[x])
