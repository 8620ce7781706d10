"""minigrad.nn: Module, Parameter and layers with PyTorch's names and weight layouts."""
from minigrad.nn import functional, init, utils
from minigrad.nn.layers import (
    GELU, Conv2d, Dropout, Identity, LayerNorm, Linear, ModuleList, ReLU, Sequential,
)
from minigrad.nn.module import IncompatibleKeys, Module, Parameter

__all__ = [
    "Module", "Parameter", "ModuleList", "Sequential", "Identity", "IncompatibleKeys",
    "Linear", "LayerNorm", "Dropout", "GELU", "ReLU", "Conv2d", "functional", "init", "utils",
]
