"""Finite differences in float64: every primitive op's backward agrees with its own forward.

This is independent of PyTorch: central differences of <f(x), v> for a random v. The second half
shows that gradcheck really fails, with a message naming the input and element, on wrong backwards.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.engine import Function
from minigrad.testing import random_inputs


@pytest.fixture(autouse=True)
def seeded():
    mg.manual_seed(0)  # mg.randn draws from minigrad's generator: same values every run


def inputs_for(shapes, kind=None, seed=0):
    """float64 leaves. kind: None (normal), "positive" (0.5 + |N|), "nonzero" (|x| >= 0.3)."""
    arrays = random_inputs(shapes, np.float64, seed, low=0.3 if kind else None)
    if kind == "nonzero":
        rng = np.random.default_rng(seed + 100)
        arrays = [a * np.where(rng.random(a.shape) < 0.5, -1.0, 1.0) for a in arrays]
    return [mg.Tensor(a, requires_grad=True) for a in arrays]


# name: (function, input shapes, input kind). Shapes stay small: 2 forwards per input element.
CASES = {
    "neg": (lambda x: -x, [(2, 3)], None),
    "exp": (lambda x: x.exp(), [(2, 3)], None),
    "log": (lambda x: x.log(), [(2, 3)], "positive"),
    "tanh": (lambda x: x.tanh(), [(2, 3)], None),
    "sqrt": (lambda x: x.sqrt(), [(2, 3)], "positive"),
    "relu": (lambda x: x.relu(), [(2, 3)], "nonzero"),
    "sigmoid": (lambda x: x.sigmoid(), [(2, 3)], None),
    "abs": (lambda x: x.abs(), [(2, 3)], "nonzero"),
    "add_broadcast": (lambda a, b: a + b, [(3, 1), (4,)], None),
    "sub_broadcast": (lambda a, b: a - b, [(2, 3), (3,)], None),
    "mul_broadcast": (lambda a, b: a * b, [(2, 1, 3), (4, 3)], None),
    "div_broadcast": (lambda a, b: a / b, [(2, 3), (2, 1)], "positive"),
    "pow_tensor": (lambda a, b: a**b, [(2, 3), (2, 3)], "positive"),
    "pow_3": (lambda x: x**3, [(2, 3)], None),
    "pow_0.5": (lambda x: x**0.5, [(2, 3)], "positive"),
    "pow_neg1": (lambda x: x**-1, [(2, 3)], "positive"),
    "pow_2.5": (lambda x: x**2.5, [(2, 3)], "positive"),
    "rsub_scalar": (lambda x: 2.0 - x, [(2, 3)], None),
    "rdiv_scalar": (lambda x: 1 / x, [(2, 3)], "positive"),
    "rpow_scalar": (lambda x: 2**x, [(2, 3)], None),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)], None),
    "matmul_vector_matrix": (lambda a, b: a @ b, [(3,), (3, 2)], None),
    "matmul_vector_vector": (lambda a, b: a @ b, [(3,), (3,)], None),
    "matmul_broadcast_batch": (lambda a, b: a @ b, [(2, 1, 2, 3), (2, 3, 2)], None),
    "sum_dim": (lambda x: x.sum(dim=1), [(2, 3, 2)], None),
    "sum_dims_keepdim": (lambda x: x.sum(dim=(0, -1), keepdim=True), [(2, 3, 2)], None),
    "mean_all": (lambda x: x.mean(), [(2, 3)], None),
    "mean_dim_keepdim": (lambda x: x.mean(dim=-1, keepdim=True), [(2, 3)], None),
    "max_all": (lambda x: x.max(), [(2, 3)], None),
    "max_dim": (lambda x: x.max(dim=0)[0], [(3, 4)], None),
    "reshape": (lambda x: x.reshape(3, 2) * x.reshape(3, 2), [(2, 3)], None),
    "transpose": (lambda x: x.transpose(0, 2), [(2, 3, 2)], None),
    "permute": (lambda x: x.permute(1, 2, 0), [(2, 3, 2)], None),
    "T": (lambda x: x.T, [(2, 3)], None),
    "flatten": (lambda x: x.flatten(1), [(2, 3, 2)], None),
    "unsqueeze_squeeze": (lambda x: x.unsqueeze(1).squeeze(), [(2, 3)], None),
    "expand": (lambda x: x.expand(2, 3, 4), [(3, 1)], None),
    "getitem_slices": (lambda x: x[None, ..., 1:3], [(2, 4)], None),
    "getitem_repeated_ints": (lambda x: x[[1, 1, 0]], [(2, 3)], None),
    "chunk": (lambda x: x.chunk(2, dim=1)[1] * 3.0, [(2, 4)], None),
    "split": (lambda x: x.split([1, 3], dim=1)[1], [(2, 4)], None),
    "cat": (lambda a, b: mg.cat([a, b, a], dim=1), [(2, 1), (2, 3)], None),
    "stack": (lambda a, b: mg.stack([a, b], dim=-1), [(2, 3), (2, 3)], None),
}


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name):
    fn, shapes, kind = CASES[name]
    assert mg.gradcheck(fn, inputs_for(shapes, kind))


def test_gradcheck_skips_inputs_that_do_not_require_grad():
    x = mg.randn(2, 3, dtype=np.float64, requires_grad=True)
    const = mg.randn(2, 3, dtype=np.float64)
    assert mg.gradcheck(lambda a, c: a * c, [x, const])
    assert const.grad is None


def test_gradcheck_leaves_inputs_unchanged():
    (x,) = inputs_for([(3, 2)])
    before = x.numpy().copy()
    mg.gradcheck(lambda t: t.exp(), [x])
    np.testing.assert_array_equal(x.numpy(), before)


def test_gradcheck_works_on_non_contiguous_inputs():
    """A transposed array's flat view is a copy: the perturbation must still reach the input."""
    x = mg.Tensor(np.random.default_rng(0).standard_normal((4, 3)).T, requires_grad=True)
    assert not x.numpy().flags.c_contiguous
    assert mg.gradcheck(lambda t: t * 2.0, [x])


