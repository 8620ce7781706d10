"""Autograd as PyTorch's: the same code run on both frameworks gives the same values, gradients and errors.

Each test is written once as a function of the framework (`fw` is `torch` or `minigrad`, with its `nn`
and `optim`), run on both, and compared: in-place ops and aliases, version counters, Tensor `.grad` and
`.data`, grad_fn chains, hooks, `autograd.grad`, `autograd.Function`, and the answers that once differed
silently (each named after the case it fixes).
"""
from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

MG = SimpleNamespace(name="minigrad", t=mg, nn=mg.nn, F=mg.nn.functional, optim=mg.optim)
TORCH = SimpleNamespace(name="torch", t=torch, nn=torch.nn, F=torch.nn.functional, optim=torch.optim)


def arr(x):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [arr(v) for v in x]
    if isinstance(x, (torch.Tensor, mg.Tensor)):
        return np.asarray(x.detach().numpy())
    return np.asarray(x)


def both(fn, rtol=1e-10, atol=1e-12):
    """Run fn(framework) on both; every returned value (tensors, numbers, nested lists) must agree."""
    ours, theirs = fn(MG), fn(TORCH)
    ours, theirs = (ours,) if not isinstance(ours, tuple) else ours, (theirs,) if not isinstance(theirs, tuple) else theirs
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if isinstance(a, (str, bool)) or a is None:
            assert a == b, f"result {i}: {a!r} vs PyTorch {b!r}"
            continue
        np.testing.assert_allclose(arr(a), arr(b), rtol=rtol, atol=atol, equal_nan=True, err_msg=f"result {i}")
    return ours


def raises_both(fn, torch_pattern: str, ours_pattern: str | None = None):
    """fn raises RuntimeError on both, PyTorch's message matching torch_pattern and ours ours_pattern."""
    with pytest.raises(RuntimeError, match=torch_pattern):
        fn(TORCH)
    with pytest.raises(RuntimeError, match=ours_pattern or torch_pattern):
        fn(MG)


def leaf(fw, values, dtype="float64"):
    return fw.t.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


X = [[0.5, -1.25, 2.0], [1.5, 0.75, -0.5]]


# -- the silent list: each case that once gave a different answer with no error ------------------------------


def test_manual_sgd_step_under_no_grad_changes_the_model():
    """`with no_grad(): for p in model.parameters(): p -= lr * p.grad`, the first lesson's update."""
    def run(fw):
        fw.t.manual_seed(0)
        model = fw.nn.Linear(3, 2).double()
        with fw.t.no_grad():
            model.weight.copy_(fw.t.tensor(np.arange(6.0).reshape(2, 3) / 10))
            model.bias.fill_(0.5)
        x = fw.t.tensor(np.asarray(X, dtype="float64"))
        losses = []
        for _ in range(3):
            loss = (model(x) ** 2).mean()
            model.zero_grad()
            loss.backward()
            with fw.t.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
            losses.append(loss.item())
        return model.weight, model.bias, fw.t.tensor(losses)
    both(run)


def test_augmented_assignment_changes_the_tensor_every_alias_sees():
    def run(fw):
        a = fw.t.tensor([1.0, 2.0, 3.0])
        b, view = a, a[1:]
        a += 1
        a *= 2
        a -= fw.t.tensor([1.0, 1.0, 1.0])
        a /= 2
        return b is a, view, a._version
    both(run)


def test_optimizer_step_between_forward_and_backward_is_refused():
    def run(fw):
        model = fw.nn.Sequential(fw.nn.Linear(3, 4), fw.nn.Tanh(), fw.nn.Linear(4, 2))  # the 2nd saves its weight
        opt = fw.optim.SGD(model.parameters(), lr=0.1)
        loss = model(fw.t.ones(4, 3)).sum()
        loss.backward(retain_graph=True)
        opt.step()
        loss.backward()  # the graph saved the old weight
    raises_both(run, "modified by an inplace operation")


