"""cross_entropy (fused and composed) against torch.nn.functional.cross_entropy.

Run alone: `pytest tests/test_loss.py -k cross_entropy`.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, check_op, check_refused, random_inputs
from minigrad.testing import check_twins

DTYPE_IDS = ["f64", "f32"]
SHAPES = [(6, 5), (1, 3)]  # (N, C)
SHAPE_IDS = ["6x5", "1x3"]
SMOOTHINGS = [0.0, 0.1, 1.0]
REDUCTIONS = ["mean", "sum", "none"]


def targets_for(n: int, c: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, c, size=n)  # int64, as torch expects


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", SMOOTHINGS, ids=lambda e: f"ls{e}")
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("targets_as", ["ndarray", "tensor"])
def test_cross_entropy_matches_torch(targets_as, shape, smoothing, reduction, dtype):
    kw = dict(label_smoothing=smoothing, reduction=reduction)
    (logits,) = random_inputs([shape], dtype)
    t = targets_for(*shape)
    if targets_as == "tensor":  # targets travel as an int minigrad Tensor beside the logits
        check_op(lambda x, y: F.cross_entropy(x, y, **kw), lambda x, y: TF.cross_entropy(x, y, **kw),
                 inputs=[logits, t], dtype=dtype)
    else:
        check_op(lambda x: F.cross_entropy(x, t, **kw), lambda x: TF.cross_entropy(x, torch.tensor(t), **kw),
                 inputs=[logits], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("smoothing", SMOOTHINGS, ids=lambda e: f"ls{e}")
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_cross_entropy_composed_matches_torch(shape, smoothing, dtype):
    t = targets_for(*shape)
    check_op(lambda x: F.cross_entropy_composed(x, t, label_smoothing=smoothing),
             lambda x: TF.cross_entropy(x, torch.tensor(t), label_smoothing=smoothing), [shape], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("smoothing", SMOOTHINGS, ids=lambda e: f"ls{e}")
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_cross_entropy_fused_equals_composed(shape, smoothing, dtype):
    t = targets_for(*shape)
    check_twins(lambda x: F.cross_entropy(x, t, label_smoothing=smoothing),
                lambda x: F.cross_entropy_composed(x, t, label_smoothing=smoothing),
                random_inputs([shape], dtype))


# Logits where a naive log(sum(exp(x))) overflows, underflows or loses every digit.
HARD_LOGITS = {
    "plus_1e4": [[1e4, 1e4 + 1, 1e4 - 2], [1e4, 1e4, 1e4 + 0.5]],
    "minus_1e4": [[-1e4, -1e4 + 1, -1e4 - 2], [-1e4, -1e4, -1e4 + 0.5]],
    "mixed_1e4_and_0": [[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]],
    "equal": [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]],
    "tiny_1e-30": [[1e-30, -1e-30, 0.0], [2e-30, 0.0, 1e-30]],
}
HARD_TARGETS = np.array([0, 2])  # in mixed_1e4_and_0, target 2 of row 1 loses by 1e4: loss 1e4


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1], ids=lambda e: f"ls{e}")
@pytest.mark.parametrize("case", HARD_LOGITS)
@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_composed"])
def test_cross_entropy_is_stable(name, case, smoothing, dtype):
    fn = getattr(F, name)
    x = np.array(HARD_LOGITS[case], dtype=dtype)
    check_op(lambda t: fn(t, HARD_TARGETS, label_smoothing=smoothing),
             lambda t: TF.cross_entropy(t, torch.tensor(HARD_TARGETS), label_smoothing=smoothing),
             inputs=[x], dtype=dtype)
    t = mg.Tensor(x, requires_grad=True)
    loss = fn(t, HARD_TARGETS, label_smoothing=smoothing)
    loss.backward()
    assert np.isfinite(loss.numpy()) and np.isfinite(t.grad).all(), f"{name} on {case}: {loss}, {t.grad}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_composed"])
def test_cross_entropy_masked_logits(name, dtype):
    """A -inf logit (a class ruled out) is fine while it is not the target: loss is finite."""
    x = np.array([[1.0, -np.inf, 0.5], [0.2, 0.3, -np.inf]], dtype=dtype)
    targets = np.array([0, 1])
    fn = getattr(F, name)
    check_op(lambda t: fn(t, targets), lambda t: TF.cross_entropy(t, torch.tensor(targets)),
             inputs=[x], dtype=dtype)


def probabilities_for(n: int, c: int, dtype, seed: int = 0) -> np.ndarray:
    """Rows that sum to 1: half are two one-hots mixed (as mixup / cutmix make them), half random."""
    rng = np.random.default_rng(seed)
    q = rng.dirichlet(np.ones(c), size=n)
    lam = rng.uniform(size=n // 2)
    q[: n // 2] = 0.0
    q[np.arange(n // 2), rng.integers(0, c, n // 2)] += lam
    q[np.arange(n // 2), rng.integers(0, c, n // 2)] += 1 - lam
    return q.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", SMOOTHINGS, ids=lambda e: f"ls{e}")
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_cross_entropy_with_probability_targets_matches_torch(shape, smoothing, reduction, dtype):
    """Targets as class probabilities (N, C), as torch accepts them: q = (1 - e) targets + e / C."""
    q = probabilities_for(*shape, dtype)
    check_op(lambda x: F.cross_entropy(x, q, label_smoothing=smoothing, reduction=reduction),
             lambda x: TF.cross_entropy(x, torch.tensor(q), label_smoothing=smoothing, reduction=reduction),
             [shape], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("smoothing", SMOOTHINGS, ids=lambda e: f"ls{e}")
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_cross_entropy_composed_with_probability_targets_matches_torch(shape, smoothing, dtype):
    q = probabilities_for(*shape, dtype)
    check_op(lambda x: F.cross_entropy_composed(x, q, label_smoothing=smoothing),
             lambda x: TF.cross_entropy(x, torch.tensor(q), label_smoothing=smoothing), [shape], dtype)


def test_probability_targets_gradcheck():
    x = mg.Tensor(random_inputs([(4, 3)], np.float64)[0], requires_grad=True)
    q = probabilities_for(4, 3, np.float64)
    assert mg.gradcheck(lambda z: F.cross_entropy(z, q, label_smoothing=0.1), [x])
    assert mg.gradcheck(lambda z: F.cross_entropy_composed(z, q, label_smoothing=0.1), [x])


def test_one_hot_probabilities_equal_class_indices():
    logits = mg.Tensor(random_inputs([(6, 5)], np.float64)[0])
    t = targets_for(6, 5)
    one_hot = np.eye(5)[t]
    np.testing.assert_allclose(F.cross_entropy(logits, one_hot, label_smoothing=0.1).item(),
                               F.cross_entropy(logits, t, label_smoothing=0.1).item(), rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(reduction):
    x = mg.Tensor(random_inputs([(4, 3)], np.float64)[0], requires_grad=True)
    t = np.array([0, 2, 1, 2])
    assert mg.gradcheck(lambda z: F.cross_entropy(z, t, label_smoothing=0.1, reduction=reduction), [x])


def test_cross_entropy_composed_gradcheck():
    x = mg.Tensor(random_inputs([(4, 3)], np.float64)[0], requires_grad=True)
    t = np.array([0, 2, 1, 2])
    assert mg.gradcheck(lambda z: F.cross_entropy_composed(z, t, label_smoothing=0.1), [x])


# (description, targets, kwargs, error type, message pattern)
BAD_CALLS = {
    "float_targets_not_probabilities": (np.array([0.0, 1.0, 2.0]), {}, ValueError,
                                        r"probability targets must have the logits' shape \(3, 4\), got \(3,\)"),
    "probabilities_of_another_dtype": (mg.Tensor(np.full((3, 4), 0.25, dtype=np.float32)), {}, TypeError,
                                       r"probability targets are float32 but logits are float64"),
    "integer_probabilities": (np.zeros((3, 4), dtype=np.int64), {}, TypeError,
                              r"targets of the logits' shape \(3, 4\) are class probabilities and must be float"),
    "ignore_index_with_probabilities": (np.full((3, 4), 0.25), {"ignore_index": 0}, ValueError,
                                        r"ignore_index is not supported for class-probability targets"),
    "weight_of_wrong_shape": (np.array([0, 1, 2]), {"weight": np.ones(3)}, ValueError,
                              r"weight must hold one value per class, shape \(4,\), got \(3,\)"),
    "weight_requires_grad": (np.array([0, 1, 2]), {"weight": mg.ones(4, dtype=np.float64, requires_grad=True)},
                             ValueError, r"weight requires grad, but minigrad .* does not differentiate"),
    "bool_targets": (np.array([True, False, True]), {}, TypeError,
                     r"targets must be integer class indices or float class probabilities, got dtype bool"),
    "target_too_big": (np.array([0, 5, 1]), {}, IndexError, r"target 5 is out of range for 4 classes"),
    "target_negative": (np.array([0, -1, 1]), {}, IndexError, r"target -1 is out of range for 4 classes"),
    "targets_wrong_shape": (np.array([[0, 1, 2]]), {}, ValueError, r"targets shape \(1, 3\) does not match logits \(3, 4\)"),
    "bad_reduction": (np.array([0, 1, 2]), {"reduction": "avg"}, ValueError, r"reduction must be .*got 'avg'"),
    "bad_smoothing": (np.array([0, 1, 2]), {"label_smoothing": 1.5}, ValueError, r"label_smoothing must be in \[0, 1\], got 1.5"),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_cross_entropy_errors_explain_themselves(case):
    targets, kwargs, error, pattern = BAD_CALLS[case]
    with pytest.raises(error, match=rf"cross_entropy: {pattern}"):
        F.cross_entropy(mg.Tensor(np.zeros((3, 4))), targets, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(reduction="avg"), dict(reduction="elementwise_mean"),
                                    dict(label_smoothing=1.5), dict(label_smoothing=-0.1)],
                         ids=["reduction_avg", "reduction_legacy_name", "smoothing_above_1", "smoothing_negative"])
def test_loss_argument_checks_are_one_for_functional_and_nn(kwargs):
    """nn.CrossEntropyLoss checks its arguments with cross_entropy's own helpers: the same message, its own name."""
    with pytest.raises(ValueError) as functional:
        F.cross_entropy(mg.Tensor(np.zeros((3, 4))), np.array([0, 1, 2]), **kwargs)
    with pytest.raises(ValueError) as layer:
        mg.nn.CrossEntropyLoss(**kwargs)
    assert str(functional.value).startswith("cross_entropy: ") and str(layer.value).startswith("CrossEntropyLoss: ")
    assert str(layer.value).removeprefix("CrossEntropyLoss") == str(functional.value).removeprefix("cross_entropy")


