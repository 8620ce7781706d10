"""The engine: topological sort, gradient accumulation, graph lifetime, no_grad, errors.

Graph-shaped cases (a tensor used twice, diamonds) are compared with PyTorch through check_op;
the rest test what the engine promises in engine.py's docstring.
"""
import gc
import sys
import weakref

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.engine import Context, Function, topological_order, unbroadcast
from minigrad.testing import DTYPES, check_op


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


@pytest.fixture(autouse=True)
def seeded():
    mg.manual_seed(0)  # leaf() and mg.randn draw from minigrad's generator: same values every run


def leaf(*shape, dtype=np.float64):
    return mg.randn(*shape, dtype=dtype, requires_grad=True)


# -- the graph: every path contributes ------------------------------------------------------------
def _diamond(x):
    a = x * 3.0
    return a.exp() * a.tanh()  # two paths from a to the output


def _shared_four_times(x):
    a = x.sigmoid()
    return a * a + a / (a + 1.0)


GRAPHS = {
    "x_times_x": lambda x: x * x,
    "x_plus_x": lambda x: x + x,
    "x_minus_x": lambda x: x - x,  # the two contributions cancel: gradient exactly 0
    "cube_plus_x": lambda x: x * x * x + x,
    "diamond": _diamond,
    "shared_four_times": _shared_four_times,
    "sum_then_broadcast_back": lambda x: x * x.sum(dim=0, keepdim=True),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_tensor_used_several_times_gets_every_contribution(name, dtype):
    check_op(GRAPHS[name], GRAPHS[name], [(3, 4)], dtype)


def test_deep_chain_backward_is_iterative():
    """100,000 ops deep: a recursive topological sort would hit Python's recursion limit (~1000)."""
    assert sys.getrecursionlimit() < 100_000
    x = leaf(3)
    y = x
    for _ in range(100_000):
        y = -y  # an even number of negations: dy/dx = 1
    y.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, np.ones(3))
    del y  # freeing the intact 100,000-deep graph must not crash either


def test_topological_order_puts_inputs_first_and_each_tensor_once():
    x = leaf(2)
    a = x * 2.0
    b, c = a.exp(), a.tanh()
    out = b * c
    order = topological_order([out.grad_fn])
    position = {id(node): i for i, node in enumerate(order)}
    assert len(order) == len(position) == 5  # x's AccumulateGrad, a, b, c, out (the constant 2.0 needs no grad)
    assert [node.name() for node in order][::4] == ["AccumulateGrad", "MulBackward0"]
    for node in order:
        for parent, _ in node.next_functions:
            if parent is not None:
                assert position[id(parent)] < position[id(node)]


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 4), (1, 4), (3, 1), (2, 1, 1), (1,), ()], ids=str)
def test_unbroadcast_sums_back_like_torch_sum_to_size(shape):
    g = np.random.default_rng(0).standard_normal((2, 3, 4))
    np.testing.assert_allclose(unbroadcast(g, shape), torch.tensor(g).sum_to_size(shape).numpy(), rtol=1e-12)


# -- accumulation and aliasing --------------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls():
    x = leaf(3)
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 5.0))  # += , never =


def test_leaf_grads_do_not_alias_each_other_or_the_upstream_grad():
    a, b, c = leaf(2, 3), leaf(2, 3), leaf(6)
    out = a + b + c.reshape(2, 3)  # add passes the same array to both inputs; reshape a view
    upstream = np.ones((2, 3))
    out.backward(upstream)
    grads = [a.grad, b.grad, c.grad, upstream]
    for i in range(len(grads)):
        for j in range(i + 1, len(grads)):
            assert not np.shares_memory(grads[i], grads[j]), (i, j)
    a.grad += 10.0  # an optimizer writing into one gradient changes nothing else
    assert b.grad.numpy()[0, 0] == 1.0 and c.grad.numpy()[0] == 1.0 and upstream[0, 0] == 1.0


def test_backward_with_a_leaf_root_copies_the_grad():
    x = leaf(3)
    g = np.ones(3)
    x.backward(g)
    g[0] = 7.0
    assert x.grad.numpy()[0] == 1.0


