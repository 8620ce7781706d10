"""torch.set_default_device / set_default_dtype, as far as minigrad has a choice: the CPU and float32.

minigrad's layers and fillers make float32 (nn.Linear's dtype=np.float32, `zeros`, `linspace`, ...), so a
float64 default would change only some of them: it is refused rather than half applied. Ask for
float64 where it is needed (`dtype=minigrad.float64`, `module.double()`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.device import CPU, device
from minigrad.dtypes import DEFAULT_DTYPE


def set_default_device(device_: Any) -> None:
    """Only "cpu" (or None, PyTorch's reset) is accepted: minigrad computes on the CPU."""
    if device_ is not None:
        device(device_)  # refuses anything but the CPU, naming the device


def get_default_device() -> device:
    return CPU


def set_default_dtype(d: Any) -> None:
    """Only float32, the default already: float64 is refused (see the module's docstring)."""
    if not isinstance(d, type) or not issubclass(d, np.floating):
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the default type, got {d!r}")
    if np.dtype(d) != np.dtype(DEFAULT_DTYPE):
        raise NotImplementedError(f"set_default_dtype: the default dtype is {np.dtype(DEFAULT_DTYPE)}; "
                                  f"{np.dtype(d)} is not supported as the default (pass dtype= or call .double())")


def get_default_dtype() -> type:
    return DEFAULT_DTYPE


__all__ = ["set_default_device", "get_default_device", "set_default_dtype", "get_default_dtype"]
