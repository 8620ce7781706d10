"""dropout (fused and composed): inverted dropout, y = x * Bernoulli(1-p) / (1-p) in training.

PyTorch draws its own random numbers, so the PyTorch reference here is x * mask with the mask
minigrad drew (recovered by dropping out a tensor of ones under the same seed).
Run alone: `pytest tests/test_dropout.py`.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, check_op, random_inputs
from minigrad.testing import check_twins, seeded

DTYPE_IDS = ["f64", "f32"]
DROPOUTS = {"fused": F.dropout, "composed": F.dropout_composed}
SHAPE = (6, 7)


def drawn_mask(shape: tuple, p: float, dtype, seed: int = 0) -> np.ndarray:
    """The factor (0 or 1/(1-p)) dropout applies to each element under this seed."""
    return seeded(F.dropout, seed)(mg.Tensor(np.ones(shape, dtype=dtype)), p).numpy()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("impl", DROPOUTS)
def test_dropout_matches_torch_with_same_mask(impl, p, dtype):
    mask = drawn_mask(SHAPE, p, dtype)
    check_op(seeded(lambda x: DROPOUTS[impl](x, p)), lambda x: x * torch.tensor(mask), [SHAPE], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_fused_equals_composed(p, dtype):
    check_twins(seeded(lambda x: F.dropout(x, p)), seeded(lambda x: F.dropout_composed(x, p)),
                random_inputs([SHAPE], dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_scales_kept_values_by_1_over_1_minus_p(p, dtype):
    """Kept elements are x / (1-p) (to the last bit or two), dropped ones exactly 0."""
    (x,) = random_inputs([(50, 40)], dtype)
    y = seeded(F.dropout)(mg.Tensor(x), p).numpy()
    kept = y != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=2 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("impl", DROPOUTS)
def test_dropout_backward_reuses_the_mask(impl, dtype):
    """dx = dout / (1-p) where the element was kept, exactly 0 where it was dropped."""
    p = 0.4
    x, dout = random_inputs([(50, 40), (50, 40)], dtype)
    t = mg.Tensor(x, requires_grad=True)
    y = seeded(DROPOUTS[impl])(t, p)
    y.backward(dout)
    dropped = y.numpy() == 0
    assert 0 < dropped.sum() < dropped.size
    assert (t.grad.numpy()[dropped] == 0).all()
    np.testing.assert_allclose(t.grad.numpy()[~dropped], dout[~dropped] / (1 - p), rtol=2 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("impl", DROPOUTS)
@pytest.mark.parametrize("mode", ["eval", "p=0"])
def test_dropout_is_identity_in_eval_and_at_p0(impl, mode):
    p, training = (0.5, False) if mode == "eval" else (0.0, True)
    x, dout = random_inputs([SHAPE, SHAPE], np.float32)
    t = mg.Tensor(x, requires_grad=True)
    y = DROPOUTS[impl](t, p, training=training)
    y.backward(dout)
    np.testing.assert_array_equal(y.numpy(), x)
    np.testing.assert_array_equal(t.grad, dout)


@pytest.mark.parametrize("impl", DROPOUTS)
def test_dropout_p1_drops_everything(impl):
    x, dout = random_inputs([SHAPE, SHAPE], np.float32)
    t = mg.Tensor(x, requires_grad=True)
    y = DROPOUTS[impl](t, 1.0)
    y.backward(dout)
    assert (y.numpy() == 0).all() and (t.grad.numpy() == 0).all()
    assert np.isfinite(y.numpy()).all()  # no 0 * inf from a 1/(1-p) scale


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("impl", DROPOUTS)
def test_dropout_keep_rate_is_1_minus_p(impl, p):
    """Over n elements the kept fraction is within 5 standard errors sqrt(p(1-p)/n) of 1-p."""
    n = 200_000
    mg.manual_seed(123)
    kept = (DROPOUTS[impl](mg.Tensor(np.ones(n, dtype=np.float32)), p).numpy() != 0).mean()
    assert abs(kept - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n), f"kept {kept:.4f}, expected {1 - p}"


@pytest.mark.parametrize("impl", DROPOUTS)
def test_dropout_is_reproducible_under_manual_seed(impl):
    x = mg.Tensor(np.ones((20, 30), dtype=np.float32))
    first = seeded(DROPOUTS[impl], 7)(x, 0.5).numpy()
    again = seeded(DROPOUTS[impl], 7)(x, 0.5).numpy()
    other = seeded(DROPOUTS[impl], 8)(x, 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


@pytest.mark.parametrize("impl", DROPOUTS)
def test_dropout_gradcheck(impl):
    x = mg.Tensor(random_inputs([(3, 4)], np.float64)[0], requires_grad=True)
    assert mg.gradcheck(seeded(lambda t: DROPOUTS[impl](t, 0.3)), [x])  # same mask on every call


@pytest.mark.parametrize("p", [-0.1, 1.5])
@pytest.mark.parametrize("impl", DROPOUTS)
def test_dropout_invalid_p_names_p(impl, p):
    with pytest.raises(ValueError, match=rf"dropout: p must be in \[0, 1\], got {p}"):
        DROPOUTS[impl](mg.Tensor(np.ones(3)), p)
