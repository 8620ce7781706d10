"""Helpers that make tensors, with PyTorch's names and dtype rules.

`tensor(data)` infers the dtype as `torch.tensor` does (bools -> bool, ints -> int64, floats ->
float32; an array keeps its dtype); the fillers (`zeros`, `linspace`, ...) make float32 unless told.
`device=` is accepted as in PyTorch and must be the CPU; `out=` writes into a tensor of the result's
shape. Random tensors are made in minigrad/sampling.py.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.device import device as as_device
from minigrad.dtypes import DEFAULT_DTYPE, infer_array, to_array
from minigrad.ops import shape_arg
from minigrad.engine import is_grad_enabled
from minigrad.tensor import Tensor


def _made(data: np.ndarray, requires_grad: bool, device: Any, out: Tensor | None = None, op: str = "") -> Tensor:
    if device is not None:
        as_device(device)  # refuses anything but the CPU
    if out is not None:
        return write_out(data, out, op)
    return Tensor(data, requires_grad=requires_grad)


def write_out(data: np.ndarray, out: Any, op: str) -> Tensor:
    """out[...] = data, for `out=`: same shape (PyTorch would resize; minigrad refuses), out's dtype."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: out must be a Tensor, got {type(out).__name__}")
    if out.shape != data.shape:
        raise ValueError(f"{op}: out has shape {out.shape}, the result has shape {data.shape} (minigrad does not "
                         "resize out)")
    if out.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}: out= does not support automatic differentiation, and out requires grad")
    out._data[...] = data
    out._version_counter.value += 1  # out changed in place: a backward that saved it will refuse
    return out


def _dtype_for(dtype: Any, out: Tensor | None, op: str, default: Any = DEFAULT_DTYPE) -> np.dtype:
    """dtype=, else out's dtype, else the default; a dtype= that contradicts out's is refused."""
    if out is not None and dtype is not None and np.dtype(dtype) != getattr(out, "dtype", None):
        raise TypeError(f"{op}: dtype={np.dtype(dtype)} but out has dtype {out.dtype}")
    if dtype is None:
        return np.dtype(getattr(out, "dtype", default) if out is not None else default)
    return np.dtype(dtype)


def _no_layout(op: str, layout: Any, pin_memory: bool) -> None:
    if layout not in (None, "strided"):
        raise NotImplementedError(f"{op}: layout={layout!r} is not supported (only the strided layout)")
    if pin_memory:
        raise NotImplementedError(f"{op}: pin_memory=True is not supported: minigrad computes on the CPU only")


def zeros(*size: Any, out: Tensor | None = None, dtype: Any = None, layout: Any = None, device: Any = None,
          requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """0 everywhere; size: ints or one sequence."""
    _no_layout("zeros", layout, pin_memory)
    return _made(np.zeros(shape_arg(size), _dtype_for(dtype, out, "zeros")), requires_grad, device, out, "zeros")


def ones(*size: Any, out: Tensor | None = None, dtype: Any = None, layout: Any = None, device: Any = None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """1 everywhere; size: ints or one sequence."""
    _no_layout("ones", layout, pin_memory)
    return _made(np.ones(shape_arg(size), _dtype_for(dtype, out, "ones")), requires_grad, device, out, "ones")


def empty(*size: Any, out: Tensor | None = None, dtype: Any = None, layout: Any = None, device: Any = None,
          requires_grad: bool = False, pin_memory: bool = False, memory_format: Any = None) -> Tensor:
    """Uninitialised memory of that size (NumPy's np.empty); memory_format is ignored (NumPy's layout)."""
    _no_layout("empty", layout, pin_memory)
    return _made(np.empty(shape_arg(size), _dtype_for(dtype, out, "empty")), requires_grad, device, out, "empty")


def full(size: Any, fill_value: Any, *, out: Tensor | None = None, dtype: Any = None, layout: Any = None,
         device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Every element fill_value; the dtype follows fill_value (int -> int64, float -> float32) unless given."""
    _no_layout("full", layout, pin_memory)
    dtype = _dtype_for(dtype, out, "full", infer_array(fill_value).dtype)
    return _made(np.full(shape_arg((size,)), fill_value, dtype=dtype), requires_grad, device, out, "full")


def empty_like(input: Tensor, *, dtype: Any = None, layout: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """Uninitialised memory of input's shape (and dtype unless given)."""
    _no_layout("empty_like", layout, False)
    return _made(np.empty_like(input._data, dtype=dtype), requires_grad, device)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, layout: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """fill_value everywhere, in input's shape and dtype (full_like(int64, 2.7) is 2, as PyTorch) unless given."""
    _no_layout("full_like", layout, False)
    dtype = np.dtype(input.dtype if dtype is None else dtype)
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    if dtype.kind in "iu" and isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"full_like: fill_value {value} cannot be stored in {dtype}")
    return _made(np.full(input.shape, np.array(value).astype(dtype)), requires_grad, device)


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


