"""float32 reductions as accurate as PyTorch's over long axes, whichever axis is reduced.

NumPy adds pairwise only along the contiguous axis; over axis 0 of a (rows, cols) float32 array it
adds row after row, and the error grows with the count (a lecture's batch-norm statistics over
182,625 rows printed other digits than PyTorch's). minigrad adds float32 up in float64 and rounds
once. Each case compares the error against the float64 answer with PyTorch's on the same data.
"""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

ROWS, COLS = 120_000, 48


@pytest.fixture(scope="module")
def activations() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((ROWS, COLS)) * 3 + 1).astype(np.float32)  # an offset: the hard case for sums


def relative_error(got, exact) -> float:
    return float(np.abs(np.asarray(got, np.float64) - exact).max() / np.abs(exact).max())


@pytest.mark.parametrize("op, kwargs", [
    ("sum", {"dim": 0}), ("mean", {"dim": 0}), ("var", {"dim": 0}), ("std", {"dim": 0}),
    ("mean", {"dim": 0, "keepdim": True}), ("sum", {}), ("mean", {}), ("var", {"dim": 0, "correction": 0}),
], ids=lambda v: str(v))
def test_float32_reductions_over_a_long_axis_are_as_accurate_as_pytorchs(activations, op, kwargs):
    exact = getattr(torch.from_numpy(activations.astype(np.float64)), op)(**kwargs).numpy()
    theirs = getattr(torch.from_numpy(activations), op)(**kwargs).numpy()
    ours = getattr(mg.Tensor(activations), op)(**kwargs)
    assert ours.dtype == np.float32
    limit = max(2 * relative_error(theirs, exact), 2 * np.finfo(np.float32).eps)
    assert relative_error(ours.numpy(), exact) <= limit, (relative_error(ours.numpy(), exact), relative_error(theirs, exact))


def test_numpys_own_float32_sum_over_axis_0_is_what_this_guards_against(activations):
    """The test above can fail: NumPy's float32 sum over axis 0 is far less accurate than PyTorch's."""
    exact = activations.astype(np.float64).mean(axis=0)
    theirs = torch.from_numpy(activations).mean(dim=0).numpy()
    assert relative_error(activations.mean(axis=0, dtype=np.float32), exact) > 5 * relative_error(theirs, exact)


def test_the_gradients_are_unchanged(activations):
    x = mg.Tensor(activations[:1000], requires_grad=True)
    (x.mean(dim=0) * mg.Tensor(np.arange(COLS, dtype=np.float32))).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(np.arange(COLS) / 1000, (1000, COLS)), rtol=1e-6)
