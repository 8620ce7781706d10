"""minigrad.nn: Module, Parameter and layers with PyTorch's names and weight layouts."""
from minigrad.nn import functional, init, utils
from minigrad.nn.activation import GELU, Flatten, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minigrad.nn.layers import Conv2d, Dropout, Identity, LayerNorm, Linear, ModuleList, Sequential
from minigrad.nn.loss import CrossEntropyLoss, MSELoss
from minigrad.nn.module import IncompatibleKeys, Module, Parameter

__all__ = [
    "Module", "Parameter", "ModuleList", "Sequential", "Identity", "IncompatibleKeys",
    "Linear", "LayerNorm", "Dropout", "Conv2d", "GELU", "ReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax",
    "Flatten", "CrossEntropyLoss", "MSELoss", "functional", "init", "utils",
]
