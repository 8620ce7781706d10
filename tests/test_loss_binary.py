"""Binary cross-entropy (on probabilities and on logits), log-sigmoid and one_hot against PyTorch.

Run one alone, e.g. `pytest tests/test_loss_binary.py -k with_logits`.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.functional.loss_binary import EPSILON
from minigrad.testing import DTYPES, check_finite_differences, check_op, check_refused


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


RNG = np.random.default_rng(0)
PROBS = 1 / (1 + np.exp(-RNG.standard_normal((4, 3))))  # in (0, 1)
SOFT = RNG.uniform(0, 1, (4, 3))  # soft targets in [0, 1]
HARD = (RNG.uniform(0, 1, (4, 3)) > 0.5).astype(np.float64)
WEIGHTS = {"none": None, "row": np.array([0.5, 2.0, 1.0]), "full": RNG.uniform(0.5, 2, (4, 3))}


@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction, weight, dtype):
    w = WEIGHTS[weight]
    ours = lambda p, t: F.binary_cross_entropy(p, t, weight=w, reduction=reduction)  # noqa: E731
    theirs = lambda p, t: TF.binary_cross_entropy(  # noqa: E731
        p, t, weight=None if w is None else torch.tensor(w, dtype=p.dtype), reduction=reduction)
    check_op(ours, theirs, inputs=[PROBS.astype(dtype), SOFT.astype(dtype)])  # both get gradients
    check_op(mg.nn.BCELoss(weight=None if w is None else mg.tensor(w.astype(dtype)), reduction=reduction), theirs,
             inputs=[PROBS.astype(dtype), HARD.astype(dtype)], grad_inputs=[True, False])


class ClampedBackward(torch.autograd.Function):
    """TF.binary_cross_entropy (mean) with PyTorch's backward formula written in torch ops, so that differentiating
    it differentiates that formula: grad (p - t) / max(p (1 - p), EPSILON) / N."""

    @staticmethod
    def forward(ctx, p, t):
        ctx.save_for_backward(p, t)
        return TF.binary_cross_entropy(p, t)

    @staticmethod
    def backward(ctx, grad):
        p, t = ctx.saved_tensors
        return grad * (p - t) / torch.clamp(p * (1 - p), min=float(EPSILON)) / p.numel(), None


def test_binary_cross_entropy_at_0_and_1_clamps_like_pytorch():
    """log 0 is clamped at -100 and p (1 - p) at 1e-12 in backward: finite loss and gradient, as PyTorch's.
    Differentiated again, minigrad's backward gives the derivative of that clamped formula. PyTorch's double
    backward is a formula of its own that divides by (p + 1e-12)^2 (1 - p + 1e-12)^2 instead (1e24 at p = 0,
    where the clamped gradient's derivative is 1e12): the second order is compared with the derivative of
    PyTorch's backward formula, written in torch ops."""
    p = np.array([0.0, 1.0, 1e-20, 1 - 1e-16, 0.5])
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    check_op(F.binary_cross_entropy, TF.binary_cross_entropy, inputs=[p, t], grad_inputs=[True, False],
             second_order=False)  # the second order: just below
    check_op(F.binary_cross_entropy, ClampedBackward.apply, inputs=[p, t], grad_inputs=[True, False])
    check_finite_differences(lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid()), [(3, 4), (3, 4)])


@pytest.mark.parametrize("pos_weight", [None, "per_class"])
@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction, weight, pos_weight, dtype):
    w, pw = WEIGHTS[weight], None if pos_weight is None else np.array([3.0, 0.5, 1.0])
    kwargs = lambda x: {"weight": None if w is None else torch.tensor(w, dtype=x.dtype),  # noqa: E731
                        "pos_weight": None if pw is None else torch.tensor(pw, dtype=x.dtype)}
    ours = lambda x, t: F.binary_cross_entropy_with_logits(x, t, weight=w, reduction=reduction, pos_weight=pw)  # noqa: E731
    theirs = lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kwargs(x))  # noqa: E731
    logits = 3 * RNG.standard_normal((4, 3))
    check_op(ours, theirs, inputs=[logits.astype(dtype), SOFT.astype(dtype)])
    module = mg.nn.BCEWithLogitsLoss(weight=None if w is None else mg.tensor(w.astype(dtype)), reduction=reduction,
                                     pos_weight=None if pw is None else mg.tensor(pw.astype(dtype)))
    check_op(module, theirs, inputs=[logits.astype(dtype), HARD.astype(dtype)], grad_inputs=[True, False])


