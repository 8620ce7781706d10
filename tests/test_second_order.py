"""Gradients of gradients: create_graph=True as PyTorch's, checked against PyTorch and finite differences.

Each op's second derivatives against PyTorch's are checked by `check_op` in every op's own tests (in float64, with
an upstream gradient that itself requires grad); op_db's samples by tests/conformance.py. Here: the autograd rules
(what `.grad` holds across orders, hooks, custom Functions, refusals), finite differences of the first gradient
(`gradgradcheck`) for every op, and the whole tiny ViT's Hessian-vector product against PyTorch's.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.functional as F
from minigrad.graph_array import GraphArray
from minigrad.testing import MODES, assert_close, mode, seeded

TIGHT = dict(rtol=1e-10, atol=1e-10)


def both(fn):
    """fn(framework) run with torch and with minigrad: the same code, imports changed."""
    return fn(torch), fn(mg)


def values(x):
    if isinstance(x, (tuple, list)):
        return [values(t) for t in x]
    if x is None:
        return None
    return np.asarray(x.detach().numpy(), dtype=np.float64)


def assert_same(theirs, ours, what="result"):
    if isinstance(theirs, list):
        assert len(theirs) == len(ours), what
        for i, (t, o) in enumerate(zip(theirs, ours)):
            assert_same(t, o, f"{what}[{i}]")
        return
    assert (theirs is None) == (ours is None), f"{what}: one side is None"
    if theirs is not None:
        assert_close(ours, theirs, what, **TIGHT)


def leaf(fw, values, requires_grad=True):
    return fw.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# -- PyTorch's rules ------------------------------------------------------------------------------------------


def test_third_derivative_of_tanh_matches_pytorch():
    def run(fw):
        x = leaf(fw, [0.3, -1.2, 2.0])
        g1, = fw.autograd.grad(x.tanh().sum(), x, create_graph=True)
        g2, = fw.autograd.grad(g1.sum(), x, create_graph=True)
        g3, = fw.autograd.grad(g2.sum(), x)
        return values([g1, g2, g3])
    theirs, ours = both(run)
    assert_same(theirs, ours)
    t = np.tanh(np.array([0.3, -1.2, 2.0]))
    assert_close(ours[1], -2 * t * (1 - t * t), "tanh'' by hand", **TIGHT, reference="by hand")


def test_grad_accumulates_across_orders_as_pytorchs():
    """First: a copy of the gradient (CopyBackwards), then .grad + g out of place (AddBackward0); a backward
    without create_graph adds in place and leaves .grad's node as it was."""
    def run(fw):
        x = leaf(fw, [1.0, 2.0])
        seen = []
        for create_graph in (True, True, False):
            (x ** 3).sum().backward(create_graph=create_graph)
            seen.append((x.grad.detach().numpy().copy(), x.grad.grad_fn.name().split("::")[-1] if x.grad.grad_fn else None,
                         x.grad.requires_grad))
        y = leaf(fw, [1.0, 2.0])
        (y * 2).sum().backward(create_graph=True)  # linear: the gradient is a constant
        seen.append((y.grad.detach().numpy().copy(), y.grad.grad_fn, y.grad.requires_grad))
        return seen
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch's note on a .grad that references its parameter
        theirs, ours = both(run)
    for (tv, tname, treq), (ov, oname, oreq) in zip(theirs, ours):
        np.testing.assert_allclose(ov, tv, rtol=1e-12)
        assert (oname, oreq) == (tname, treq)


def test_grad_of_x_grad_after_backward_with_create_graph():
    def run(fw):
        x = leaf(fw, [0.5, -0.7])
        w = leaf(fw, [1.5, 2.0])
        loss = (x.sin() * w).sum() + (x * x * w).sum()
        loss.backward(create_graph=True)
        penalty = (x.grad ** 2).sum()
        x.grad = None
        w.grad = None
        penalty.backward()
        return values([x.grad, w.grad])
    theirs, ours = both(run)
    assert_same(theirs, ours)


