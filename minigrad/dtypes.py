"""dtypes: NumPy's (`minigrad.float32 is np.float32`) under PyTorch's names, and how data becomes an array.

Two readings of Python data, as in PyTorch:
- `Tensor(data)` (like `torch.Tensor(data)`): Python numbers and lists become float32;
- `minigrad.tensor(data)` (like `torch.tensor(data)`): the dtype is inferred, bools -> bool,
  ints -> int64, anything with a float -> float32, so `tensor([0, 1, 2])` holds class labels.
A NumPy array keeps its dtype in both (float16 is computed in float32).
"""
from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_DTYPE = np.float32


def _checked(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"Tensor: unsupported array dtype {arr.dtype}; use a float, integer or bool array")
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
        return arr.astype(np.float32)  # float16 is not supported: compute in float32
    return arr


def _from_python(data: Any, dtype: Any) -> np.ndarray:
    try:
        return np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"Tensor: cannot make a numeric tensor from {type(data).__name__} data ({err})") from None


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """The array a Tensor holds: arrays keep their dtype, Python data becomes float32 (unless dtype)."""
    if hasattr(data, "_grad_fn"):  # a Tensor: its array (no copy)
        data = data._data
    if isinstance(data, np.ndarray | np.generic):
        arr = _checked(np.asarray(data))
    else:
        arr = _from_python(data, DEFAULT_DTYPE if dtype is None else dtype)
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    return arr


def infer_array(data: Any) -> np.ndarray:
    """torch.tensor's inference for Python data: bool -> bool, int -> int64, float -> float32."""
    if hasattr(data, "_grad_fn") or isinstance(data, np.ndarray | np.generic):
        return to_array(data)
    arr = _from_python(data, None)
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        return arr.astype(DEFAULT_DTYPE)
    raise TypeError(f"tensor: cannot make a numeric tensor from {type(data).__name__} data "
                    f"(NumPy reads it as dtype {arr.dtype})")


def accurate_sum(a: np.ndarray, axes: tuple[int, ...], keepdims: bool, divide_by: int = 1) -> np.ndarray:
    """sum(a) over axes (/ divide_by), in a's dtype. float32 is added up in float64, then rounded once: NumPy
    adds pairwise only along the contiguous axis, so over other axes its float32 error grows with the count
    (2e-5 for a mean over 182,625 rows; PyTorch's cascade sum 3e-7, this 6e-8)."""
    if not isinstance(a, np.ndarray):  # a GraphArray (create_graph=True): minigrad's Sum, recorded in the graph
        total = a.sum(axis=axes, keepdims=keepdims)
        return total / a.dtype.type(divide_by) if divide_by != 1 else total
    if a.dtype == np.float32:
        total = a.sum(axis=axes, keepdims=keepdims, dtype=np.float64)
        return np.asarray(total / divide_by if divide_by != 1 else total, dtype=np.float32)
    total = a.sum(axis=axes, keepdims=keepdims)
    return np.asarray(total / a.dtype.type(divide_by) if divide_by != 1 else total)


# -- PyTorch's names --------------------------------------------------------------------------------
float32, float64, float16 = np.float32, np.float64, np.float16
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
half, double, long, short = np.float16, np.float64, np.int64, np.int16
# float, int and bool would shadow Python's builtins in this file; minigrad/__init__ sets them
# (minigrad.float is float32, minigrad.int is int32 and minigrad.bool is np.bool_, as in torch)
BUILTIN_NAMES = {"float": np.float32, "int": np.int32, "bool": np.bool_}
