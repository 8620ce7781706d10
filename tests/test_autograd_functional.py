"""minigrad.autograd.functional as torch.autograd.functional: vjp, jvp, vhp, hvp, jacobian, hessian.

Each test is written once as a function of the framework (`fw.t` is `torch` or `minigrad`, `fw.AF` its
autograd.functional), run on both in float64, and compared: the structure of the result (a Tensor or nested
tuples), shapes, dtypes, whether each result requires grad (detached unless create_graph) and the values.
With create_graph=True each result is differentiated again, against a random weight.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import minigrad as mg
import minigrad.autograd.functional
from minigrad.testing import assert_close

torch = pytest.importorskip("torch")

MG = SimpleNamespace(name="minigrad", t=mg, AF=minigrad.autograd.functional)
TORCH = SimpleNamespace(name="torch", t=torch, AF=torch.autograd.functional)
RTOL, ATOL = 1e-10, 1e-12


def values(fw, shapes, seed, requires_grad=False):
    """The same N(0, 1) float64 values on both frameworks: a shape gives a Tensor, a list of shapes a tuple."""
    rng = np.random.default_rng(seed)

    def make(shape):
        return fw.t.tensor(rng.standard_normal(shape), requires_grad=requires_grad)
    return tuple(make(shape) for shape in shapes) if isinstance(shapes, list) else make(shapes)


def shapes_of(result):
    return [tuple(t.shape) for t in result] if isinstance(result, tuple) else tuple(result.shape)


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


def compare(ours, theirs, what="result"):
    """Same nesting, shapes, dtypes, requires_grad and values (None where PyTorch has None)."""
    if theirs is None or isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs), f"{what}: {type(ours).__name__}, PyTorch {type(theirs).__name__}"
        for i, (a, b) in enumerate(zip(ours or (), theirs or ())):
            compare(a, b, f"{what}[{i}]")
        assert len(ours or ()) == len(theirs or ()), f"{what}: {len(ours)} entries, PyTorch {len(theirs)}"
        return
    assert isinstance(ours, mg.Tensor), f"{what}: {type(ours).__name__}, PyTorch a Tensor"
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {ours.shape}, PyTorch {tuple(theirs.shape)}"
    assert str(ours.dtype) == "float64" and theirs.dtype == torch.float64, what
    assert ours.requires_grad == theirs.requires_grad, f"{what}: requires_grad {ours.requires_grad}, PyTorch's not"
    assert_close(ours.detach().numpy(), theirs.detach().numpy(), what, RTOL, ATOL)


def both(run):
    ours, theirs = run(MG), run(TORCH)
    compare(ours, theirs)
    return ours


def raises_both(run, error, pattern):
    for fw in (TORCH, MG):
        with pytest.raises(error, match=pattern):
            run(fw)


# -- the functions, each written once with the framework's ops: case(fw) -> (func, inputs) ----------------------


def poly_tanh(fw, requires_grad=False):
    """f(x, y) = sum x^3 + sum tanh(x) y: a scalar, two inputs, the cross terms of tanh(x) y."""
    return lambda x, y: (x ** 3).sum() + (x.tanh() * y).sum(), values(fw, [(2, 3), (2, 3)], 0, requires_grad)


def one_input(fw, requires_grad=False):
    """f(x) = sum x^3 + sum tanh(x) x: a scalar of one Tensor given alone (results alone, not in a tuple)."""
    return lambda x: (x ** 3).sum() + (x.tanh() * x).sum(), values(fw, (2, 3), 1, requires_grad)


def cross(fw, requires_grad=False):
    """f(x, W) = sum tanh(x W)^2: every entry of x meets every column of W."""
    return lambda x, w: ((x @ w).tanh() ** 2).sum(), values(fw, [(3,), (3, 4)], 2, requires_grad)


def mlp_loss(fw, requires_grad=False):
    """A 2-layer MLP's mean squared error as a function of its parameters (W1, b1, W2, b2)."""
    data, target = values(fw, [(5, 3), (5, 2)], 3)

    def loss(w1, b1, w2, b2):
        hidden = (data @ w1.T + b1).tanh()               # (5, 3) -> (5, 4)
        return ((hidden @ w2.T + b2 - target) ** 2).mean()  # (5, 4) -> (5, 2) -> ()
    return loss, values(fw, [(4, 3), (4,), (2, 4), (2,)], 4, requires_grad)


