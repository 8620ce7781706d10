"""PyTorch's top-level functions and their Tensor-method spellings, against PyTorch.

Each case is written once for both frameworks: `fw` is `minigrad` or `torch`, so the same line runs
`torch.matmul(a, b)` and `minigrad.matmul(a, b)`. Run alone: `pytest tests/test_functions.py -k softmax`.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import DTYPES, check_op


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


def both(fn):
    """fn(fw, *tensors) -> (minigrad's, PyTorch's) function of the tensors alone."""
    return (lambda *t: fn(mg, *t)), (lambda *t: fn(torch, *t))


# name: (fn(fw, *inputs), input shapes, low: inputs low + |N(0, 1)| when not None)
FUNCTIONS = {
    "matmul_batched": (lambda fw, a, b: fw.matmul(a, b), [(2, 3, 4), (4, 5)], None),
    "matmul_vector": (lambda fw, a, b: fw.matmul(a, b), [(3, 4), (4,)], None),
    "mm": (lambda fw, a, b: fw.mm(a, b), [(3, 4), (4, 5)], None),
    "bmm": (lambda fw, a, b: fw.bmm(a, b), [(2, 3, 4), (2, 4, 5)], None),
    "tanh": (lambda fw, x: fw.tanh(x), [(3, 4)], None),
    "exp": (lambda fw, x: fw.exp(x), [(3, 4)], None),
    "log": (lambda fw, x: fw.log(x), [(3, 4)], 0.5),
    "sqrt": (lambda fw, x: fw.sqrt(x), [(3, 4)], 0.5),
    "sigmoid": (lambda fw, x: fw.sigmoid(x), [(3, 4)], None),
    "relu": (lambda fw, x: fw.relu(x), [(3, 4)], 0.3),
    "abs": (lambda fw, x: fw.abs(x), [(3, 4)], 0.3),
    "neg": (lambda fw, x: fw.neg(x), [(3, 4)], None),
    "pow_scalar": (lambda fw, x: fw.pow(x, 3.0), [(3, 4)], None),  # the tutorial's torch.pow(input, 3.0)
    "pow_number_base": (lambda fw, x: fw.pow(2.0, x), [(3, 4)], None),
    "pow_tensors": (lambda fw, a, b: fw.pow(a, b), [(3, 4), (4,)], 0.5),
    "add_alpha": (lambda fw, a, b: fw.add(a, b, alpha=2.5), [(3, 4), (4,)], None),
    "sub_alpha": (lambda fw, a, b: fw.sub(a, b, alpha=0.5), [(3, 4), (3, 4)], None),
    "mul": (lambda fw, a, b: fw.mul(a, b), [(3, 4), (3, 1)], None),
    "div": (lambda fw, a, b: fw.div(a, b), [(3, 4), (4,)], 0.5),
    "sum_dim": (lambda fw, x: fw.sum(x, 1), [(2, 3, 4)], None),
    "mean_dims_keepdim": (lambda fw, x: fw.mean(x, (0, 2), keepdim=True), [(2, 3, 4)], None),
    "std_dim": (lambda fw, x: fw.std(x, dim=1), [(2, 3, 4)], None),
    "var_correction_0": (lambda fw, x: fw.var(x, dim=-1, correction=0), [(2, 3, 4)], None),
    "max_all": (lambda fw, x: fw.max(x), [(3, 4)], None),
    "max_dim": (lambda fw, x: fw.max(x, 1)[0], [(3, 4)], None),
    "min_dim_keepdim": (lambda fw, x: fw.min(x, 0, keepdim=True).values, [(3, 4)], None),
    "softmax": (lambda fw, x: fw.softmax(x, dim=-1), [(2, 3, 4)], None),
    "softmax_dtype": (lambda fw, x: fw.softmax(x, 1, dtype=fw.float64), [(2, 3, 4)], None),
    "log_softmax": (lambda fw, x: fw.log_softmax(x, 1), [(2, 3, 4)], None),
    "flatten": (lambda fw, x: fw.flatten(x, 1), [(2, 3, 4)], None),
    "reshape": (lambda fw, x: fw.reshape(x, (4, -1)), [(2, 3, 4)], None),
    "transpose": (lambda fw, x: fw.transpose(x, 0, 2), [(2, 3, 4)], None),
    "permute": (lambda fw, x: fw.permute(x, (2, 0, 1)), [(2, 3, 4)], None),
    "unsqueeze_squeeze": (lambda fw, x: fw.squeeze(fw.unsqueeze(x, 1) * 2.0, 1), [(2, 3)], None),
    "chunk": (lambda fw, x: fw.chunk(x, 3, dim=-1)[1], [(2, 6)], None),  # the tutorial's qkv split
    "split": (lambda fw, x: fw.split(x, [1, 3], dim=1)[1], [(2, 4)], None),
    "clone": (lambda fw, x: fw.clone(x) * x, [(3, 4)], None),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_matches_torch(name, dtype):
    fn, shapes, low = FUNCTIONS[name]
    check_op(*both(fn), shapes, dtype, low=low)


METHODS = {
    "pow": (lambda x: x.pow(3.0), [(3, 4)]),
    "matmul": (lambda a, b: a.matmul(b), [(3, 4), (4, 2)]),
    "add_alpha": (lambda a, b: a.add(b, alpha=-2.0), [(3, 4), (4,)]),
    "sub": (lambda a, b: a.sub(b), [(3, 4), (3, 4)]),
    "mul": (lambda a, b: a.mul(b), [(3, 4), (3, 4)]),
    "div": (lambda a, b: a.div(b), [(3, 4), (3, 4)]),
    "neg": (lambda x: x.neg(), [(3, 4)]),
    "softmax": (lambda x: x.softmax(-1), [(2, 5)]),
    "log_softmax": (lambda x: x.log_softmax(0), [(2, 5)]),
    "std": (lambda x: x.std(), [(3, 4)]),
    "std_unbiased_false": (lambda x: x.std(1, False), [(3, 4)]),
    "var_keepdim": (lambda x: x.var(1, keepdim=True), [(3, 4)]),
    "abs_builtin": (lambda x: abs(x), [(3, 4)]),
}


@pytest.mark.parametrize("name", METHODS)
def test_method_matches_torch(name, dtype):
    fn, shapes = METHODS[name]
    check_op(fn, fn, shapes, dtype, low=0.5 if name == "div" else None)


# -- arrays where PyTorch code passes `.data`, and numbers -----------------------------------------------
def test_max_of_outputs_data_as_the_tutorial_writes_it():
    """`_, predicted = torch.max(outputs.data, 1)`: `.data` is a tensor outside the graph, as in PyTorch."""
    logits = np.random.default_rng(0).standard_normal((6, 10)).astype(np.float32)
    values, predicted = mg.max(mg.Tensor(logits).data, 1)
    expected = torch.max(torch.tensor(logits).data, 1)
    assert predicted.dtype == np.int64 and values.dtype == np.float32 and not values.requires_grad
    np.testing.assert_array_equal(predicted.numpy(), expected.indices.numpy())
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    labels = mg.tensor(expected.indices.tolist())
    assert (predicted == labels).sum().item() == 6


@pytest.mark.parametrize("name", ["exp", "tanh", "sum", "argmax", "softmax"])
def test_functions_accept_arrays_and_keep_their_dtype(name):
    a = np.random.default_rng(1).standard_normal((3, 4))
    call = {"softmax": lambda fw, x: fw.softmax(x, 1)}.get(name, lambda fw, x: getattr(fw, name)(x))
    ours, theirs = call(mg, a), call(torch, torch.from_numpy(a))
    assert isinstance(ours, mg.Tensor) and ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_max_and_min_of_two_tensors_are_elementwise():
    a, b = mg.tensor([1.0, -2.0, 3.0]), mg.tensor([0.5, 4.0, 3.0])
    assert mg.max(a, b).tolist() == [1.0, 4.0, 3.0] and mg.min(a, b).tolist() == [0.5, -2.0, 3.0]


@pytest.mark.parametrize("call", [lambda fw, a, b: fw.mm(a, b), lambda fw, a, b: fw.bmm(a, b)], ids=["mm", "bmm"])
def test_mm_and_bmm_name_both_shapes(call):
    with pytest.raises(ValueError, match=r"(mm|bmm): .*got shapes \(2, 3, 4\) and \(4,\)"):
        call(mg, mg.zeros(2, 3, 4), mg.zeros(4))


def test_dtype_names_are_numpy_dtypes():
    assert mg.float32 is np.float32 and mg.long is np.int64 and mg.int64 is np.int64 and mg.double is np.float64
    assert mg.float is np.float32 and mg.int is np.int32 and mg.bool is np.bool_
    assert mg.zeros(2).dtype == mg.float32 and mg.tensor([1]).dtype == mg.long


# -- unbind, out=, accelerator: what the tensor tutorial and the lectures call ----------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind_matches_torch_with_gradients(dim):
    a = np.random.default_rng(2).standard_normal((3, 4))
    x, t = mg.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = mg.unbind(x, dim), torch.unbind(t, dim)
    assert len(ours) == len(theirs)
    for i, (o, th) in enumerate(zip(ours, theirs)):
        np.testing.assert_array_equal(o.numpy(), th.detach().numpy())
        (o * (i + 1)).sum().backward()
        (th * (i + 1)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "matmul"])
def test_out_writes_into_the_given_tensor_as_torch(name):
    a = np.random.default_rng(3).standard_normal((3, 3)).astype(np.float32)
    out, t_out = mg.empty(3, 3), torch.empty(3, 3)
    assert getattr(mg, name)(mg.Tensor(a), mg.Tensor(a.T), out=out) is out
    getattr(torch, name)(torch.tensor(a), torch.tensor(a.T), out=t_out)
    np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match=rf"{name}\(\): functions with out=... arguments don't support automatic "
                                           r"differentiation"):
        getattr(mg, name)(mg.ones(3, 3, requires_grad=True), mg.ones(3, 3), out=mg.empty(3, 3))


def test_the_accelerator_is_never_available_as_on_a_machine_without_one():
    device = mg.accelerator.current_accelerator().type if mg.accelerator.is_available() else "cpu"
    assert device == "cpu" and mg.accelerator.device_count() == 0
    assert mg.ones(2).to(device).device == mg.device("cpu")
