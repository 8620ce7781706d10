"""Weight initialisation, as torch.nn.init: each fills a tensor's array in place, keeping its dtype.

Every draw comes from `minigrad.random.default_generator()`, fetched at call time (manual_seed
replaces the generator), so the same seed builds the same model. Each function accepts a
Tensor/Parameter or a bare np.ndarray (e.g. `module.weight.data`) and returns what it was given.
"""
from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

from minigrad.random import default_generator
from minigrad.tensor import Tensor

T = TypeVar("T", Tensor, np.ndarray)


def _array(t: Tensor | np.ndarray, fn: str) -> np.ndarray:
    data = t._data if isinstance(t, Tensor) else t
    if isinstance(t, Tensor):
        t._version_counter.value += 1  # init changes t in place
    if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
        raise TypeError(f"init.{fn}: expected a float Tensor or np.ndarray, got {type(t).__name__}")
    return data


def uniform_(t: T, a: float = 0.0, b: float = 1.0) -> T:
    """t ~ U(a, b)"""
    data = _array(t, "uniform_")
    data[...] = default_generator().uniform(a, b, size=data.shape)  # assignment casts to t's dtype
    return t


def normal_(t: T, mean: float = 0.0, std: float = 1.0) -> T:
    """t ~ N(mean, std^2)"""
    data = _array(t, "normal_")
    data[...] = default_generator().normal(mean, std, size=data.shape)
    return t


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def trunc_normal_(t: T, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> T:
    """t ~ N(mean, std^2) conditioned on a <= t <= b (a, b absolute bounds, as PyTorch)

    Rejection sampling: draw normals, keep those inside [a, b], redraw the rest. Exact, and
    fast whenever [a, b] holds a fair share of the normal's mass (it refuses when it does not).
    """
    data = _array(t, "trunc_normal_")
    if not a < b or not std > 0:
        raise ValueError(f"init.trunc_normal_: need a < b and std > 0, got a={a}, b={b}, std={std}")
    accept = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    if accept < 1e-4:
        raise ValueError(
            f"init.trunc_normal_: [a, b] = [{a}, {b}] holds only {accept:.2e} of N({mean}, {std}^2); "
            "rejection sampling would take too long (move mean towards [a, b])"
        )
    gen = default_generator()
    flat = np.empty(data.size, dtype=np.float64)
    todo = np.arange(data.size)  # indices still to fill
    while todo.size:
        draws = gen.normal(mean, std, size=todo.size)
        ok = (draws >= a) & (draws <= b)
        flat[todo[ok]] = draws[ok]
        todo = todo[~ok]
    data[...] = flat.reshape(data.shape)
    return t


def constant_(t: T, val: float) -> T:
    """t = val"""
    _array(t, "constant_")[...] = val
    return t


def zeros_(t: T) -> T:
    """t = 0"""
    return constant_(t, 0.0)


def ones_(t: T) -> T:
    """t = 1"""
    return constant_(t, 1.0)


def _calculate_fan_in_and_fan_out(t: Tensor | np.ndarray) -> tuple[int, int]:
    """Linear weight (out, in): (in, out); conv weight (out, in, kh, kw): (in*kh*kw, out*kh*kw)."""
    shape = _array(t, "_calculate_fan_in_and_fan_out").shape
    if len(shape) < 2:
        raise ValueError(
            f"init: fan in and fan out can not be computed for a tensor with fewer than 2 "
            f"dimensions (shape {shape})"
        )
    receptive_field = math.prod(shape[2:])  # kh * kw for a conv kernel, 1 for a Linear weight
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through `nonlinearity` (as PyTorch)."""
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"init.calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def kaiming_uniform_(t: T, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> T:
    """t ~ U(-bound, bound), bound = gain(a) * sqrt(3 / fan)

    Linear and Conv2d call it with a=sqrt(5): gain = sqrt(1/3), so bound = 1/sqrt(fan_in).
    """
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        return t  # an empty tensor: nothing to fill (PyTorch warns and does the same)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(t, -bound, bound)