def test_retain_grad_keeps_an_intermediate_gradient():
    x = leaf(3)
    h = x * 2.0
    h.retain_grad()
    other = x * 3.0  # an intermediate without retain_grad: its gradient is freed
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.numpy())
    assert other.grad is None


def test_function_may_return_none_only_for_an_input_that_needs_no_gradient():
    class FirstOnly(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.seen = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    a, b, c = leaf(2), leaf(2), mg.ones(2, dtype=np.float64)
    out = FirstOnly.apply(a, c)  # c needs no gradient: None is its answer
    assert out.grad_fn.seen == (True, False)
    out.sum().backward()
    assert a.grad is not None and c.grad is None
    out = FirstOnly.apply(a, b)
    assert out.grad_fn.seen == (True, True)
    with pytest.raises(RuntimeError, match=r"FirstOnly.backward gave no gradient for input 1 \(shape \(2,\)\), "
                                           r"which requires grad"):
        out.sum().backward()  # never silently nothing


def test_function_returning_too_few_gradients_is_named():
    class OneGrad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return (grad,)

    with pytest.raises(RuntimeError, match=r"OneGrad.backward returned 1 gradients for 2 inputs"):
        OneGrad.apply(leaf(2), leaf(2)).sum().backward()


# -- graph lifetime ----------------------------------------------------------------------------
def test_second_backward_through_freed_graph_raises():
    x = leaf(3)
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already freed.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(3)
    y = (x.exp() * 2.0).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_backward_empties_each_node():
    x = leaf(3)
    h = x.exp()
    ctx = h.grad_fn
    h.sum().backward()
    assert ctx.released and ctx.saved_tensors == () and ctx.inputs == ()


def test_saved_arrays_are_freed_after_backward():
    x = leaf(3)
    h = x.exp()
    saved = weakref.ref(h.numpy())  # Exp saved its output for backward
    loss = (h * 2.0).sum()
    del h
    assert saved() is not None, "the graph holds the saved array until backward"
    loss.backward()
    assert saved() is None, "backward freed the node but the saved array is still alive"


def _count(cls) -> int:
    return sum(type(o) is cls for o in gc.get_objects())


def test_memory_does_not_grow_across_training_steps():
    """50 steps of a small MLP; with gc off, only reference counting frees: no cycles, no leaks."""
    mg.manual_seed(0)
    params = [leaf(4, 16, dtype=np.float32), mg.zeros(16, requires_grad=True), leaf(16, 3, dtype=np.float32)]
    x, target = mg.randn(8, 4), mg.randn(8, 3)

    def step() -> float:
        w1, b1, w2 = params
        loss = ((((x @ w1 + b1).relu()) @ w2 - target) ** 2).mean()
        loss.backward()
        for p in params:
            p.data -= 0.01 * p.grad
            p.grad = None
        return loss.item()

    gc.collect()
    gc.disable()
    try:
        losses = [step()]
        before = (_count(Context), _count(mg.Tensor))
        losses += [step() for _ in range(50)]
        after = (_count(Context), _count(mg.Tensor))
    finally:
        gc.enable()
    assert after == before, f"live (Context, Tensor) objects grew from {before} to {after}"
    assert losses[-1] < losses[0]  # and it really was training


# -- no_grad -----------------------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = leaf(3)
    with mg.no_grad():
        y = x * 2.0 + 1.0
    assert not y.requires_grad and y.grad_fn is None
    assert (x * 2.0).requires_grad, "recording resumes after the block"


def test_no_grad_nests_and_restores_even_on_error():
    assert mg.is_grad_enabled()
    with mg.no_grad():
        with mg.enable_grad():
            assert mg.is_grad_enabled()
        with mg.no_grad():
            assert not mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    with pytest.raises(ZeroDivisionError), mg.no_grad():
        1 / 0
    assert mg.is_grad_enabled()


def test_outputs_of_constants_do_not_require_grad():
    y = mg.randn(3) * 2.0
    assert not y.requires_grad and y.grad_fn is None


# -- errors that explain themselves -------------------------------------------------------------
def test_backward_on_non_scalar_without_grad():
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar outputs.*shape \(2, 3\)"):
        (leaf(2, 3) * 2.0).backward()


def test_backward_on_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match=r"does not require grad.*requires_grad=True.*no_grad"):
        (mg.randn(3) * 2.0).sum().backward()