def test_grad_and_data_are_tensors_with_pytorchs_methods():
    def run(fw):
        w = leaf(fw, X)
        (w * w * w).sum().backward()
        g = w.grad
        stats = g.std(), g.mean(), w.data.norm(), g.norm(), w.data.abs().max()
        same_memory = (w.data.numpy().ctypes.data == w.detach().numpy().ctypes.data)
        g.zero_()
        return (*stats, w.grad, type(w.grad).__name__ == "Tensor", type(w.data).__name__ == "Tensor",
                w.data.requires_grad, same_memory)
    both(run)


def test_assigning_a_submodule_or_parameter_again_keeps_its_place():
    def run(fw):
        mlp = fw.nn.Sequential(fw.nn.Linear(3, 4), fw.nn.Tanh(), fw.nn.Linear(4, 2))
        mlp[1] = fw.nn.GELU()
        mlp[0].weight = fw.nn.Parameter(mlp[0].weight.detach().clone())
        names = " ".join(n for n, _ in mlp.named_parameters())
        return " ".join(type(m).__name__ for m in mlp), names, " ".join(mlp.state_dict())
    both(run)


@pytest.mark.parametrize("name", ["sigmoid", "sqrt", "exp", "log", "tanh"])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64", "bool"])
def test_float_functions_of_integer_and_bool_tensors_are_float32(name, dtype):
    def run(fw):
        x = fw.t.tensor(np.array([0, 1, 2, 200] if dtype != "bool" else [0, 1, 1, 0]).astype(dtype))
        y = getattr(fw.t, name)(x)
        return str(y.dtype).replace("torch.", ""), y
    both(run, rtol=1e-6)


def test_an_integer_tensor_cannot_require_grad():
    raises_both(lambda fw: setattr(fw.t.tensor([1, 2]), "requires_grad", True),
                "only Tensors of floating point", "only floating-point tensors can require gradients")