def test_the_second_derivative_with_respect_to_the_upstream_gradient():
    """d/dg of <d<f, g>/dx, v>: the Jacobian applied to v, as PyTorch's double-backward trick for a jvp."""
    def run(fw):
        x = leaf(fw, [[0.1, 0.2, -0.3], [1.0, -2.0, 0.5]])
        g = leaf(fw, np.arange(6.0).reshape(2, 3) / 7)
        v = leaf(fw, np.ones((2, 3)) * 0.3, requires_grad=False)
        y = fw.softmax(x, dim=1) if fw is torch else F.softmax(x, dim=1)
        d, = fw.autograd.grad(y, x, g, create_graph=True)
        return values(fw.autograd.grad((d * v).sum(), [x, g]))
    theirs, ours = both(run)
    assert_same(theirs, ours)


def test_an_upstream_gradient_of_another_dtype_is_cast_inside_the_graph():
    """PyTorch casts a float32 grad_outputs to the output's float64 with a recorded op: d/dg still reaches g."""
    def run(fw):
        x = leaf(fw, [0.5, 1.0])
        g = fw.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
        d, = fw.autograd.grad(x.tanh(), x, g, create_graph=True)
        dg, = fw.autograd.grad(d.sum(), g)
        return values([d, dg]) + [str(dg.dtype).replace("torch.", "")]
    theirs, ours = both(run)
    assert_same(theirs[:2], ours[:2])
    assert ours[2] == theirs[2] == "float32"


def test_hooks_see_gradients_with_a_graph():
    def run(fw):
        x = leaf(fw, [0.4, 1.1])
        y = x * x
        seen = []
        y.register_hook(lambda grad: seen.append(grad.requires_grad) or grad * 3)
        g, = fw.autograd.grad(y.sum(), x, create_graph=True)
        h, = fw.autograd.grad(g.sum(), x)
        return seen, values([g, h])
    (t_seen, theirs), (o_seen, ours) = both(run)
    assert o_seen == t_seen
    assert_same(theirs, ours)


def test_a_custom_function_written_with_tensor_ops_is_twice_differentiable():
    """PyTorch's LegendrePolynomial3 tutorial: its backward is made of differentiable ops."""
    def run(fw):
        class P3(fw.autograd.Function):
            @staticmethod
            def forward(ctx, input):
                ctx.save_for_backward(input)
                return 0.5 * (5 * input ** 3 - 3 * input)

            @staticmethod
            def backward(ctx, grad_output):
                input, = ctx.saved_tensors
                return grad_output * 1.5 * (5 * input ** 2 - 1)

        x = leaf(fw, [0.2, -0.9, 1.3])
        g, = fw.autograd.grad(P3.apply(x).sum(), x, create_graph=True)
        return values(fw.autograd.grad(g.sum(), x))
    theirs, ours = both(run)
    assert_same(theirs, ours)
    assert_close(ours[0], 15 * np.array([0.2, -0.9, 1.3]), "P3'' = 15x", **TIGHT, reference="by hand")


def test_create_graph_keeps_the_graph_by_default():
    x = leaf(mg, [1.0, 2.0])
    y = (x.exp() * x).sum()
    g, = mg.autograd.grad(y, x, create_graph=True)
    again, = mg.autograd.grad(y, x)  # retain_graph defaults to create_graph
    np.testing.assert_allclose(again.numpy(), g.detach().numpy())


@pytest.mark.parametrize("name", MODES)
def test_kernels_give_the_references_second_derivatives(name):
    """Under create_graph a kernel's node is differentiated through its reference formula."""
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))

    def run(fw):
        x, w = leaf(fw, x0), leaf(fw, w0)
        h = fw.nn.functional.gelu(fw.nn.functional.linear(x, w), approximate="tanh")
        loss = fw.nn.functional.log_softmax(h, dim=-1).sum() if fw is torch else F.log_softmax(h, dim=-1).sum()
        gx, gw = fw.autograd.grad(loss, [x, w], create_graph=True)
        return values(fw.autograd.grad((gx * gx).sum() + gw.sum(), [x, w]))
    theirs = run(torch)
    with mode(name):
        ours = run(mg)
    assert_same(theirs, ours)


