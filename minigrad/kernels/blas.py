"""The BLAS's thread count, per calling thread.

The kernels split an op's work across their own threads (minigrad.kernels.parallel); a product
inside a chunk must then run on one BLAS thread, or 2 threads each calling a 2-thread BLAS put 4
threads on 2 cores and everything slows down. OpenBLAS (>= 0.3.27, as NumPy ships it) can set its
thread count for the calling thread only: blas_threads_local(n) does that and restores the old
value afterwards. The count the user's machine chose (OPENBLAS_NUM_THREADS or the core count),
which products outside the kernels use, is never changed. With another BLAS, or none found,
nothing happens.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from functools import lru_cache
from typing import Iterator

import numpy as np


@lru_cache(maxsize=1)
def _openblas() -> tuple | None:
    """(get_num_threads, set_num_threads_local) of the OpenBLAS NumPy loaded, or None."""
    folder = os.path.dirname(os.path.dirname(np.__file__))
    for path in glob.glob(os.path.join(folder, "numpy.libs", "*openblas*")) + glob.glob(
        os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*")
    ):
        try:
            lib = ctypes.CDLL(path)
            getter = next(getattr(lib, n) for n in ("scipy_openblas_get_num_threads64_",
                                                    "scipy_openblas_get_num_threads", "openblas_get_num_threads")
                          if hasattr(lib, n))
            setter = lib.openblas_set_num_threads_local
        except (OSError, AttributeError, StopIteration):
            continue
        getter.restype, setter.restype, setter.argtypes = ctypes.c_int, ctypes.c_int, [ctypes.c_int]
        return getter, setter
    return None


@contextlib.contextmanager
def blas_threads_local(n: int) -> Iterator[None]:
    """In this thread, let BLAS calls use n threads (if the BLAS allows it), then restore."""
    found = _openblas()
    if found is None:
        yield
        return
    previous = found[1](max(1, n))
    try:
        yield
    finally:
        found[1](previous)

