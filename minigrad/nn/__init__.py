"""minigrad.nn: Module, Parameter and layers with PyTorch's names and weight layouts."""
from minigrad.nn import functional, init, utils
from minigrad.nn.activation import GELU, Flatten, LogSigmoid, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minigrad.nn.layers import Conv2d, Dropout, Identity, LayerNorm, Linear, ModuleList, Sequential
from minigrad.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from minigrad.nn.pooling import AvgPool2d, MaxPool2d
from minigrad.nn.module import IncompatibleKeys, Module, Parameter

__all__ = [
    "Module", "Parameter", "ModuleList", "Sequential", "Identity", "IncompatibleKeys",
    "Linear", "LayerNorm", "Dropout", "Conv2d", "GELU", "ReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax",
    "Flatten", "CrossEntropyLoss", "MSELoss", "functional", "init", "utils",
    "LogSigmoid", "BCELoss", "BCEWithLogitsLoss", "MaxPool2d", "AvgPool2d",
]
