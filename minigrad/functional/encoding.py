"""one_hot: class indices as rows of zeros with a 1 at the class (no gradient: its input is integers)."""
from __future__ import annotations

import numpy as np

from minigrad.ops.elementwise import tensor_inputs
from minigrad.tensor import Tensor


@tensor_inputs("tensor")
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """out[..., c] = 1 if tensor[...] == c else 0;  int64 (...) -> int64 (..., num_classes).
    num_classes=-1: one more than the largest index."""
    t = tensor._data
    if t.dtype != np.int64:
        raise TypeError(f"one_hot: tensor must hold int64 class indices, got dtype {t.dtype}; convert with .long()")
    if num_classes == -1:
        if t.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; give num_classes")
        num_classes = int(t.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or an int >= 0, got {num_classes!r}")
    if t.size and t.min() < 0:
        raise ValueError(f"one_hot: class indices must be >= 0, got {int(t.min())} in tensor")
    if t.size and t.max() >= num_classes:
        raise ValueError(f"one_hot: class index {int(t.max())} is out of range for num_classes={num_classes}")
    return Tensor((t[..., None] == np.arange(num_classes)).astype(np.int64))
