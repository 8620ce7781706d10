"""The Tensor object itself: construction, properties, repr, detach, comparisons, creation helpers."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import DTYPES, check_op


@pytest.fixture(autouse=True)
def seeded():
    mg.manual_seed(0)  # mg.randn draws from minigrad's generator: same values every run


# -- construction -------------------------------------------------------------------------------
def test_constructor_from_list_scalar_array_and_tensor():
    assert mg.Tensor([[1, 2, 3], [4, 5, 6]]).shape == (2, 3)
    assert mg.Tensor(2.5).shape == () and mg.Tensor(2.5).item() == 2.5
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(mg.Tensor(a).numpy(), a)
    np.testing.assert_array_equal(mg.Tensor(mg.Tensor(a)).numpy(), a)


def test_constructor_dtype_argument():
    assert mg.Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert mg.Tensor(np.zeros(2), dtype=np.float32).dtype == np.float32
    assert mg.tensor([1.0], dtype=mg.float64).dtype == np.float64


@pytest.mark.parametrize("data", ["abc", [[1, 2], [3]], np.array([1 + 2j])], ids=["str", "ragged", "complex"])
def test_constructor_rejects_non_numeric_data(data):
    with pytest.raises(TypeError, match="Tensor: "):
        mg.Tensor(data)


# -- properties -----------------------------------------------------------------------------------
def test_properties():
    x = mg.Tensor(np.zeros((2, 3, 4), dtype=np.float32), requires_grad=True)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3
    assert x.dtype == np.float32 and x.size() == (2, 3, 4) and x.numel() == 24 and len(x) == 2
    assert x.is_leaf and not (x * 2.0).is_leaf
    assert isinstance(x.numpy(), np.ndarray) and x.tolist()[1][2] == [0.0] * 4


def test_item():
    assert mg.Tensor([[3.5]]).item() == 3.5 and isinstance(mg.Tensor([[3.5]]).item(), float)
    with pytest.raises(ValueError, match=r"item: only one-element tensors .* got shape \(2,\)"):
        mg.Tensor([1.0, 2.0]).item()


def test_T_reverses_dims():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(mg.Tensor(a).T.numpy(), a.T)
    assert mg.zeros(2, 3, 4).T.shape == (4, 3, 2)


def test_repr():
    assert repr(mg.Tensor([1.0, 2.0])) == "tensor([1., 2.], dtype=float32)"
    r = repr(mg.Tensor(np.array([0.5]), requires_grad=True))
    assert r.startswith("tensor([0.5]") and "dtype=float64" in r and r.endswith("requires_grad=True)")


def test_requires_grad_and_retain_grad_flags():
    x = mg.zeros(2)
    assert x.requires_grad_() is x and x.requires_grad
    assert not x.requires_grad_(False).requires_grad


def test_zero_():
    x = mg.ones(2, 3)
    assert x.zero_() is x and not x.numpy().any()


def test_zero_refuses_a_leaf_that_requires_grad_and_records_on_others():
    """As PyTorch: a leaf that requires grad only under no_grad; a tensor in the graph gets a ZeroBackward0 node."""
    x = mg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"zero_: a leaf Variable that requires grad is being used in an in-place"):
        x.zero_()
    y = x * 2.0
    assert y.zero_() is y and y.grad_fn.name() == "FillBackward0" and not y.numpy().any()
    (y + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))  # only through + x: the zeroed y is a constant
    with mg.no_grad():
        assert not x.zero_().numpy().any()


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_of_two_tensors_are_elementwise_as_pytorchs(op):
    a, b = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, 3.0])
    x, y = mg.Tensor(a, requires_grad=True), mg.Tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, t_out = getattr(x, op)(y), getattr(tx, op)(ty)
    np.testing.assert_array_equal(out.numpy(), t_out.detach().numpy())
    out.backward(mg.Tensor(np.array([1.0, 2.0, 4.0]))), t_out.backward(torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())  # a tie: half to each, as PyTorch
    np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())


# -- detach -------------------------------------------------------------------------------------
def test_detach_shares_data_and_leaves_the_graph():
    x = mg.randn(3, requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(x.detach().numpy(), x.numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_detach_cuts_the_gradient(dtype):
    """d/dx [detach(x) * x] = detach(x): one contribution, not two."""
    check_op(lambda x: x.detach() * x, lambda x: x.detach() * x, [(3, 4)], dtype)


# -- comparisons --------------------------------------------------------------------------------
COMPARISONS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


@pytest.mark.parametrize("other", ["tensor", "number", "array"])
@pytest.mark.parametrize("op", COMPARISONS)
def test_comparisons_return_bool_tensors(op, other):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype=np.float32)
    b = {"tensor": np.full(3, 2.0, dtype=np.float32), "number": 2.0, "array": np.full(3, 2.0)}[other]
    out = COMPARISONS[op](mg.Tensor(a, requires_grad=True), mg.Tensor(b) if other == "tensor" else b)
    expected = COMPARISONS[op](torch.tensor(a), torch.tensor(b) if other != "number" else b)
    assert isinstance(out, mg.Tensor) and out.dtype == np.bool_ and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


@pytest.mark.parametrize("op", COMPARISONS)
def test_integer_tensor_compared_with_a_float(op):
    """labels >= 1.5 must compare with 1.5, not with 1.5 truncated to the integer 1."""
    labels = np.array([0, 1, 2, 3])
    out = COMPARISONS[op](mg.Tensor(labels), 1.5)
    np.testing.assert_array_equal(out.numpy(), COMPARISONS[op](torch.tensor(labels), 1.5).numpy())


def test_tensors_hash_by_identity():
    a, b = mg.zeros(2), mg.zeros(2)
    assert len({a, b}) == 2 and {a: 1}[a] == 1


# -- creation helpers and the seed ----------------------------------------------------------------
@pytest.mark.parametrize("make", [mg.zeros, mg.ones, mg.randn, mg.rand], ids=lambda f: f.__name__)
def test_creation_helpers_shape_and_dtype(make):
    for t in (make(2, 3), make((2, 3))):
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
    assert make(4, dtype=np.float64).dtype == np.float64
    assert make(4, requires_grad=True).requires_grad


def test_creation_helpers_values():
    assert not mg.zeros(2, 3).numpy().any() and (mg.ones(2, 3).numpy() == 1).all()
    r = mg.rand(1000).numpy()
    assert r.min() >= 0.0 and r.max() < 1.0
    x = mg.ones(2, dtype=np.float64)
    assert mg.zeros_like(x).dtype == np.float64 and (mg.ones_like(x).numpy() == 1).all()
    np.testing.assert_array_equal(mg.arange(4).numpy(), np.arange(4))
    assert mg.tensor([1, 2]).dtype == np.int64 and mg.tensor([1.0], requires_grad=True).requires_grad


@pytest.mark.parametrize("make", [mg.randn, mg.rand], ids=lambda f: f.__name__)
def test_manual_seed_makes_draws_reproducible(make):
    mg.manual_seed(123)
    a, b = make(3, 4).numpy(), make(3, 4).numpy()
    mg.manual_seed(123)
    np.testing.assert_array_equal(make(3, 4).numpy(), a)  # same seed, same first draw
    np.testing.assert_array_equal(make(3, 4).numpy(), b)  # and the same second draw
    assert not np.array_equal(a, b)
    mg.manual_seed(124)
    assert not np.array_equal(make(3, 4).numpy(), a)


def test_randn_looks_standard_normal():
    mg.manual_seed(0)
    x = mg.randn(20_000, dtype=np.float64).numpy()
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1.0) < 0.05


# -- dtype inference of minigrad.tensor, as torch.tensor ---------------------------------------------
INFERRED = {
    "ints": [0, 1, 2],
    "int_scalar": 3,
    "bools": [True, False],
    "floats": [0.5, 1.0],
    "ints_and_a_float": [[1, 2], [3, 4.5]],
    "bools_and_ints": [True, 2],
    "nested_ints": [[1, 2], [3, 4]],
    "float_scalar": 2.5,
    "float64_array": np.array([1.0, 2.0]),
    "int32_array": np.array([1, 2], dtype=np.int32),
}


@pytest.mark.parametrize("name", INFERRED)
def test_tensor_infers_dtype_as_torch(name):
    data = INFERRED[name]
    ours, theirs = mg.tensor(data), torch.tensor(data)
    assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch.")), f"{ours.dtype} vs {theirs.dtype}"
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_tensor_copies_and_constructor_stays_float32():
    a = np.zeros(3)
    t = mg.tensor(a)
    t.numpy()[0] = 1.0
    assert a[0] == 0.0, "minigrad.tensor copies its data, as torch.tensor"
    assert mg.Tensor([1, 2]).dtype == np.float32  # torch.Tensor([1, 2]) is float32 too
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == np.float64
    with pytest.raises(TypeError, match="tensor: cannot make a numeric tensor"):
        mg.tensor([1 + 2j])


@pytest.mark.parametrize("args", [(5,), (1, 7), (0, 1, 0.25), (2.0, 5.0), (0, 10, 3)], ids=str)
def test_arange_dtype_and_values(args):
    ours, theirs = mg.arange(*args), torch.arange(*args)
    assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_creation_functions_like_torch():
    assert mg.full((2, 3), 7).dtype == np.int64 and mg.full((2,), 0.5).dtype == np.float32
    assert mg.eye(3).numpy().trace() == 3 and mg.empty(2, 3).shape == (2, 3)
    a = np.arange(3.0)
    assert np.shares_memory(mg.from_numpy(a).numpy(), a) and mg.from_numpy(a).dtype == np.float64
    assert mg.as_tensor(a).dtype == np.float64 and mg.as_tensor([1, 2]).dtype == np.int64
    t = mg.zeros(2)
    assert mg.as_tensor(t) is t and mg.is_tensor(t) and not mg.is_tensor(a)
    r = mg.randint(0, 10, (50,))
    assert r.dtype == np.int64 and r.shape == (50,) and 0 <= r.numpy().min() and r.numpy().max() < 10
    assert mg.zeros_like(r, dtype=np.float32, device="cpu").dtype == np.float32
    assert mg.ones_like(r, device="cpu", memory_format="preserve_format").numpy().sum() == 50


@pytest.mark.parametrize("call", ["randint(10, (5,))", "randint(10, size=(5,))", "randint(2, 10, (5,))",
                                  "randint(2, 10, size=(5,))", "randint(10, (5,), dtype=np.float32)"])
def test_randint_takes_torchs_overloads(call):
    """randint(high, size) or randint(low, high, size), size positional or by keyword, any dtype."""
    r, low = eval("mg." + call), 2 if call.startswith("randint(2") else 0  # noqa: S307
    assert r.shape == (5,) and r.dtype == (np.float32 if "float32" in call else np.int64)
    assert (low <= r.numpy()).all() and (r.numpy() < 10).all() and (r.numpy() == np.round(r.numpy())).all()
    assert mg.randint(10, ()).shape == () and mg.randint(10, (0, 5, 0)).shape == (0, 5, 0)


def test_randint_errors():
    with pytest.raises(ValueError, match=r"randint: low \(10\) must be less than high \(10\)"):
        mg.randint(10, 10, (3,))
    with pytest.raises(TypeError, match=r"randint: expected randint\(high, size\) or randint\(low, high, size\)"):
        mg.randint(10)


# -- size() and shape, as PyTorch ------------------------------------------------------------------------
def test_size_is_the_shape_and_size_dim_a_length():
    x = mg.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) == torch.zeros(2, 3, 4).size()
    assert [x.size(d) for d in (0, 1, 2, -1, -3)] == [2, 3, 4, 4, 2]
    batch_size, _, _ = x.size()  # the tutorial's unpacking
    assert batch_size == 2
    with pytest.raises(IndexError, match=r"size: dim 3 is out of range for a 3-d tensor"):
        x.size(3)
    with pytest.raises(IndexError, match=r"size: dim 0 is out of range: a 0-d tensor has no dims"):
        mg.tensor(1.0).size(0)


# -- devices: the CPU only ----------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cpu", "cpu:0", mg.device("cpu")], ids=str)
def test_to_cpu_is_accepted(device):
    x = mg.randn(2, 3, requires_grad=True)
    assert x.to(device) is x and x.cpu() is x and x.to(device=device) is x
    assert x.device == mg.device("cpu") and str(x.device) == "cpu" and not x.is_cuda


def test_to_with_dtype_device_and_other_tensor():
    x = mg.randn(2, 3, requires_grad=True)
    assert x.to("cpu", mg.float64).dtype == np.float64
    assert x.to(device="cpu", dtype=mg.float64).dtype == np.float64
    assert x.to(mg.zeros(1, dtype=np.float64)).dtype == np.float64
    y = x.to(mg.float32, copy=True)
    assert y is not x and not np.shares_memory(y.numpy(), x.numpy())
    x.to(mg.float64).sum().backward()
    assert x.grad.dtype == np.float32  # the gradient comes back in x's dtype


@pytest.mark.parametrize("call", [lambda x: x.to("cuda"), lambda x: x.to("mps"), lambda x: x.cuda(),
                                  lambda x: x.to(device="cuda:0")], ids=["to_cuda", "to_mps", "cuda", "kw_cuda"])
def test_other_devices_are_refused_with_a_message(call):
    with pytest.raises(RuntimeError, match="minigrad computes on the CPU only"):
        call(mg.zeros(2))


def test_device_availability_answers_no_gpu():
    assert not mg.cuda.is_available() and mg.cuda.device_count() == 0 and not mg.backends.mps.is_available()
    assert repr(mg.device("cpu")) == "device(type='cpu')"
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        mg.device("cuda")


# -- Python conversions ---------------------------------------------------------------------------------
def test_one_element_integer_tensor_is_an_index():
    classes = ("plane", "car", "bird")
    labels = mg.tensor([2, 0])
    assert classes[labels[0]] == "bird" and classes[mg.argmax(mg.tensor([0.1, 0.9]))] == "car"
    assert int(mg.tensor([[3]])) == 3 and float(mg.tensor(2.5)) == 2.5
    with pytest.raises(TypeError, match="only integer tensors of a single element can be converted to an index"):
        classes[mg.tensor(1.0)]
    np.testing.assert_array_equal(np.asarray(mg.tensor([1, 2])), [1, 2])


def test_clone_copies_and_keeps_the_graph(dtype=np.float64):
    check_op(lambda x: x.clone() * x, lambda x: x.clone() * x, [(3, 4)], dtype)
    x = mg.randn(3)
    assert not np.shares_memory(x.clone().numpy(), x.numpy())