def exp_reducer(fw, requires_grad=False):
    """f(x) = sum_j exp(x_ij): a vector of a matrix (PyTorch's documentation example)."""
    return lambda x: x.exp().sum(dim=1), values(fw, (4, 3), 5, requires_grad)


def tuple_out(fw, requires_grad=False):
    """f(x, y) = (x tanh(y), y_0 sum_i x_i^2): two outputs of two shapes."""
    return lambda x, y: (x * y.tanh(), (x ** 2).sum(dim=0) * y[0]), values(fw, [(2, 3), (2, 3)], 6, requires_grad)


SCALAR = {f.__name__: f for f in (poly_tanh, one_input, cross, mlp_loss)}
ANY = {**SCALAR, exp_reducer.__name__: exp_reducer, tuple_out.__name__: tuple_out}


def weighted_sum(fw, result, seed):
    """<result, w> for a random w (not ones, which would hide a transpose): a scalar to differentiate again."""
    tensors = _flat(result)
    weights = values(fw, [tuple(t.shape) for t in tensors], seed)
    return sum((t * w).sum() for t, w in zip(tensors, weights))


def _flat(x):
    return [t for item in x for t in _flat(item)] if isinstance(x, tuple) else [x]


def product(fw, name, case, create_graph):
    """(func(x), v^T J or J v or v^T H or H v) with a random v, and with create_graph the gradient of
    <result, w> with respect to the inputs and v (v requires grad then too)."""
    func, inputs = ANY[case](fw, requires_grad=create_graph)
    with fw.t.no_grad():
        like = func(*_tuple(inputs)) if name == "vjp" else inputs
    v = values(fw, shapes_of(like), seed=7, requires_grad=create_graph)
    output, result = getattr(fw.AF, name)(func, inputs, v, create_graph=create_graph)
    if not create_graph:
        return output, result
    leaves = tuple(_flat(inputs) + _flat(v))
    return output, result, fw.t.autograd.grad(weighted_sum(fw, result, seed=8), leaves, allow_unused=True)


# -- vjp, jvp, vhp, hvp ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("case", ANY)
@pytest.mark.parametrize("name", ["vjp", "jvp"])
def test_vjp_jvp(name, case, create_graph):
    both(lambda fw: product(fw, name, case, create_graph))


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("case", SCALAR)
@pytest.mark.parametrize("name", ["vhp", "hvp"])
def test_vhp_hvp(name, case, create_graph):
    both(lambda fw: product(fw, name, case, create_graph))


def test_hvp_equals_vhp_for_a_symmetric_hessian():
    """H v = (v^T H)^T: two ways of computing it, one product."""
    func, inputs = mlp_loss(MG)
    v = values(MG, shapes_of(inputs), seed=9)
    for a, b in zip(MG.AF.hvp(func, inputs, v)[1], MG.AF.vhp(func, inputs, v)[1]):
        assert_close(a.numpy(), b.numpy(), "hvp vs vhp", RTOL, ATOL)


@pytest.mark.parametrize("name", ["vjp", "jvp", "vhp", "hvp"])
def test_v_may_be_omitted_for_one_element(name):
    """v defaults to 1 when it has one element: the output's (vjp) or the input's (the others)."""
    both(lambda fw: getattr(fw.AF, name)(lambda x: (x ** 3 * x.tanh()).sum(), values(fw, (1,), 10)))
    raises_both(lambda fw: getattr(fw.AF, name)(*exp_reducer(fw)), RuntimeError, "The vector v can only be None if")


def test_vjp_and_jvp_are_the_two_products_with_the_jacobian():
    """v^T J and J u against the explicit Jacobian, for a function of two outputs and two inputs."""
    func, inputs = tuple_out(MG)
    blocks = MG.AF.jacobian(func, inputs)
    u = values(MG, shapes_of(inputs), 11)
    _, ju = MG.AF.jvp(func, inputs, u)
    for i in range(2):
        expected = sum(np.tensordot(blocks[i][j].numpy(), u[j].numpy(), axes=u[j].ndim) for j in range(2))
        assert_close(ju[i].numpy(), expected, f"jvp output {i}", RTOL, ATOL)


