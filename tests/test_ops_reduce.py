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
