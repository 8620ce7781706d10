"""Helpers that make tensors, with PyTorch's names and dtype rules.

`tensor(data)` infers the dtype as `torch.tensor` does (bools -> bool, ints -> int64, floats ->
float32; an array keeps its dtype); the fillers (`zeros`, `randn`, ...) make float32 unless told.
`device=` is accepted as in PyTorch and must be the CPU.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from minigrad.device import device as as_device
from minigrad.dtypes import DEFAULT_DTYPE, infer_array, to_array
from minigrad.ops import shape_arg
from minigrad.random import default_generator
from minigrad.tensor import Tensor


def _made(data: np.ndarray, requires_grad: bool, device: Any) -> Tensor:
    if device is not None:
        as_device(device)  # refuses anything but the CPU
    return Tensor(data, requires_grad=requires_grad)


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of data: tensor([0, 1, 2]) is int64, tensor([0.5]) float32."""
    arr = infer_array(data) if dtype is None else to_array(data, dtype)
    return _made(np.array(arr, copy=True), requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """data itself if it is a Tensor (of that dtype), else a tensor that shares an array's memory."""
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    arr = infer_array(data) if dtype is None else to_array(data, dtype)
    return _made(arr, False, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing the array's memory and dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor(array)


def zeros(*shape: Any, dtype: Any = DEFAULT_DTYPE, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.zeros(shape_arg(shape), dtype=dtype), requires_grad, device)


def ones(*shape: Any, dtype: Any = DEFAULT_DTYPE, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.ones(shape_arg(shape), dtype=dtype), requires_grad, device)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Every element fill_value; the dtype follows fill_value (int -> int64, float -> float32) unless given."""
    dtype = infer_array(fill_value).dtype if dtype is None else dtype
    return _made(np.full(shape_arg((size,)), fill_value, dtype=dtype), requires_grad, device)


def empty(*shape: Any, dtype: Any = DEFAULT_DTYPE, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.empty(shape_arg(shape), dtype=dtype), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: Any = DEFAULT_DTYPE, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    return _made(np.eye(n, m, dtype=dtype), requires_grad, device)


def zeros_like(t: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """Zeros of t's shape (and dtype unless given); memory_format is accepted and ignored (NumPy's layout)."""
    return _made(np.zeros_like(t._data, dtype=dtype), requires_grad, device)


def ones_like(t: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    return _made(np.ones_like(t._data, dtype=dtype), requires_grad, device)


def randn(*shape: Any, dtype: Any = DEFAULT_DTYPE, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the generator seeded by `minigrad.manual_seed`."""
    data = default_generator().standard_normal(shape_arg(shape), dtype=np.dtype(dtype).type)
    return _made(data, requires_grad, device)


def rand(*shape: Any, dtype: Any = DEFAULT_DTYPE, device: Any = None, requires_grad: bool = False) -> Tensor:
    data = default_generator().random(shape_arg(shape), dtype=np.dtype(dtype).type)
    return _made(data, requires_grad, device)


def randint(*bounds: int, size: Any = None, dtype: Any = np.int64, device: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Integers in [low, high), as torch.randint: randint(high, size) or randint(low, high, size)
    (int64 unless dtype says otherwise, e.g. float32: whole numbers stored as floats)."""
    if size is None and bounds and not isinstance(bounds[-1], numbers.Integral):
        *bounds, size = bounds  # the size came last, positionally
    if size is None or len(bounds) not in (1, 2):
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), got bounds {tuple(bounds)} "
                        f"and size={size!r}")
    low, high = (0, bounds[0]) if len(bounds) == 1 else bounds
    if not low < high:
        raise ValueError(f"randint: low ({low}) must be less than high ({high})")
    values = default_generator().integers(low, high, size=shape_arg((size,)))
    return _made(values.astype(dtype, copy=False), requires_grad, device)


def arange(start: float, end: float | None = None, step: float = 1, *, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """start, start + step, ... below end: int64 for integer arguments, float32 if any is a float."""
    if dtype is None:
        dtype = np.float32 if any(isinstance(v, float) for v in (start, end, step)) else np.int64
    args = (0, start, step) if end is None else (start, end, step)
    return _made(np.arange(*args, dtype=dtype), requires_grad, device)