@pytest.mark.parametrize("fn", ["cross_entropy", "cross_entropy_composed"])
@pytest.mark.parametrize("np_dtype", [np.int64, np.uint8])
def test_cross_entropy_of_integer_logits_is_refused_as_in_torch(fn, np_dtype):
    """Integer logits overflowed in the softmax; PyTorch refuses them (its log_softmax has no integer kernel)."""
    logits, targets = np.arange(12).reshape(3, 4).astype(np_dtype), np.array([0, 1, 2])
    check_refused(lambda x: getattr(F, fn)(x, targets), lambda x: TF.cross_entropy(x, torch.tensor(targets)),
                  [logits], rf"^cross_entropy: needs a floating-point tensor, got input of dtype {np.dtype(np_dtype)}")


def test_cross_entropy_needs_a_class_dim():
    with pytest.raises(ValueError, match=r"cross_entropy: logits must be \(C,\), \(N, C\) or \(N, C, d1, ...\)"):
        F.cross_entropy(mg.Tensor(np.zeros(())), np.array(0))


# -- PyTorch's options: spatial logits, unbatched, weight, ignore_index, reduction, label smoothing --------
def index_targets(shape: tuple, ignore_index: int, seed: int = 0) -> np.ndarray:
    """Class indices for logits of `shape` (class dim 1, or 0 when unbatched), a few set to ignore_index."""
    axis = 0 if len(shape) == 1 else 1
    c, rest = shape[axis], shape[:axis] + shape[axis + 1:]
    t = np.random.default_rng(seed).integers(0, c, size=rest)
    if t.size > 2:
        t.flat[1::3] = ignore_index
    return t