def test_a_backward_returning_a_wrongly_shaped_gradient_is_named():
    class Transposed(mg.engine.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.reshape(grad.shape[::-1])  # the right size, the wrong shape

    with pytest.raises(RuntimeError, match=r"Transposed.backward returned a gradient of shape \(3, 2\) for input 0, "
                                           r"of shape \(2, 3\)"):
        Transposed.apply(leaf(MG, X)).sum().backward()


def test_pow_gradient_in_the_exponent_at_a_negative_base_is_nan():
    def run(fw):
        a, b = leaf(fw, [-2.0, 0.0, 0.0, 3.0]), leaf(fw, [2.0, 2.0, -1.0, 0.5])
        (a ** b).sum().backward()
        return b.grad, a.grad
    both(run)


def test_max_over_a_tensor_holding_nan_sends_the_gradient_to_the_nan():
    def run(fw):
        x = leaf(fw, [1.0, float("nan"), 3.0, float("nan")])
        x.max().backward()
        y = leaf(fw, [1.0, 3.0, 3.0])
        y.min().backward()
        return x.grad, y.grad
    both(run)


def test_attention_with_a_fully_masked_query_gives_zeros():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 3, 4)) for _ in range(3))
    mask = np.array([[True, True, True], [False, False, False], [True, False, True]])

    def run(fw):
        qt, kt, vt = (fw.t.tensor(a, requires_grad=True) for a in (q, k, v))
        out = fw.F.scaled_dot_product_attention(qt, kt, vt, attn_mask=fw.t.tensor(mask))
        out.backward(fw.t.tensor(rng.standard_normal(out.shape)))
        return out, qt.grad, kt.grad, vt.grad
    rng = np.random.default_rng(1)
    ours = run(MG)
    rng = np.random.default_rng(1)
    theirs = run(TORCH)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(arr(a), arr(b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("target", [[0, 0, 0], [0, 0, -100], [-100, -100, -100]], ids=["all_weight_0", "some_ignored",
                                                                                       "all_ignored"])
def test_cross_entropy_whose_kept_targets_all_have_weight_0(target):
    def run(fw):
        x = leaf(fw, np.arange(12.0).reshape(3, 4) / 7)
        loss = fw.F.cross_entropy(x, fw.t.tensor(target), weight=fw.t.tensor([0.0, 1.0, 1.0, 1.0], dtype=fw.t.float64))
        loss.backward()
        return loss, x.grad
    both(run)


# -- in-place ops: values, gradients and PyTorch's rules --------------------------------------------------


INPLACE = {
    "add_": lambda y, o: y.add_(o, alpha=2.0),
    "sub_": lambda y, o: y.sub_(o),
    "mul_": lambda y, o: y.mul_(o),
    "div_": lambda y, o: y.div_(o + 3.0),
    "iadd": lambda y, o: y.__iadd__(o),
    "isub": lambda y, o: y.__isub__(o),
    "imul": lambda y, o: y.__imul__(o),
    "itruediv": lambda y, o: y.__itruediv__(o + 3.0),
    "pow_": lambda y, o: y.pow_(2),
    "neg_": lambda y, o: y.neg_(),
    "exp_": lambda y, o: y.exp_(),
    "tanh_": lambda y, o: y.tanh_(),
    "sigmoid_": lambda y, o: y.sigmoid_(),
    "relu_": lambda y, o: y.relu_(),
    "abs_": lambda y, o: y.abs_(),
    "clamp_": lambda y, o: y.clamp_(-1.0, 1.5),
    "zero_": lambda y, o: y.zero_(),
    "fill_": lambda y, o: y.fill_(0.25),
    "copy_": lambda y, o: y.copy_(o),
    "setitem_rows": lambda y, o: y.__setitem__(slice(0, 1), o[1:]),
    "setitem_picked": lambda y, o: y.__setitem__((np.array([0, 1]), np.array([2, 0])), o[0, :2]),
    "view_add_": lambda y, o: y[1].add_(o[0]),
    "view_iadd_through_setitem": lambda y, o: y.__setitem__(1, y[1].__iadd__(o[0] * 2)),
}


@pytest.mark.parametrize("op", INPLACE)
def test_inplace_op_on_a_tensor_in_the_graph_matches_pytorch(op):
    """y = x * 1.5 (a non-leaf); y.op_(other); L = <y, dout> + sum(x): values and the gradients of x and other."""
    dout = np.random.default_rng(2).standard_normal((2, 3))

    def run(fw):
        x, other = leaf(fw, X), leaf(fw, np.array(X)[::-1] * 0.5)
        if op == "setitem_picked":  # PyTorch indexes with tensors, minigrad takes arrays too
            index = (fw.t.tensor([0, 1]), fw.t.tensor([2, 0]))
            y = x * 1.5
            y[index] = other[0, :2]
        else:
            y = x * 1.5
            INPLACE[op](y, other)
        ((y * fw.t.tensor(dout)).sum() + x.sum()).backward()
        return y, x.grad, other.grad if other.grad is not None else fw.t.zeros(2, 3, dtype=fw.t.float64), y._version
    both(run)


def test_inplace_on_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    raises_both(lambda fw: leaf(fw, X).add_(1.0), "a leaf Variable that requires grad is being used in an in-place")
    raises_both(lambda fw: leaf(fw, X)[0].mul_(2.0), "a view of a leaf Variable that requires grad")

    def under_no_grad(fw):
        x = leaf(fw, X)
        with fw.t.no_grad():
            x[0, 1] = 7.0
            x.add_(1.0)
        return x, x.is_leaf, x.requires_grad, x._version
    both(under_no_grad)


def test_inplace_on_another_kind_of_view_in_the_graph_is_refused_by_name():
    x = leaf(MG, X) * 1.0
    with pytest.raises(NotImplementedError, match=r"add_: in-place on this view of a tensor in the graph \(made by "
                                                  r"reshape"):
        x.reshape(3, 2).add_(1.0)


def test_a_saved_output_changed_in_place_is_refused_and_an_unsaved_input_is_not():
    def modified_output(fw):
        y = leaf(fw, X).exp()
        y.add_(1.0)
        y.sum().backward()
    raises_both(modified_output, "modified by an inplace operation", r"its output \(shape \(2, 3\)\) of ExpBackward0")

    def unsaved_input(fw):  # Add saved nothing: the old graph still holds, and gives the old gradient
        x = leaf(fw, X)
        b = x * 1.0
        c = b + 1.0
        b.mul_(3.0)
        c.sum().backward()
        return x.grad, b.grad_fn.name(), b._version
    both(unsaved_input)


def test_inplace_results_that_do_not_fit_are_refused():
    raises_both(lambda fw: fw.t.ones(3).add_(fw.t.ones(2, 3)), r"output with shape \[3\] doesn't match the broadcast",
                r"output with shape \(3,\) doesn't match the broadcast shape \(2, 3\)")
    raises_both(lambda fw: fw.t.tensor([1, 2]).add_(0.5), "result type Float can't be cast to the desired output type Long",
                "result type float32 can't be cast to the desired output type int64")
    raises_both(lambda fw: fw.t.ones(1, 3).expand(2, 3).add_(1.0), "more than one element of the written-to tensor")


def test_index_assignment_as_the_lectures_write_it():
    def run(fw):
        N = fw.t.zeros((3, 4), dtype=fw.t.int32)
        for a, b in [(0, 1), (2, 3), (0, 1), (1, 0)]:
            N[a, b] += 1
        d = fw.t.zeros((4, 3))
        d[range(4), fw.t.tensor([0, 2, 1, 2])] = -1.0 / 4
        t = fw.t.ones(2, 3)
        t[:, 1] = 0
        return N, d, t
    both(run)


# -- the graph, inspectable ----------------------------------------------------------------------------------


def chain(t):
    """The grad_fn names from t down, depth first, as nested lists."""
    def walk(node):
        if node is None:
            return None
        return [node.name().split("::")[-1], [walk(n) for n, _ in node.next_functions]]
    return walk(t.grad_fn)


@pytest.mark.parametrize("expr", [
    lambda fw, x: x * 2, lambda fw, x: (x * x).sum(), lambda fw, x: (-x).exp().mean(), lambda fw, x: x ** 2,
    lambda fw, x: x.sum(dim=0) if False else x.tanh() - x.sigmoid(), lambda fw, x: x.clone().relu(),
    lambda fw, x: fw.t.cat([x, x]).sqrt(), lambda fw, x: x.permute(1, 0).abs(), lambda fw, x: x / 3 + x.log(),
])
def test_grad_fn_chains_name_the_ops_as_pytorch(expr):
    both(lambda fw: str(chain(expr(fw, leaf(fw, np.abs(X) + 0.5)))))


def test_grad_fn_is_leaf_and_next_functions():
    def run(fw):
        x = leaf(fw, X)
        y = x * 2
        node, index = y.grad_fn.next_functions[0]
        return (x.is_leaf, y.is_leaf, fw.t.ones(2).is_leaf, x.grad_fn is None, node.name().split("::")[-1], index,
                y.grad_fn.next_functions[1][0] is None, node.variable is x)
    both(run)


# -- hooks, retain_grad, backward(gradient=, inputs=) ------------------------------------------------------


def test_tensor_hooks_run_in_order_and_their_results_replace_the_gradient():
    def run(fw):
        x = leaf(fw, X)
        y = x * 3
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()))
        y.register_hook(lambda g: g * 10)
        removed = y.register_hook(lambda g: g * 1000)
        removed.remove()
        y.retain_grad()
        x.register_hook(lambda g: g + 1)
        (y * y).sum().backward()
        return seen[0], y.grad, x.grad, y.retains_grad, x.retains_grad
    both(run)