def test_a_numpy_function_without_a_minigrad_op_is_refused_by_name():
    x = GraphArray(mg.tensor(np.ones(3), requires_grad=True))
    with pytest.raises(TypeError, match=r"create_graph: np\.sort is not one of minigrad's differentiable ops"):
        np.sort(x)
    with pytest.raises(TypeError, match="converting to a NumPy array"):
        np.asarray(x)
    assert isinstance(x > 0, np.ndarray), "a comparison has no derivative: a constant array"


# -- gradgradcheck: finite differences of the first gradient, every op --------------------------------------


def _pos(x):
    return x.abs() + 0.5


OPS = {
    "add": (lambda a, b: a + b, [(2, 3), (3,)]),
    "sub": (lambda a, b: a - b, [(2, 3), (2, 1)]),
    "mul": (lambda a, b: a * b, [(2, 3), (3,)]),
    "div": (lambda a, b: a / _pos(b), [(2, 3), (2, 3)]),
    "pow": (lambda a, b: _pos(a) ** b, [(2, 3), (2, 3)]),
    "pow_scalar": (lambda a: a ** 3, [(2, 3)]),
    "neg": (lambda a: -a, [(4,)]),
    "exp": (lambda a: a.exp(), [(2, 3)]),
    "log": (lambda a: _pos(a).log(), [(2, 3)]),
    "tanh": (lambda a: a.tanh(), [(2, 3)]),
    "sqrt": (lambda a: _pos(a).sqrt(), [(2, 3)]),
    "sigmoid": (lambda a: a.sigmoid(), [(2, 3)]),
    "relu": (lambda a: a.relu() * a, [(2, 3)]),
    "abs": (lambda a: a.abs() * a, [(2, 3)]),
    "sin": (lambda a: a.sin(), [(5,)]),
    "cos": (lambda a: a.cos(), [(5,)]),
    "log1p": (lambda a: _pos(a).log1p(), [(5,)]),
    "expm1": (lambda a: a.expm1(), [(5,)]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5) * a, [(2, 3)]),
    "maximum": (lambda a, b: mg.maximum(a, b) * a, [(2, 3), (2, 3)]),
    "where": (lambda a, b: mg.where(a > 0, a * a, b * a), [(2, 3), (2, 3)]),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)]),
    "matmul_batched_vector": (lambda a, b: a @ b, [(2, 3, 4), (4,)]),
    "sum": (lambda a: (a.sum(dim=1) ** 2), [(2, 3)]),
    "mean": (lambda a: a.mean(dim=0, keepdim=True) * a, [(2, 3)]),
    "max": (lambda a: a.max(dim=1)[0] * a.sum(dim=1), [(3, 4)]),
    "norm": (lambda a: a.norm(dim=1), [(3, 4)]),
    "std": (lambda a: a.std(dim=1), [(3, 4)]),
    "var": (lambda a: a.var(dim=0), [(3, 4)]),
    "cumsum": (lambda a: a.cumsum(dim=1) * a, [(2, 4)]),
    "reshape_permute": (lambda a: a.reshape(3, 2).permute(1, 0) * a, [(2, 3)]),
    "expand": (lambda a: a.expand(4, 3) * a, [(1, 3)]),
    "getitem": (lambda a: a[[0, 0, 1], 1:] * a[0, 1], [(2, 3)]),
    "cat_stack": (lambda a, b: mg.cat([a, b * a], dim=0) * mg.stack([a, b]).sum(0).sum(), [(2, 3), (2, 3)]),
    "softmax": (lambda a: F.softmax(a, dim=-1), [(2, 5)]),
    "log_softmax": (lambda a: F.log_softmax(a, dim=-1), [(2, 5)]),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), [(2, 3)]),
    "logsigmoid": (lambda a: F.logsigmoid(a), [(2, 3)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [(2, 3), (4, 3), (4,)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, mg.tensor(np.array([1, 0, 3]))), [(3, 4)]),
    "cross_entropy_smoothing": (lambda x: F.cross_entropy(x, mg.tensor(np.array([1, 0, 3])), label_smoothing=0.1),
                                [(3, 4)]),
    "cross_entropy_weight_ignore_index": (
        lambda x: F.cross_entropy(x, mg.tensor(np.array([1, 0, 3])), weight=mg.tensor([0.5, 2.0, 1.0, 1.5],
                                                                                        dtype=mg.float64),
                                  ignore_index=0), [(3, 4)]),
    "cross_entropy_probabilities": (lambda x, t: F.cross_entropy(x, F.softmax(t, dim=1), reduction="sum"),
                                    [(3, 4), (3, 4)]),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), [(3, 4), (3, 4)]),
    "bce_with_logits": (lambda x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid()), [(3, 4), (3, 4)]),
    "gelu_erf": (lambda a: F.gelu(a), [(2, 3)]),
    "dropout_fixed_mask": (seeded(lambda a: F.dropout(a, 0.3) * a), [(3, 4)]),
    "sdpa_causal_dropout": (seeded(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                               dropout_p=0.2)),
                            [(1, 3, 4), (1, 3, 4), (1, 3, 2)]),
    "interpolate_nearest": (lambda x: F.interpolate(x, scale_factor=2, mode="nearest") ** 2, [(1, 1, 3, 3)]),
    "bce": (lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid()), [(3, 4), (3, 4)]),
    "sdpa": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [(1, 3, 4), (1, 5, 4), (1, 5, 2)]),
    "conv2d": (lambda x, w: F.conv2d(x, w, stride=2, padding=1), [(1, 2, 5, 5), (3, 2, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2) * F.avg_pool2d(x, 2), [(1, 2, 4, 4)]),
    "interpolate": (lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) ** 2,
                    [(1, 1, 3, 3)]),
}