# -- gradcheck must catch wrong backwards -------------------------------------------------------
class SquareMissingFactor2(Function):
    """Deliberately wrong: d(a^2)/da is 2a, this says a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a


class MulWrongSecondGrad(Function):
    """Deliberately wrong on input 1 only: returns grad * b instead of grad * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * b


class ExpIgnoringGrad(Function):
    """Deliberately wrong: ignores the upstream gradient (right only if it were all ones)."""

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return out


@pytest.mark.parametrize(
    "op, n_inputs, bad_input",
    [(SquareMissingFactor2, 1, 0), (MulWrongSecondGrad, 2, 1), (ExpIgnoringGrad, 1, 0)],
    ids=["missing_factor", "wrong_second_input", "ignores_upstream_grad"],
)
def test_gradcheck_fails_with_a_message_naming_input_and_element(op, n_inputs, bad_input):
    inputs = inputs_for([(2, 3)] * n_inputs, "positive")
    with pytest.raises(mg.GradcheckError) as err:
        mg.gradcheck(op.apply, inputs)
    assert f"gradient of input {bad_input} (shape (2, 3)) is wrong at index (" in str(err.value)
    assert "backward gives" in str(err.value) and "finite differences give" in str(err.value)


def test_gradcheck_refuses_float32():
    x = mg.randn(2, 3, requires_grad=True)
    with pytest.raises(TypeError, match=r"gradcheck: input 0 is float32; use float64"):
        mg.gradcheck(lambda t: t * 2.0, [x])


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="gradcheck: no input requires grad"):
        mg.gradcheck(lambda t: t * 2.0, [mg.randn(2, dtype=np.float64)])
