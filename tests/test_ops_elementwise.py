"""Elementwise ops against PyTorch: unary math, + - * / ** with broadcasting, reflected forms.

Each case is one line: a function written once (the same code runs on a minigrad and a torch
tensor where the APIs agree), the input shapes, and how to keep inputs away from kinks/poles.
Run one concept alone, e.g. `pytest tests/test_ops_elementwise.py -k sqrt`.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import DTYPES, check_op, random_inputs


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


def sid(shape: tuple) -> str:
    """(2, 3, 4) -> '2x3x4', () -> 'scalar': readable test ids."""
    return "x".join(map(str, shape)) or "scalar"


def nonzero_inputs(shapes, dtype, seed=0):
    """Random signs, |x| >= 0.3: away from the kink of relu/abs at 0."""
    arrays = random_inputs(shapes, dtype, seed, low=0.3)
    signs = np.random.default_rng(seed + 100)
    return [(a * np.where(signs.random(a.shape) < 0.5, -1, 1)).astype(dtype) for a in arrays]


# -- unary ------------------------------------------------------------------------------------
# name: (function, inputs) with inputs None = standard normal, "positive" = 0.5 + |N(0,1)|,
# "nonzero" = |x| >= 0.3 with random signs.
UNARY = {
    "neg": (lambda x: -x, None),
    "exp": (lambda x: x.exp(), None),
    "log": (lambda x: x.log(), "positive"),
    "tanh": (lambda x: x.tanh(), None),
    "sqrt": (lambda x: x.sqrt(), "positive"),
    "relu": (lambda x: x.relu(), "nonzero"),
    "sigmoid": (lambda x: x.sigmoid(), None),
    "abs": (lambda x: x.abs(), "nonzero"),
}
UNARY_SHAPES = [(), (5,), (2, 3, 4)]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=sid)
@pytest.mark.parametrize("name", UNARY)
def test_unary(name, shape, dtype):
    fn, kind = UNARY[name]
    if kind == "nonzero":
        check_op(fn, fn, dtype=dtype, inputs=nonzero_inputs([shape], dtype))
    else:
        check_op(fn, fn, [shape], dtype, low=0.5 if kind == "positive" else None)


def test_sigmoid_saturates_without_overflow(dtype):
    x = np.array([-60.0, -20.0, 0.0, 20.0, 60.0], dtype=dtype)
    fn = lambda t: t.sigmoid()  # noqa: E731
    with np.errstate(over="raise"):  # exp(60) must not be formed in float32
        check_op(fn, fn, dtype=dtype, inputs=[x])


# -- binary, with broadcasting ----------------------------------------------------------------
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}
BROADCAST_SHAPES = [
    [(2, 3), (2, 3)],  # same shape
    [(), (4, 5)],  # 0-d tensor with a matrix
    [(4, 5), (1,)],  # a one-element vector
    [(4, 5), (5,)],  # a row vector, as a bias
    [(3, 1, 5), (4, 5)],  # both sides grow
    [(4, 1), (1, 5)],  # an outer product shape
]


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=lambda s: f"{sid(s[0])}_{sid(s[1])}")
@pytest.mark.parametrize("name", BINARY)
def test_binary(name, shapes, dtype):
    fn = BINARY[name]
    check_op(fn, fn, shapes, dtype, low=0.5 if name == "div" else None)  # div: b away from 0


@pytest.mark.parametrize("name", BINARY)
def test_binary_same_tensor_twice(name, dtype):
    fn = lambda x: BINARY[name](x, x)  # noqa: E731  (both gradients land on one input)
    check_op(fn, fn, [(3, 4)], dtype, low=0.5)


# -- Python scalars and NumPy arrays on either side ---------------------------------------------
C = (np.arange(15).reshape(3, 5) - 7.5) / 4.0  # a float64 NumPy constant, no zeros


def tc(x):
    """The NumPy constant as PyTorch sees it: cast to x's dtype, as minigrad must do itself."""
    return torch.as_tensor(C, dtype=x.dtype)