def test_backward_with_grad_of_wrong_shape():
    with pytest.raises(RuntimeError, match=r"backward: Mismatch in shape: the gradient has shape \(3,\) and output 0 "
                                           r"has shape \(2, 3\)"):
        (leaf(2, 3) * 2.0).backward(np.ones(3))


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match=r"only floating-point tensors can require gradients, got dtype int64"):
        mg.Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        mg.Tensor(np.array([1, 2])).requires_grad_()
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        mg.tensor([1, 2]).requires_grad = True  # as PyTorch: refused, not truncated gradients later


def test_ops_on_integer_tensors_record_nothing():
    labels = mg.Tensor(np.array([0, 2, 1]))
    x = leaf(3, 3)
    picked = x[mg.arange(3), labels]  # integer tensors as indices: gradient only to x
    assert not (labels * 2).requires_grad and picked.requires_grad


# -- dtype policy: float32 stays float32 ----------------------------------------------------------
def test_python_numbers_and_lists_become_float32():
    for data in (1.5, 3, [1, 2], [[1.0, 2.0]], True):
        assert mg.Tensor(data).dtype == np.float32, data


@pytest.mark.parametrize(
    "array, expected",
    [(np.zeros(2), np.float64), (np.zeros(2, np.float32), np.float32), (np.arange(3), np.int64),
     (np.float64(2.0), np.float64), (np.zeros(2, np.float16), np.float32), (np.array([True]), np.bool_)],
    ids=["float64", "float32", "int64", "float64_scalar", "float16_to_float32", "bool"],
)
def test_numpy_arrays_keep_their_dtype(array, expected):
    assert mg.Tensor(array).dtype == expected


# Each takes float32 x, y of shape (3, 4). Constants are Python floats or float64 NumPy values.
FLOAT32_OPS = {
    "add_py_float": lambda x, y: x + 0.5,
    "rsub_py_float": lambda x, y: 1.5 - x,
    "rdiv_py_int": lambda x, y: 1 / (x * x + 1.0),
    "mul_np_float64_scalar": lambda x, y: x * np.float64(2.0),
    "rmul_np_float64_scalar": lambda x, y: np.float64(2.0) * x,
    "rmul_np_sqrt_constant": lambda x, y: np.sqrt(2 / np.pi) * x,
    "add_np_float64_array": lambda x, y: x + np.ones(4),
    "radd_np_float64_array": lambda x, y: np.ones(4) + x,
    "rdiv_np_float64_array": lambda x, y: np.full(4, 3.0) / (x * x + 1.0),
    "matmul_np_float64": lambda x, y: x @ np.ones((4, 2)),
    "rmatmul_np_float64": lambda x, y: np.ones((2, 3)) @ x,
    "pow_2.5": lambda x, y: (x * x + 1.0) ** 2.5,
    "pow_np_float64_exponent": lambda x, y: (x * x + 1.0) ** np.float64(1.5),
    "rpow_py_float": lambda x, y: 2.0**x,
    "pow_tensor": lambda x, y: (x * x + 1.0) ** y,
    "unary_chain": lambda x, y: (x.exp() + x.tanh() + x.sigmoid() + x.relu() + x.abs() - x).log().sqrt(),
    "binary": lambda x, y: (x - y) * (x + y) / (y * y + 1.0),
    "matmul": lambda x, y: x @ y.T,
    "reductions": lambda x, y: x.sum() + x.mean() + x.max() + x.max(dim=1)[0].sum() + x.mean(dim=(0, 1)),
    "movement": lambda x, y: mg.cat([x.T.reshape(3, 4), x[[0, 0], :], x.unsqueeze(0).expand(2, 3, 4)[1]]),
    "stack_split": lambda x, y: mg.stack(x.split(2, dim=1) + y.chunk(2, dim=1)),
    "to_float32": lambda x, y: x.to(np.float32) * 2.0,
    "float64_round_trip": lambda x, y: (x.to(np.float64) * 2.0).to(np.float32),
}


