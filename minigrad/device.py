"""Devices with PyTorch's names: minigrad computes with NumPy, on the CPU only.

`device("cpu")`, `tensor.to("cpu")`, `.cpu()` and `module.to(device)` are accepted so that
PyTorch code runs unchanged; any other device ("cuda", "mps", ...) is refused with a message,
and `minigrad.cuda.is_available()` / `minigrad.backends.mps.is_available()` answer False, so the
usual `"cuda" if torch.cuda.is_available() else "cpu"` picks the CPU.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np


class device:  # noqa: N801  (lowercase, as torch.device)
    """torch.device: only device("cpu") (or "cpu:0") exists here."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None):  # noqa: A002  (torch's argument name)
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        name, _, number = str(type).partition(":")
        if name != "cpu":
            raise RuntimeError(f"device: minigrad computes on the CPU only (with NumPy), so device {str(type)!r} "
                               "is not available; use 'cpu'")
        self.type, self.index = "cpu", int(number) if number else index

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


CPU = device("cpu")


def _is_available() -> bool:
    return False


def _device_count() -> int:
    return 0


# torch.cuda and torch.backends.mps, as far as "is there such a device?" goes: there is not.
cuda = SimpleNamespace(is_available=_is_available, device_count=_device_count)
backends = SimpleNamespace(mps=SimpleNamespace(is_available=_is_available, is_built=_is_available))


def refuse_gpu(op: str) -> None:
    raise RuntimeError(f"{op}: minigrad computes on the CPU only (with NumPy); there is no GPU to move to")


def _is_dtype(value: Any) -> bool:
    """np.float32, np.dtype("int64"), Python's float / int / bool: what `.to(...)` takes as a dtype."""
    if isinstance(value, np.dtype):
        return True
    return isinstance(value, type) and (issubclass(value, np.generic) or value in (float, int, bool))


def to_args(op: str, args: tuple, kwargs: dict) -> tuple[np.dtype | None, bool]:
    """Parse `.to(...)` as PyTorch does: to(dtype), to(device[, dtype]), to(tensor), with keywords
    device=, dtype=, non_blocking=, copy=, memory_format=. Returns (dtype or None, copy)."""
    from minigrad.tensor import Tensor

    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{op}: unexpected keyword argument(s) {sorted(unknown)}")
    dtype = kwargs.get("dtype")
    if "device" in kwargs and kwargs["device"] is not None:
        device(kwargs["device"])  # raises for anything but the CPU
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):  # to(other): other's dtype (and device)
        dtype = rest.pop(0).dtype
    elif rest and not _is_dtype(rest[0]) and rest[0] is not None:
        device(rest.pop(0))
    if rest and _is_dtype(rest[0]):
        dtype = rest.pop(0)
    if rest and isinstance(rest[0], bool):  # the positional non_blocking, then copy
        rest.pop(0)
        if rest and isinstance(rest[0], bool):
            kwargs = {**kwargs, "copy": rest.pop(0)}
    if rest:
        raise TypeError(f"{op}: cannot read the arguments {args!r} as (device, dtype, non_blocking, copy)")
    return (None if dtype is None else np.dtype(dtype)), bool(kwargs.get("copy", False))