LOGIT_SHAPES = {"NC": (6, 5), "NCd": (3, 4, 5), "NCHW": (2, 3, 3, 4), "C_unbatched": (5,)}
OPTIONS = {
    "plain": {},
    "weight": dict(weight=True),
    "ignore_index_2": dict(ignore_index=2),
    "weight_ignore": dict(weight=True, ignore_index=0),
    "smoothing": dict(label_smoothing=0.15),
    "smoothing_weight_ignore": dict(weight=True, ignore_index=1, label_smoothing=0.3),
}


def class_weights(n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 2.0, size=n)


def options_for(name: str, c: int, dtype, torch_side: bool) -> dict:
    kwargs = dict(OPTIONS[name])
    if kwargs.pop("weight", False):
        w = class_weights(c).astype(dtype)
        kwargs["weight"] = torch.tensor(w) if torch_side else w
    return kwargs


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("shape", LOGIT_SHAPES)
@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_composed"])
def test_cross_entropy_options_match_torch(name, shape, option, reduction, dtype):
    """The weighted mean divides by sum_n w[t_n] over kept targets; smoothing spreads e / C * w_c."""
    logits_shape = LOGIT_SHAPES[shape]
    c = logits_shape[0 if len(logits_shape) == 1 else 1]
    ours_kw, torch_kw = (options_for(option, c, dtype, side) for side in (False, True))
    t = index_targets(logits_shape, ours_kw.get("ignore_index", -100))
    check_op(lambda x: getattr(F, name)(x, t, reduction=reduction, **ours_kw),
             lambda x: TF.cross_entropy(x, torch.tensor(t), reduction=reduction, **torch_kw), [logits_shape], dtype)