# name: (minigrad function, torch function or None if the same code works, positive inputs)
SCALAR_AND_ARRAY = {
    "x_plus_2": (lambda x: x + 2.0, None, False),
    "2_plus_x": (lambda x: 2.0 + x, None, False),
    "x_minus_2": (lambda x: x - 2.0, None, False),
    "2_minus_x": (lambda x: 2.0 - x, None, False),
    "3_times_x": (lambda x: 3 * x, None, False),
    "x_times_3": (lambda x: x * 3.0, None, False),
    "x_div_4": (lambda x: x / 4.0, None, False),
    "1_div_x": (lambda x: 1 / x, None, True),
    "2_pow_x": (lambda x: 2**x, None, False),
    "np_plus_x": (lambda x: C + x, lambda x: tc(x) + x, False),
    "x_minus_np": (lambda x: x - C, lambda x: x - tc(x), False),
    "np_minus_x": (lambda x: C - x, lambda x: tc(x) - x, False),
    "np_times_x": (lambda x: C * x, lambda x: tc(x) * x, False),
    "x_times_np": (lambda x: x * C, lambda x: x * tc(x), False),
    "x_div_np": (lambda x: x / C, lambda x: x / tc(x), False),
    "np_div_x": (lambda x: C / x, lambda x: tc(x) / x, True),
    "np_row_times_x": (lambda x: C[0] * x, lambda x: tc(x)[0] * x, False),  # (5,) broadcast on (3, 5)
}


@pytest.mark.parametrize("name", SCALAR_AND_ARRAY)
def test_scalar_and_array_operands(name, dtype):
    ours, theirs, positive = SCALAR_AND_ARRAY[name]
    check_op(ours, theirs or ours, [(3, 5)], dtype, low=0.5 if positive else None)


# -- powers -------------------------------------------------------------------------------------
# x ** c for constant c (PowScalar): inputs positive where x^(c-1) has a pole or x^c is complex.
POWERS = {"pow_2": (2, False), "pow_3": (3, False), "pow_1": (1, False), "pow_0": (0, False),
          "pow_0.5": (0.5, True), "pow_neg1": (-1, True), "pow_2.5": (2.5, True), "pow_neg1.5": (-1.5, True)}


@pytest.mark.parametrize("name", POWERS)
def test_pow_scalar_exponent(name, dtype):
    c, positive = POWERS[name]
    fn = lambda x: x**c  # noqa: E731
    check_op(fn, fn, [(2, 3, 4)], dtype, low=0.5 if positive else None)


@pytest.mark.parametrize(
    "shapes", [[(3, 4), (3, 4)], [(3, 1), (4,)], [(), (3, 4)]], ids=lambda s: f"{sid(s[0])}_{sid(s[1])}"
)
def test_pow_tensor_exponent(shapes, dtype):
    fn = lambda a, b: a**b  # noqa: E731  (d/da = b a^(b-1), d/db = a^b log a: a must be > 0)
    check_op(fn, fn, shapes, dtype, low=0.5)


def test_pow_of_zero_has_zero_exponent_gradient(dtype):
    """d(a^b)/db = a^b log a, taken as 0 at a = 0 (b >= 0) as PyTorch does, not 0 * (-inf)."""
    a, b = np.array([0.0, 1.5, 2.0], dtype=dtype), np.array([2.0, 0.5, 0.0], dtype=dtype)
    check_op(lambda x, e: x**e, lambda x, e: x**e, dtype=dtype, inputs=[a, b])


@pytest.mark.parametrize("exponent", ["scalar", "tensor"])
def test_pow_zero_exponent_at_zero_has_zero_grad(exponent, dtype):
    """x**0 is the constant 1, so its gradient is 0 everywhere, also at x = 0 (PyTorch: 0)."""
    x = np.array([0.0, 1.0, -2.0], dtype=dtype)
    if exponent == "scalar":
        fn = lambda t: t**0  # noqa: E731
        check_op(fn, fn, dtype=dtype, inputs=[x])
    else:
        fn = lambda t, e: t**e  # noqa: E731
        check_op(fn, fn, dtype=dtype, inputs=[x, np.zeros(3, dtype=dtype)], grad_inputs=[True, False])


# name -> (minigrad's and torch's power of an integer or bool tensor x)
INTEGER_POWERS = {
    "sqrt": lambda x: x**0.5,  # int ** float scalar: float32, as int * 0.5
    "float_2": lambda x: x**2.0,
    "numpy_float": lambda x: x ** np.float64(1.5),
    "int_2": lambda x: x**2,  # int ** int scalar: stays int (bool: int64, not NumPy's int8)
    "int_0": lambda x: x**0,
    "pow_method": lambda x: x.pow(0.5),
    "float_tensor_exponent": lambda x: x ** (x.float() * 0.5),  # int ** float32 tensor: float32, not float64
}


