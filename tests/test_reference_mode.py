"""Reference mode reaches the formulas: for a whole process (MINIGRAD_REFERENCE=1), and at backward alone.

A learner who steps into `loss.backward()` should land in the reference formulas of minigrad/ops and
minigrad/functional, not in a kernel: `with minigrad.reference():` around backward alone recomputes each
node a kernel recorded with its reference Function, and the environment variable turns reference mode on
from the first op (`MINIGRAD_REFERENCE=1 python -m pdb my_script.py`).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import engine


def impls_seen_by_backward(loss) -> list[tuple[str, bool]]:
    """(op, ran its reference backward) for every node backward visits."""
    seen = []
    engine.tracers.append(lambda ctx, out, g, grads: seen.append((ctx.fn.__name__, ctx.impl is ctx.fn)))
    try:
        loss.backward()
    finally:
        engine.tracers.pop()
    return seen


def small_model_loss(dropout: float = 0.0):
    mg.manual_seed(0)
    x = mg.randn(2, 5, 8, requires_grad=True)
    w = mg.randn(24, 8, requires_grad=True)
    qkv = F.linear(x, w)  # a kernel outside reference mode
    q, k, v = qkv.chunk(3, dim=-1)
    h = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
    h = F.dropout(F.gelu(F.layer_norm(h, (8,)), approximate="tanh"), p=dropout)
    return x, w, (F.softmax(h, dim=-1) * mg.randn(2, 5, 8)).sum()


def test_reference_around_backward_alone_runs_the_reference_formulas():
    x, w, loss = small_model_loss()
    (gx, gw) = mg.autograd.grad(loss, [x, w], retain_graph=True)  # the kernels' gradients
    with mg.reference():
        seen = impls_seen_by_backward(loss)
    assert {"Linear", "ScaledDotProductAttention", "LayerNorm", "GeluTanh", "Softmax"} <= {op for op, _ in seen}
    assert all(reference for _, reference in seen), [op for op, reference in seen if not reference]
    np.testing.assert_allclose(x.grad.numpy(), gx.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), gw.numpy(), rtol=1e-4, atol=1e-6)


def test_outside_reference_mode_backward_runs_the_kernels():
    _, _, loss = small_model_loss()
    assert not all(reference for _, reference in impls_seen_by_backward(loss))


def test_a_dropout_node_recorded_by_a_kernel_goes_through_the_reference_backward_with_its_mask():
    mg.manual_seed(0)
    x = mg.randn(64, requires_grad=True)
    y = F.dropout(x, p=0.5)
    with mg.reference():
        seen = impls_seen_by_backward((y * 3.0).sum())
    assert ("Dropout", True) in seen
    kept = y.numpy() != 0
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, 6.0, 0.0).astype(np.float32))


def test_attention_with_dropout_recorded_by_a_kernel_gives_its_mask_to_the_reference_backward():
    mg.manual_seed(0)
    q = mg.randn(2, 6, 8, requires_grad=True)
    loss = (F.scaled_dot_product_attention(q, q * 0.5, q, dropout_p=0.5) * mg.randn(2, 6, 8)).sum()
    (kernel_grad,) = mg.autograd.grad(loss, q, retain_graph=True)
    with mg.reference():
        seen = impls_seen_by_backward(loss)
    assert ("ScaledDotProductAttention", True) in seen
    np.testing.assert_allclose(q.grad.numpy(), kernel_grad.numpy(), rtol=1e-4, atol=1e-6)


class _Noisy(engine.Function):
    """y = a + noise: a random op whose kernel cannot hand its node to the reference."""

    draws_random = True

    @staticmethod
    def forward(ctx, a, p):
        return a + mg.random.default_generator().standard_normal(a.shape).astype(a.dtype) * p

    @staticmethod
    def backward(ctx, grad):
        return grad


class _NoisyKernel:
    forward = staticmethod(_Noisy.forward)
    backward = staticmethod(_Noisy.backward)


def test_a_random_node_a_kernel_recorded_without_handing_it_over_is_refused(monkeypatch):
    monkeypatch.setitem(engine._kernels, _Noisy, _NoisyKernel)
    y = _Noisy.apply(mg.randn(3, requires_grad=True), p=0.5)
    with mg.reference(), pytest.raises(RuntimeError, match=r"the _Noisy node was recorded by a kernel and drew a "
                                                           r"random mask, so it cannot be recomputed"):
        y.sum().backward()


def test_an_input_changed_since_forward_cannot_be_recomputed():
    a = mg.randn(4, 6)
    w = mg.randn(3, 6, requires_grad=True)
    y = F.linear(a, w)  # the kernel saved a
    y2 = y.sum()
    with mg.no_grad():
        a.mul_(2.0)
    with mg.reference(), pytest.raises(RuntimeError, match=r"modified by an inplace operation"):
        y2.backward()


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False), ("", False), ("true", True)])
def test_the_environment_variable_turns_reference_mode_on_for_the_whole_process(value, expected):
    code = ("import minigrad as mg, minigrad.nn.functional as F, threading\n"
            "x = mg.randn(3, 4, requires_grad=True)\n"
            "y = F.softmax(x, dim=-1)\n"
            "other = []\n"
            "t = threading.Thread(target=lambda: other.append(mg.is_reference_mode())); t.start(); t.join()\n"
            "print(mg.is_reference_mode(), y.grad_fn.impl is y.grad_fn.fn, other[0])\n")
    env = {**os.environ, "MINIGRAD_REFERENCE": value}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(expected)] * 3