@pytest.mark.parametrize("name", OPS)
def test_gradgradcheck(name):
    fn, shapes = OPS[name]
    rng = np.random.default_rng(1)
    inputs = [mg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    with mode("reference"):
        assert mg.gradgradcheck(fn, inputs, atol=1e-6, rtol=1e-5)
    for t in inputs:
        t.grad = None
    assert mg.gradgradcheck(fn, inputs, atol=1e-6, rtol=1e-5)  # with the kernels


# -- the whole tiny ViT ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("faster", [True, False], ids=["fused_qkv", "per_head"])
def test_the_tiny_vits_hessian_vector_product_matches_pytorchs(faster):
    """d<grad L, v>/dtheta for every parameter, the tutorial's ViT in eval mode, float64."""
    from tests.test_vit import NO_DROPOUT, batch, make_pair  # the same model pair the first-order tests use

    ours, theirs = make_pair(np.float64, use_faster_attention=faster, **NO_DROPOUT)
    ours.eval()
    theirs.eval()
    x, y = batch(3, np.float64)
    rng = np.random.default_rng(2)
    names = [n for n, _ in ours.named_parameters()]
    v = {n: rng.standard_normal(p.shape) for n, p in ours.named_parameters()}

    def hvp(fw, model, loss):
        params = list(model.parameters())
        grads = fw.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * fw.tensor(v[n])).sum() for n, g in zip(names, grads))
        return [h.detach().numpy() for h in fw.autograd.grad(dot, params)]

    t_loss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x))[0], torch.from_numpy(y))
    expected = hvp(torch, theirs, t_loss)
    for name in MODES:
        with mode(name):
            loss = F.cross_entropy(ours(x)[0], mg.tensor(y))
            got = hvp(mg, ours, loss)
        for n, g, e in zip(names, got, expected):
            assert_close(g, e, f"Hessian-vector product for {n} [{name}]", rtol=1e-8, atol=1e-10)