# -- jacobian, hessian ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("vectorize", [False, True], ids=["loop", "vectorize"])
@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("case", ANY)
def test_jacobian(case, create_graph, vectorize):
    def run(fw):
        func, inputs = ANY[case](fw, requires_grad=create_graph)
        blocks = fw.AF.jacobian(func, inputs, create_graph=create_graph, vectorize=vectorize)
        if not create_graph:
            return blocks
        return blocks, fw.t.autograd.grad(weighted_sum(fw, blocks, seed=12), _tuple(inputs), allow_unused=True)
    both(run)


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("case", SCALAR)
def test_hessian(case, create_graph):
    def run(fw):
        func, inputs = SCALAR[case](fw, requires_grad=create_graph)
        blocks = fw.AF.hessian(func, inputs, create_graph=create_graph)
        if not create_graph:
            return blocks
        return blocks, fw.t.autograd.grad(weighted_sum(fw, blocks, seed=13), _tuple(inputs), allow_unused=True)
    both(run)


def test_hessian_of_an_mlp_loss_block_by_block():
    """H[p][q] = d^2 loss / dp dq for the parameters p, q of a 2-layer MLP, each of shape p.shape + q.shape."""
    names = ["W1", "b1", "W2", "b2"]
    ours, theirs = MG.AF.hessian(*mlp_loss(MG)), TORCH.AF.hessian(*mlp_loss(TORCH))
    for p, row in enumerate(names):
        for q, column in enumerate(names):
            compare(ours[p][q], theirs[p][q], f"H[{row}][{column}]")
    sizes = [int(np.prod(x.shape)) for x in mlp_loss(MG)[1]]
    matrix = np.block([[ours[p][q].numpy().reshape(sizes[p], sizes[q]) for q in range(4)] for p in range(4)])
    assert_close(matrix, matrix.T, "the Hessian's symmetry", RTOL, ATOL)  # (26, 26)


def test_hessian_under_no_grad_and_with_inputs_that_do_not_require_grad():
    def run(fw):
        func, inputs = poly_tanh(fw)
        with fw.t.no_grad():
            return fw.AF.hessian(func, inputs), fw.AF.vhp(func, inputs, inputs)[1]
    both(run)


def test_create_graph_with_inputs_that_do_not_require_grad():
    """The results then have a graph to copies of the inputs: they require grad, as PyTorch's do."""
    both(lambda fw: fw.AF.vjp(*poly_tanh(fw), create_graph=True))


@pytest.mark.parametrize("name", ["vjp", "jvp", "vhp", "hvp", "jacobian", "hessian"])
@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
def test_inputs_and_their_grad_are_left_alone(name, create_graph):
    def run(fw):
        func, inputs = poly_tanh(fw, requires_grad=True)
        before = [x.detach().numpy().copy() for x in inputs]
        v = {"vjp": (values(fw, (), 14),), "jacobian": (), "hessian": ()}.get(name, (inputs,))
        getattr(fw.AF, name)(func, inputs, *v, create_graph=create_graph)
        for x, b in zip(inputs, before):
            assert x.grad is None and np.array_equal(x.detach().numpy(), b), f"{fw.name}: {name} changed an input"
    run(MG)
    run(TORCH)


# -- strict=True, bad arguments, refusals ---------------------------------------------------------------------


def unused_y(x, y):
    return (x ** 2).sum()


def linear(x):
    return (2 * x).sum()


STRICT = {  # case: (op, function, input shapes, keyword arguments, PyTorch's error)
    "vjp_unused_input": ("vjp", unused_y, [(3,), (2,)], {}, "independent of input 1"),
    "vjp_constant_output": ("vjp", lambda x: x.detach().sum(), (3,), {}, "Output 0 .* does not require gradients"),
    "vjp_linear_create_graph": ("vjp", linear, (3,), {"create_graph": True},
                                "jacobian .* independent of input 0. .* when create_graph=True"),
    "jvp_unused_input": ("jvp", lambda x, y: 2 * x, [(3,), (2,)], {}, "independent of input 1"),
    "vhp_linear": ("vhp", linear, (3,), {}, "the jacobian .* with respect to input 0 is independent of the input"),
    "vhp_quadratic_create_graph": ("vhp", lambda x: (x * x).sum(), (3,), {"create_graph": True},
                                   "hessian .* independent of input 0. .* when create_graph=True"),
    "hvp_linear": ("hvp", linear, (3,), {}, "the jacobian .* with respect to input 0 is independent of the input"),
    "jacobian_unused_input": ("jacobian", lambda x, y: 2 * x, [(3,), (2,)], {}, "Output 0 .* independent of input 1"),
    "jacobian_linear_create_graph": ("jacobian", lambda x: 2 * x, (3,), {"create_graph": True},
                                     "jacobian .* independent of input 0. .* when create_graph=True"),
    "jacobian_vectorize": ("jacobian", lambda x: 2 * x, (3,), {"vectorize": True}, "not supported together"),
    "hessian_linear_in_y": ("hessian", lambda x, y: (x ** 3).sum() + y.sum(), [(3,), (2,)], {},
                            "the jacobian .* with respect to input 1 is independent of the input"),
    "hessian_unused_input": ("hessian", unused_y, [(3,), (2,)], {}, "with respect to input 1 is independent"),
}