@pytest.mark.parametrize("np_dtype", [np.int64, np.int32, np.uint8, np.bool_], ids=["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("name", INTEGER_POWERS)
def test_integer_tensor_powers_match_torch(name, np_dtype):
    """tensor([4, 9]) ** 0.5 was [1, 1] (0.5 cast to int64: 0); PyTorch's is float32 [2., 3.]."""
    x = np.array([[4, 9, 0], [1, 2, 3]]).astype(np_dtype)
    fn = INTEGER_POWERS[name]
    check_op(fn, fn, inputs=[x], rtol=1e-6, atol=1e-6)  # float32 results: float32's tolerance
    with mg.reference():
        assert fn(mg.tensor(x)).dtype == np.dtype(str(fn(torch.tensor(x)).dtype).replace("torch.", ""))


def test_integer_sqrt_power_is_the_square_root():
    np.testing.assert_array_equal((mg.tensor([4, 9]) ** 0.5).numpy(), np.array([2.0, 3.0], dtype=np.float32))
    assert (mg.tensor([4, 9]) ** 0.5).dtype == np.float32 == (mg.tensor([4, 9]) * 0.5).dtype


# -- dtype conversion ------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["float32", "float64"])
def test_to_dtype(target, dtype):
    """.to(dtype) changes the output dtype; the gradient comes back in the input's dtype."""
    check_op(lambda x: x.to(np.dtype(target)) * 2.0, lambda x: x.to(getattr(torch, target)) * 2.0,
             [(3, 4)], dtype)


def test_float_and_double_shortcuts():
    x = mg.randn(2, 3, dtype=np.float64, requires_grad=True)
    assert x.float().dtype == np.float32 and x.float().double().dtype == np.float64
    x.float().sum().backward()
    assert x.grad.dtype == np.float64


# -- errors a learner should be able to read ------------------------------------------------------
@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast_mismatch_names_op_and_shapes(name):
    a, b = mg.zeros(2, 3), mg.zeros(4)
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        BINARY[name](a, b)


@pytest.mark.parametrize("name", list(BINARY) + ["pow"])
def test_float32_with_float64_tensor_raises(name):
    fn = BINARY.get(name, lambda a, b: a**b)
    a, b = mg.ones(2, dtype=np.float32), mg.ones(2, dtype=np.float64)
    with pytest.raises(TypeError, match=rf"{name}: dtype mismatch float32 vs float64"):
        fn(a, b)


SCALAR_OPS = {"add": lambda x, c: x + c, "radd": lambda x, c: c + x, "sub": lambda x, c: x - c,
              "rsub": lambda x, c: c - x, "mul": lambda x, c: x * c, "rmul": lambda x, c: c * x,
              "div": lambda x, c: x / c, "rdiv": lambda x, c: c / x, "pow": lambda x, c: x ** c}


@pytest.mark.parametrize("op", SCALAR_OPS)
@pytest.mark.parametrize("scalar", [2, -1, 0.5, True], ids=["int", "negative_int", "float", "bool"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_a_number_mixed_into_an_integer_or_bool_tensor_gives_pytorchs_dtype_and_values(op, scalar, dtype):
    """int64 + 2 stays int64, uint8 - 1 wraps to 255, int * 0.5 is float32, bool + 2 is int64 ... as
    PyTorch; where PyTorch refuses (bool - bool, int ** -1), minigrad refuses too."""
    values = np.array({"uint8": [1, 2, 250], "bool": [True, False, True]}.get(dtype, [1, 2, -3]), dtype=dtype)
    if op == "pow" and scalar is True:  # PyTorch computes it; minigrad refuses a bool exponent by name
        with pytest.raises(TypeError, match="pow: a bool exponent"):
            SCALAR_OPS[op](mg.tensor(values), scalar)
        return
    try:
        expected = SCALAR_OPS[op](torch.tensor(values), scalar)
    except RuntimeError:
        with pytest.raises((TypeError, ValueError)):
            SCALAR_OPS[op](mg.tensor(values), scalar)
        return
    got = SCALAR_OPS[op](mg.tensor(values), scalar)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch."), (got.dtype, expected.dtype)
    np.testing.assert_allclose(got.numpy().astype(float), expected.numpy().astype(float))