def test_binary_cross_entropy_with_logits_is_stable():
    """Logits of +-800 (and exactly 0, where a composed |x| would have a kink): PyTorch's values and gradients."""
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    t = np.array([1.0, 0.0, 0.3, 1.0, 0.0])
    with np.errstate(over="raise"):
        check_op(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
                 lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"), inputs=[x, t])
    check_finite_differences(lambda a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid(), pos_weight=np.array(2.0)),
                             [(3, 4), (3, 4)])


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)], ids=["scalar", "5", "2x3x4"])
def test_logsigmoid(shape, dtype):
    check_op(F.logsigmoid, TF.logsigmoid, [shape], dtype)
    check_op(mg.nn.LogSigmoid(), TF.logsigmoid, inputs=[np.array([-800.0, -1.0, 0.0, 2.0, 800.0], dtype=dtype)])
    check_finite_differences(F.logsigmoid, [shape])


BAD = {  # name: (minigrad call, PyTorch call, arrays, the refusal's start)
    "input_out_of_range": (F.binary_cross_entropy, TF.binary_cross_entropy, [np.array([1.5]), np.array([1.0])],
                           "^binary_cross_entropy: all elements of input should be between 0 and 1"),
    "integer_input": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                      [np.array([1, 0]), np.array([1.0, 0.0])], "^binary_cross_entropy_with_logits: needs a float"),
}


@pytest.mark.parametrize("name", BAD)
def test_refusals(name):
    ours, theirs, arrays, match = BAD[name]
    check_refused(ours, theirs, arrays, match, ValueError if "range" in name else TypeError)


def test_target_shape_and_weight_that_requires_grad_are_refused_by_name():
    p = mg.tensor([0.2, 0.7])
    with pytest.raises(ValueError, match=r"^binary_cross_entropy: using a target size \(3,\)"):
        F.binary_cross_entropy(p, mg.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match=r"^binary_cross_entropy_with_logits: target size \(1,\)"):
        F.binary_cross_entropy_with_logits(p, mg.tensor([1.0]))
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    for fn, name in ((F.binary_cross_entropy, "weight"), (F.binary_cross_entropy_with_logits, "pos_weight")):
        with pytest.raises(ValueError, match=f"is not differentiable with respect to {name}"):
            fn(p, mg.tensor([1.0, 0.0]), **{name: w})


# -- one_hot ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("num_classes", [-1, 6])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)], ids=["scalar", "5", "2x3"])
def test_one_hot(shape, num_classes):
    labels = np.random.default_rng(1).integers(0, 4, shape)
    ours, theirs = F.one_hot(mg.tensor(labels), num_classes), TF.one_hot(torch.tensor(labels), num_classes)
    assert ours.dtype == np.int64 and not ours.requires_grad
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("labels, num_classes, match", [
    (np.array([0.0, 1.0]), -1, "^one_hot: tensor must hold int64"),
    (np.array([0, 3]), 3, r"^one_hot: class index 3 is out of range for num_classes=3"),
    (np.array([-1, 0]), -1, "^one_hot: class indices must be >= 0"),
])
def test_one_hot_refusals(labels, num_classes, match):
    check_refused(lambda t: F.one_hot(t, num_classes), lambda t: TF.one_hot(t, num_classes), [labels], match,
                  TypeError if labels.dtype.kind == "f" else ValueError)