def test_backward_with_gradient_and_inputs():
    dout = np.arange(6.0).reshape(2, 3)

    def run(fw):
        x, w = leaf(fw, X), leaf(fw, np.ones((2, 3)))
        y = x * w
        y.backward(gradient=fw.t.tensor(dout), inputs=[x])
        z = (x * w).sum()
        z.backward(inputs=[w])
        return x.grad, w.grad
    both(run)


def test_autograd_grad():
    def run(fw):
        x, w, unused = leaf(fw, X), leaf(fw, np.ones((2, 3))), leaf(fw, [1.0])
        h = (x * w).tanh()
        out = (h * h).sum()
        gx, gh = fw.t.autograd.grad(out, [x, h], retain_graph=True)
        gw, gu = fw.t.autograd.grad(out, [w, unused], allow_unused=True, retain_graph=True)
        (gv,) = fw.t.autograd.grad(h, x, grad_outputs=fw.t.ones_like(h))
        return gx, gh, gw, gu is None, gv, x.grad is None, w.grad is None
    both(run)
    raises_both(lambda fw: fw.t.autograd.grad((leaf(fw, X) * 2).sum(), [leaf(fw, [1.0])]),
                "appears to not have been used in the graph", "appears to not have been used in the graph")

    def freed(fw):
        x = leaf(fw, X)
        out = (x.exp()).sum()
        fw.t.autograd.grad(out, x)
        fw.t.autograd.grad(out, x)
    raises_both(freed, "Trying to backward through the graph a second time", "already freed")


