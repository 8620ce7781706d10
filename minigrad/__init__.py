"""minigrad: reverse-mode autograd on NumPy, PyTorch-shaped, written to be read.

Reading order: engine.py (the graph and backward) -> tensor.py (what a Tensor is) ->
ops/ (each primitive op, forward beside backward) -> functional/ (ops with hand-derived
gradients, each beside its composed twin) -> nn/ -> optim/. Those are the reference formulas;
minigrad/kernels holds faster implementations of some of them, which run by default.
`with minigrad.reference():` runs every op through its reference formulas instead.

The top level has PyTorch's names (`minigrad.tensor`, `minigrad.matmul`, `minigrad.max`,
`minigrad.no_grad`, `minigrad.float32`, `minigrad.device`, ...), so `import minigrad as torch`
runs PyTorch code written with them.
"""
from minigrad.engine import enable_grad, is_grad_enabled, is_reference_mode, no_grad, reference, set_grad_enabled
from minigrad.tensor import Tensor
from minigrad.ops import cat, stack
from minigrad.creation import (
    as_tensor, empty, empty_like, eye, from_numpy, full, full_like, ones, ones_like, tensor, zeros, zeros_like,
)
from minigrad.ranges import arange, linspace, logspace
from minigrad.sampling import (
    bernoulli, multinomial, normal, rand, rand_like, randint, randint_like, randn, randn_like, randperm,
)
from minigrad.defaults import get_default_device, get_default_dtype, set_default_device, set_default_dtype
from minigrad.device import backends, cuda, device
from minigrad.dtypes import (
    double, float16, float32, float64, half, int8, int16, int32, int64, long, short, uint8,
)
from minigrad.random import Generator, initial_seed, manual_seed, seed
from minigrad.tools.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minigrad.serialization import load, save
from minigrad import accelerator, autograd, nn, optim  # after Tensor and the ops: nn's layers import minigrad.functional
from minigrad.functions import (
    abs, add, argmax, argmin, bmm, chunk, clone, div, exp, flatten, is_tensor, log, log_softmax,
    matmul, max, mean, min, mm, mul, neg, numel, permute, pow, relu, reshape, sigmoid, softmax,
    split, sqrt, squeeze, std, sub, sum, tanh, transpose, unsqueeze, var,
)
from minigrad.functions import (  # more math: elementwise, selection, scans
    ceil, clamp, clip, cos, cumsum, exp2, expm1, floor, log10, log1p, log2, maximum, minimum, prod, round,
    rsqrt, sign, sin, square, t, trunc, unbind, where,
)
from minigrad.compare import (  # after functions: these names are compare.py's
    all, allclose, any, count_nonzero, eq, equal, ge, greater, greater_equal, gt, isclose, le, less, less_equal, lt,
    ne, not_equal,
)
from minigrad.sorting import argsort, bincount, histc, histogram, sort, topk, unique
from minigrad import kernels  # registers the kernels: they replace reference ops by default
from minigrad.kernels import get_num_threads, set_num_threads
from minigrad.tools.trace import trace  # after nn: trace and viz know Parameter and Module
from minigrad.tools import viz
from minigrad.dtypes import BUILTIN_NAMES

globals().update(BUILTIN_NAMES)  # minigrad.float, .int, .bool (float32, int32, bool, as torch's)

__all__ = [
    "Tensor", "autograd", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "reference", "is_reference_mode", "cat", "stack",
    "manual_seed", "gradcheck", "gradgradcheck", "GradcheckError", "save", "load", "nn", "optim", "trace", "viz", "kernels",
    "get_num_threads", "set_num_threads",
    # creation
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "eye", "zeros_like", "ones_like",
    "randn", "rand", "randint", "arange", "linspace", "logspace", "full_like", "empty_like",
    # random
    "Generator", "seed", "initial_seed", "randn_like", "rand_like", "randint_like", "randperm", "multinomial",
    "normal", "bernoulli",
    # comparison, sorting and counting (no gradients, except sort's and topk's values)
    "all", "any", "allclose", "isclose", "equal", "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal",
    "less", "less_equal", "not_equal", "count_nonzero", "sort", "argsort", "topk", "unique", "histogram", "histc",
    "bincount",
    # defaults
    "set_default_device", "get_default_device", "set_default_dtype", "get_default_dtype",
    # devices and dtypes
    "device", "cuda", "backends", "float16", "float32", "float64", "half", "double", "int8", "int16",
    "int32", "int64", "long", "short", "uint8", "float", "int", "bool",
    # functions
    "abs", "add", "argmax", "argmin", "bmm", "chunk", "clone", "div", "exp", "flatten", "is_tensor", "log",
    "log_softmax", "matmul", "max", "mean", "min", "mm", "mul", "neg", "numel", "permute", "pow", "relu",
    "reshape", "sigmoid", "softmax", "split", "sqrt", "squeeze", "std", "sub", "sum", "tanh", "transpose",
    "unsqueeze", "var",
    "ceil", "clamp", "clip", "cos", "cumsum", "exp2", "expm1", "floor", "log10", "log1p", "log2", "maximum",
    "minimum", "prod", "round", "rsqrt", "sign", "sin", "square", "t", "trunc", "unbind", "where", "accelerator",
]
__version__ = "0.1.0"