def call(fw, name, func, shapes, kwargs, strict):
    inputs = values(fw, shapes, 20)
    with_v = {"v": inputs} if name in ("jvp", "vhp", "hvp") else {"v": values(fw, (), 21)} if name == "vjp" else {}
    return getattr(fw.AF, name)(func, inputs, strict=strict, **with_v, **kwargs)


@pytest.mark.parametrize("case", STRICT)
def test_strict_raises_where_pytorch_does_and_zeros_otherwise(case):
    name, func, shapes, kwargs, pattern = STRICT[case]
    raises_both(lambda fw: call(fw, name, func, shapes, kwargs, strict=True), RuntimeError, pattern)
    both(lambda fw: call(fw, name, func, shapes, kwargs, strict=False))


BAD = {  # case: (call, error, PyTorch's message)
    "inputs_a_list": (lambda fw: fw.AF.vjp(linear, [values(fw, (3,), 0)]), TypeError,
                      "inputs given to vjp must be either a Tensor or a tuple of Tensors but the given inputs"),
    "inputs_a_number": (lambda fw: fw.AF.hessian(unused_y, (values(fw, (3,), 0), 2.0)), TypeError,
                        "inputs given to hessian .* the value at index 1 has type"),
    "output_a_number": (lambda fw: fw.AF.jacobian(lambda x: 1.0, values(fw, (3,), 0)), TypeError,
                        "outputs of the user-provided function given to jacobian must be"),
    "v_shape": (lambda fw: fw.AF.vjp(*exp_reducer(fw), values(fw, (3,), 0)), RuntimeError,
                "^v has invalid size: should be"),
    "v_entry_shape": (lambda fw: fw.AF.jvp(*poly_tanh(fw), values(fw, [(2, 3), (3, 2)], 0)), RuntimeError,
                      "Entry 1 in v has invalid size"),
    "v_tuple_length": (lambda fw: fw.AF.vhp(*poly_tanh(fw), (values(fw, (2, 3), 0),)), RuntimeError,
                       "v is a tuple of invalid length: should be 2 but got 1"),
    "v_two_for_one": (lambda fw: fw.AF.hvp(*one_input(fw), values(fw, [(2, 3), (2, 3)], 0)), RuntimeError,
                      "The given v should contain a single Tensor"),
    "hessian_of_a_vector": (lambda fw: fw.AF.hessian(*exp_reducer(fw)), RuntimeError,
                            "function given to hessian should contain a single element"),
    "hessian_of_a_tuple": (lambda fw: fw.AF.hessian(*tuple_out(fw)), RuntimeError,
                           "function given to hessian should return a single Tensor"),
    "vhp_of_a_tuple": (lambda fw: fw.AF.vhp(*tuple_out(fw), values(fw, [(2, 3), (2, 3)], 0)), RuntimeError,
                       "function given to vhp should return a single Tensor"),
    "jacobian_forward_mode": (lambda fw: fw.AF.jacobian(*exp_reducer(fw), strategy="forward-mode"),
                              NotImplementedError, "forward"),
    "hessian_forward_mode": (lambda fw: fw.AF.hessian(*one_input(fw), outer_jacobian_strategy="forward-mode"),
                             NotImplementedError, "forward"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_arguments_raise_as_pytorch(case):
    run, error, pattern = BAD[case]
    raises_both(run, error, pattern)


def test_refusals_name_the_function_and_the_argument():
    func, x = exp_reducer(MG)
    with pytest.raises(NotImplementedError, match='jacobian: strategy="forward-mode" .* no forward-mode AD'):
        MG.AF.jacobian(func, x, strategy="forward-mode", vectorize=True)
    with pytest.raises(NotImplementedError, match='hessian: outer_jacobian_strategy="forward-mode"'):
        MG.AF.hessian(*one_input(MG), outer_jacobian_strategy="forward-mode", vectorize=True)
    with pytest.raises(ValueError, match="jacobian: strategy must be"):
        MG.AF.jacobian(func, x, strategy="sideways")