def test_grad_with_respect_to_a_non_leaf_neither_runs_nor_frees_the_graph_behind_it():
    """autograd.grad(out, y) stops at y: y's own node (and what made y) is not run, so it is not freed either."""
    def run(fw):
        x = leaf(fw, X)
        y = x.exp()
        (gy,) = fw.t.autograd.grad((y * y).sum(), y)
        y.sum().backward()  # through y's node, still there
        (again,) = fw.t.autograd.grad((y * 3).sum(), y)
        return gy, x.grad, again
    both(run)


# -- autograd.Function: PyTorch's tutorial, imports changed --------------------------------------------------


def legendre_fit(fw, steps: int = 300):
    """'Learning PyTorch with Examples': the polynomial fit with a custom autograd.Function (float64)."""
    torch_ = fw.t

    class LegendrePolynomial3(torch_.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    dtype = torch_.float64
    x = torch_.tensor(np.linspace(-math.pi, math.pi, 2000), dtype=dtype)
    y = torch_.sin(x) if hasattr(torch_, "sin") else torch_.tensor(np.sin(np.linspace(-math.pi, math.pi, 2000)))
    a = torch_.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch_.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch_.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch_.full((), 0.3, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    for t in range(steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch_.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return loss, a, b, c, d, y_pred.grad_fn.next_functions[1][0].next_functions[1][0].name()


def test_custom_function_from_pytorchs_tutorial():
    both(legendre_fit, rtol=1e-9)


def test_custom_function_ctx_and_arguments():
    def run(fw):
        class Scale(fw.t.autograd.Function):
            @staticmethod
            def forward(ctx, x, factor, w):
                ctx.factor = factor
                ctx.save_for_backward(w)
                ctx.flags = ctx.needs_input_grad
                return x * w * factor

            @staticmethod
            def backward(ctx, grad):
                (w,) = ctx.saved_tensors
                return grad * w * ctx.factor, None, None  # no gradient for w: as if zeros

        x, w = leaf(fw, X), leaf(fw, np.full((2, 3), 2.0))
        out = Scale.apply(x, 3.0, w)
        out.sum().backward()
        return x.grad, w.grad is None, str(out.grad_fn.name()).startswith("Scale")
    both(run)

    def modified(fw):
        class Save(fw.t.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * x
        x = leaf(fw, X)
        h = x * 1.0
        out = Save.apply(h)
        h.add_(1.0)
        out.sum().backward()
    raises_both(modified, "modified by an inplace operation")


def test_no_grad_and_set_grad_enabled_as_pytorchs():
    def run(fw):
        x = leaf(fw, X)

        @fw.t.no_grad()
        def doubled(t):
            return t * 2
        with fw.t.set_grad_enabled(False):
            off = (x * 2).requires_grad
        return doubled(x).requires_grad, off, (x * 2).requires_grad, fw.t.is_grad_enabled()
    both(run)


def test_repr_names_the_grad_fn():
    y = leaf(MG, [1.0]) * 2
    assert re.search(r"grad_fn=<MulBackward0>\)$", repr(y))
    assert repr(torch.tensor([1.0], requires_grad=True) * 2).endswith("grad_fn=<MulBackward0>)")
