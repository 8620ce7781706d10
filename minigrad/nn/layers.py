"""Layers and containers with PyTorch's names, arguments and weight layouts, so state dicts convert 1:1.

A layer holds Parameters and settings; its forward calls one functional op, which owns the
gradient math. Default initialisation follows PyTorch's `reset_parameters`.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

import minigrad.functional as F
from minigrad.device import device as as_device
from minigrad.functional.linear import conv_padding
from minigrad.nn import init
from minigrad.nn.activation import GELU, ReLU  # noqa: F401  (they lived here: `from minigrad.nn.layers import GELU`)
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor


def _positive_int(layer: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{layer}: {field} must be a positive integer, got {value!r}")
    return int(value)


def _pair(layer: str, field: str, value: Any, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum for v in pair):
        raise ValueError(f"{layer}: {field} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _reset_weight_and_bias(weight: Parameter, bias: Parameter | None) -> None:
    """PyTorch's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))  # gain sqrt(1/3): bound = 1/sqrt(fan_in)
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """y = x W^T + b;  x: (..., in_features) -> (..., out_features), weight: (out, in)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = np.float32):
        super().__init__()
        _on_cpu(device)
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        self.register_parameter("bias", Parameter(np.empty(self.out_features, dtype=dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: expected input of shape (..., {self.in_features}), got shape {input.shape}"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class LayerNorm(Module):
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias over the last dims;  (..., *shape) -> same."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None, dtype: Any = np.float32):
        super().__init__()
        _on_cpu(device)
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else normalized_shape
        self.normalized_shape = tuple(_positive_int("LayerNorm", "normalized_shape", n) for n in shape)
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps!r}")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        ones, zeros = np.ones(self.normalized_shape, dtype=dtype), np.zeros(self.normalized_shape, dtype=dtype)
        self.register_parameter("weight", Parameter(ones) if elementwise_affine else None)
        self.register_parameter("bias", Parameter(zeros) if elementwise_affine and bias else None)

    def forward(self, input: Tensor) -> Tensor:
        n = len(self.normalized_shape)
        if tuple(input.shape[input.ndim - n:]) != self.normalized_shape:
            raise ValueError(
                f"{self!r}: expected input of shape (..., {', '.join(map(str, self.normalized_shape))}), "
                f"got shape {input.shape}"
            )
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class Dropout(Module):
    """Training: y = x * Bernoulli(1-p) / (1-p); eval: y = x;  any shape -> same."""

    def __init__(self, p: float = 0.5, inplace: bool = False):  # inplace: accepted, computed out of place
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p (the probability of zeroing an element) must be in [0, 1], got {p!r}")
        self.p, self.inplace = float(p), inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Conv2d(Module):
    """y = im2col(x) @ W^T + b (per group);  x: (B, in, H, W) or (in, H, W) -> (B, out, Ho, Wo),
    weight: (out, in / groups, kh, kw)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = np.float32):
        super().__init__()
        _on_cpu(device)
        self.in_channels = _positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = _positive_int("Conv2d", "out_channels", out_channels)
        self.groups = _positive_int("Conv2d", "groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                             f"divisible by groups ({groups})")
        self.kernel_size = _pair("Conv2d", "kernel_size", kernel_size, minimum=1)
        self.stride = _pair("Conv2d", "stride", stride, minimum=1)
        self.dilation = _pair("Conv2d", "dilation", dilation, minimum=1)
        self.padding = conv_padding(padding, self.stride, "Conv2d")
        if padding_mode != "zeros":
            raise NotImplementedError(f'Conv2d: padding_mode="{padding_mode}" is not supported (only "zeros")')
        self.padding_mode = padding_mode
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.register_parameter("bias", Parameter(np.empty(self.out_channels, dtype=dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4) or input.shape[-3] != self.in_channels:
            raise ValueError(f"{self!r}: expected input of shape (B, {self.in_channels}, H, W) or "
                             f"({self.in_channels}, H, W), got shape {input.shape}")
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"  # as PyTorch's: padding=same, unquoted
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + (", bias=False" if self.bias is None else "")


def _on_cpu(device: Any) -> None:
    if device is not None:
        as_device(device)  # refuses anything but the CPU


# ----------------------------------------------------------------------------------------------
# Containers
# ----------------------------------------------------------------------------------------------


class Identity(Module):
    """y = x (a placeholder layer, e.g. an optional head)."""

    def __init__(self, *args: Any, **kwargs: Any):  # accepts and ignores arguments, as PyTorch
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class ModuleList(Module):
    """A list of modules registered under "0", "1", ... (so names read `blocks.0.attn.weight`)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _name(self, index: int) -> str:
        """The registered name of the module at position `index` (negative counts from the end)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for length {len(self)}")
        return list(self._modules)[index]

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[self._name(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, self._name(index), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self


class Sequential(ModuleList):
    """y = f_n(... f_2(f_1(x))): the modules applied in order. Sequential(a, b) or Sequential({"name": a})."""

    def __init__(self, *modules: Module | dict[str, Module]):
        if len(modules) == 1 and isinstance(modules[0], dict):  # named, as Sequential(OrderedDict(...))
            super().__init__()
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            super().__init__(modules)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):  # keeps the names, as PyTorch
            return Sequential(dict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    def forward(self, input: Any) -> Any:
        for module in self:
            input = module(input)
        return input