def spatial_probabilities(shape: tuple, dtype, seed: int = 0) -> np.ndarray:
    axis = 0 if len(shape) == 1 else 1
    q = np.random.default_rng(seed).dirichlet(np.ones(shape[axis]), size=shape[:axis] + shape[axis + 1:])
    return np.moveaxis(q, -1, axis).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", ["plain", "weight", "smoothing"])
@pytest.mark.parametrize("shape", LOGIT_SHAPES)
@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_composed"])
def test_probability_targets_that_require_grad_get_their_gradient(name, shape, option, reduction, dtype):
    """Both inputs are leaves that require grad: d loss / d target = -(1 - e) w_c log softmax(x)_c."""
    logits_shape = LOGIT_SHAPES[shape]
    c = logits_shape[0 if len(logits_shape) == 1 else 1]
    ours_kw, torch_kw = (options_for(option, c, dtype, side) for side in (False, True))
    q = spatial_probabilities(logits_shape, dtype)
    check_op(lambda x, p: getattr(F, name)(x, p, reduction=reduction, **ours_kw),
             lambda x, p: TF.cross_entropy(x, p, reduction=reduction, **torch_kw), [logits_shape, q], dtype)


@pytest.mark.parametrize("targets", ["indices", "probabilities"])
def test_spatial_cross_entropy_gradcheck(targets):
    x = mg.Tensor(random_inputs([(2, 3, 2, 2)], np.float64)[0], requires_grad=True)
    if targets == "indices":
        t, leaves = index_targets((2, 3, 2, 2), 1), [x]
    else:
        t = mg.Tensor(spatial_probabilities((2, 3, 2, 2), np.float64), requires_grad=True)
        leaves = [x, t]
    kwargs = dict(weight=class_weights(3), label_smoothing=0.2, ignore_index=1 if targets == "indices" else -100)
    assert mg.gradcheck(lambda z, *p: F.cross_entropy(z, p[0] if p else t, **kwargs), leaves)


@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_composed"])
@pytest.mark.parametrize("case", ["every_target_ignored", "empty_batch"])
def test_mean_over_nothing_is_nan_as_torch(name, case):
    x = np.zeros((0, 3)) if case == "empty_batch" else np.ones((2, 3))
    t = np.zeros(0, dtype=np.int64) if case == "empty_batch" else np.array([-100, -100])
    ours = getattr(F, name)(mg.Tensor(x), t)
    theirs = TF.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert np.isnan(ours.item()) and torch.isnan(theirs)


def test_mean_over_every_target_ignored_has_gradient_zero_as_torch():
    """Nothing contributed to the loss (0 / 0 = nan), so nothing gets a gradient: 0, not 0 * inf = nan."""
    x, t = np.random.default_rng(0).standard_normal((2, 3)), np.array([1, 1])
    check_op(lambda z: F.cross_entropy(z, t, ignore_index=1), lambda z: TF.cross_entropy(z, torch.tensor(t), ignore_index=1),
             [x])


def test_legacy_size_average_and_reduce_map_to_reduction():
    x, t = mg.Tensor(np.random.default_rng(0).standard_normal((4, 3))), np.array([0, 1, 2, 1])
    for legacy, reduction in ((dict(size_average=False), "sum"), (dict(reduce=False), "none")):
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            ours = F.cross_entropy(x, t, **legacy)
        np.testing.assert_allclose(ours.numpy(), F.cross_entropy(x, t, reduction=reduction).numpy(), rtol=1e-14)


# -- mse_loss ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_mse_loss_matches_torch(weighted, reduction, dtype):
    """Both the input and the target require grad; a weight w gives sum(w d^2) / sum(w) for the mean."""
    shapes = [(3, 4), (3, 4)] + ([(3, 4)] if weighted else [])
    check_op(lambda x, y, *w: F.mse_loss(x, y, reduction=reduction, weight=w[0] if w else None),
             lambda x, y, *w: TF.mse_loss(x, y, reduction=reduction, weight=w[0] if w else None),
             shapes, dtype, grad_inputs=[True, True] + ([False] if weighted else []), low=None)


def test_mse_loss_gradcheck_and_broadcast_warning():
    x, y = (mg.Tensor(a, requires_grad=True) for a in random_inputs([(3, 4), (3, 4)], np.float64))
    assert mg.gradcheck(lambda a, b: F.mse_loss(a, b), [x, y])
    with pytest.warns(UserWarning, match=r"Using a target size \(\(4,\)\) that is different to the input size"):
        F.mse_loss(x, mg.Tensor(np.zeros(4)))