class GradDtypeSpy(Function):
    """Identity that records the dtype of the gradient reaching it (before any leaf cast)."""

    seen: list = []

    @staticmethod
    def forward(ctx, a):
        return a

    @staticmethod
    def backward(ctx, grad):
        GradDtypeSpy.seen.append(grad.dtype)
        return grad


@pytest.mark.parametrize("name", FLOAT32_OPS)
def test_float32_stays_float32_in_outputs_and_grads(name):
    x, y = leaf(3, 4, dtype=np.float32), leaf(3, 4, dtype=np.float32)
    GradDtypeSpy.seen = []
    out = FLOAT32_OPS[name](GradDtypeSpy.apply(x), GradDtypeSpy.apply(y))
    assert out.dtype == np.float32, f"{name}: output is {out.dtype}"
    (out * mg.randn(*out.shape)).sum().backward()
    assert GradDtypeSpy.seen and all(d == np.float32 for d in GradDtypeSpy.seen), GradDtypeSpy.seen
    for t in (x, y):
        assert t.grad is None or t.grad.dtype == np.float32, f"{name}: gradient is {t.grad.dtype}"


INT_WITH_FLOAT = {
    "int_plus_py_float": lambda i: i + 0.5,
    "py_float_times_int": lambda i: 0.5 * i,
    "int_times_float32": lambda i: i * mg.ones(3),
    "float32_minus_int": lambda i: mg.ones(3) - i,
    "int_div_py_int": lambda i: i / 2,
}


@pytest.mark.parametrize("name", INT_WITH_FLOAT)
def test_integer_tensor_mixed_with_float32_gives_float32(name):
    """As in PyTorch: int64 with a Python float or a float32 tensor is float32, not NumPy's float64."""
    out = INT_WITH_FLOAT[name](mg.Tensor(np.array([1, 2, 3])))
    assert out.dtype == np.float32, f"got {out.dtype}"


# -- the guarantee: every input that requires grad gets its gradient, or the op refuses -----------------


def _exercise_namespace(op: str) -> dict:
    """What an exercise's test file imports (np, torch, F, the op's class, its setup), as one namespace."""
    import minigrad
    from pathlib import Path
    from minigrad.exercises import render
    from minigrad.exercises.cases import CASES
    from minigrad.exercises.catalog import find_functions

    spec = CASES[op]
    module = ".".join(find_functions(Path(minigrad.__file__).parent)[op].with_suffix("").parts)
    code = spec.setup + "".join(f"{i} {o} {t}" for i, o, t in spec.cases.values())
    namespace: dict = {}
    exec(render._imports(op, module, code, spec.finite_differences) + "\n" + spec.setup, namespace)
    return namespace


def _exercise_ops() -> list[str]:
    from minigrad.exercises.cases import CASES

    return sorted(CASES)


@pytest.mark.parametrize("op", _exercise_ops())
def test_every_reference_op_gives_each_input_that_requires_grad_a_gradient(op):
    """Every case of every exercise, all float inputs requiring grad, in reference mode: each gets .grad."""
    from minigrad.exercises.cases import CASES
    from minigrad.testing import random_inputs

    namespace = _exercise_namespace(op)
    for name, (inputs, ours, _) in CASES[op].cases.items():
        arrays = random_inputs(eval(inputs, namespace), np.float64, low=CASES[op].low)
        leaves = [mg.Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        with mg.reference():
            mg.manual_seed(0)
            out = eval(ours, namespace)(*leaves)
            out = out[0] if isinstance(out, tuple) else out
            if out.requires_grad:
                out.backward(np.ones(out.shape, dtype=out.dtype))
        missing = [i for i, t in enumerate(leaves) if t.requires_grad and t.grad is None]
        assert out.requires_grad and not missing, f"{op} case {name}: inputs {missing} got no gradient"


def test_cross_entropy_refuses_a_weight_it_cannot_differentiate():
    """The class weights are not differentiated (as PyTorch's nll_loss): refused at forward time, named."""
    w = mg.ones(3, dtype=np.float64, requires_grad=True)
    with pytest.raises(ValueError, match="cross_entropy: weight requires grad"):
        mg.nn.functional.cross_entropy(mg.Tensor(np.zeros((2, 3)), requires_grad=True), np.array([0, 1]), weight=w)
