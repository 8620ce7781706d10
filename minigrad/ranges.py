"""arange, linspace and logspace, with PyTorch's dtypes and PyTorch's formulas.

linspace counts the first half up from start and the second half back from end (as PyTorch's kernel), so
both ends are exact; arange adds i * step to start in double. PyTorch's CPU kernels fill SIMD vectors,
each from its own base, so the last bit of a value can differ from these (by a rounding or two).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.creation import _dtype_for, _made, _no_layout
from minigrad.dtypes import DEFAULT_DTYPE
from minigrad.tensor import Tensor


def _number(value: Any, op: str, name: str) -> Any:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{op}: {name} must be a number or a one-element tensor, got shape {value.shape}")
        return value.item()
    return value


def _is_float(value: Any) -> bool:
    return isinstance(value, float | np.floating) or (isinstance(value, Tensor) and value.dtype.kind == "f")


def arange(start: Any = 0, end: Any = None, step: Any = 1, *, out: Tensor | None = None, dtype: Any = None,
           layout: Any = None, device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """start, start + step, ... below end: int64 if every argument is an integer, else the default float dtype."""
    _no_layout("arange", layout, pin_memory)
    if end is None:
        start, end = 0, start
    floats = any(_is_float(v) for v in (start, end, step))
    dtype = _dtype_for(dtype, out, "arange", DEFAULT_DTYPE if floats else np.int64)
    start, end, step = (_number(v, "arange", n) for v, n in ((start, "start"), (end, "end"), (step, "step")))
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if not all(math.isfinite(v) for v in (start, end)):
        raise ValueError(f"arange: start ({start}) and end ({end}) must be finite")
    if (end - start) * step < 0:
        raise ValueError(f"arange: end ({end}) is not reached from start ({start}) with step ({step}) of that sign")
    steps = math.ceil((end - start) / step)
    acc = np.dtype(np.float64 if dtype.kind == "f" else dtype)  # PyTorch accumulates floats in double
    values = (acc.type(start) + acc.type(step) * np.arange(steps).astype(acc)).astype(dtype)
    return _made(values, requires_grad, device, out, "arange")


def linspace(start: Any, end: Any, steps: int, *, out: Tensor | None = None, dtype: Any = None, layout: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """steps evenly spaced values from start to end, both included: (steps,), the default float dtype unless given."""
    _no_layout("linspace", layout, False)
    dtype = _dtype_for(dtype, out, "linspace")
    start, end = _number(start, "linspace", "start"), _number(end, "linspace", "end")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    integral = dtype.kind in "iub"
    acc = np.dtype(np.float64) if integral else dtype  # PyTorch steps integers in double, floats in their own dtype
    first, last = dtype.type(start), dtype.type(end)  # start and end are stored as the dtype first
    if steps <= 1:
        return _made(np.full(steps, first, dtype), requires_grad, device, out, "linspace")
    step = (acc.type(last) - acc.type(first)) / acc.type(steps - 1)
    halfway = steps // 2

    i = np.arange(steps)
    with np.errstate(invalid="ignore", over="ignore"):  # the first half counts up from start, the second back from end
        up = acc.type(first) + step * i.astype(acc)
        down = acc.type(last) - step * (steps - i - 1).astype(acc)
        values = np.where(i < halfway, up, down).astype(dtype)
    return _made(values, requires_grad, device, out, "linspace")


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, out: Tensor | None = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """base ** linspace(start, end, steps), the exponents computed in double as PyTorch: (steps,)."""
    _no_layout("logspace", layout, False)
    dtype = _dtype_for(dtype, out, "logspace")
    start, end = _number(start, "logspace", "start"), _number(end, "logspace", "end")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"logspace: steps must be a non-negative int, got {steps!r}")
    first, last = dtype.type(start), dtype.type(end)
    if steps <= 1:
        exponents = np.full(steps, np.float64(first))
    else:
        step = np.float64(last - first) / (steps - 1)  # the difference in the dtype, as PyTorch
        i = np.arange(steps)
        exponents = np.where(i < steps // 2, np.float64(first) + step * i, np.float64(last) - step * (steps - i - 1))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        values = np.power(np.float64(base), exponents)
    return _made(values.astype(dtype), requires_grad, device, out, "logspace")
