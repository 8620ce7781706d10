"""minigrad: reverse-mode autograd on NumPy, PyTorch-shaped, written to be read.

Reading order: engine.py (the graph and backward) -> tensor.py (what a Tensor is) ->
ops/ (each primitive op, forward beside backward) -> functional/ (ops with hand-derived
gradients, each beside its composed twin) -> nn/ -> optim/. Those are the reference formulas;
minigrad/kernels holds faster implementations of some of them, which run by default.
`with minigrad.reference():` runs every op through its reference formulas instead.
"""
import numpy as np

from minigrad.engine import enable_grad, is_grad_enabled, is_reference_mode, no_grad, reference
from minigrad.tensor import Tensor
from minigrad.ops import cat, stack
from minigrad.creation import arange, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from minigrad.random import manual_seed
from minigrad.tools.gradcheck import GradcheckError, gradcheck
from minigrad.serialization import load, save
from minigrad import nn, optim  # after Tensor and the ops: nn's layers import minigrad.functional
from minigrad import kernels  # registers the kernels: they replace reference ops by default
from minigrad.kernels import get_num_threads, set_num_threads
from minigrad.tools.trace import trace  # after nn: trace and viz know Parameter and Module
from minigrad.tools import viz

float32 = np.float32
float64 = np.float64

__all__ = [
    "Tensor", "no_grad", "enable_grad", "is_grad_enabled", "reference", "is_reference_mode", "cat", "stack", "manual_seed",
    "gradcheck", "GradcheckError", "tensor", "zeros", "ones", "zeros_like", "ones_like",
    "randn", "rand", "arange", "float32", "float64", "save", "load", "nn", "optim",
    "trace", "viz", "kernels", "get_num_threads", "set_num_threads",
]
__version__ = "0.1.0"
