"""Share the machine's BLAS threads between data-parallel workers, per thread.

Two Python threads that each call a BLAS using 2 threads put 4 threads on 2 cores, and the
matrix products slow down instead of speeding up (measured here: 563 img/s against 1016 when
each worker's BLAS uses 1 thread). OpenBLAS (>= 0.3.27, as NumPy ships it) can set its thread
count for the calling thread only; a worker uses its share, budget // workers, and restores the
old value afterwards. The budget itself, the count the user's machine chose (OPENBLAS_NUM_THREADS
or the core count), is never changed. With another BLAS, or none found, nothing happens.
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


def blas_threads() -> int | None:
    """How many threads a BLAS call made from this thread uses, if minigrad can tell."""
    found = _openblas()
    return found[0]() if found else None


@contextlib.contextmanager
def blas_threads_per_worker(workers: int) -> Iterator[None]:
    """In this thread, let BLAS use its share (>= 1) of the machine's threads among `workers`."""
    found, budget = _openblas(), blas_threads()
    if found is None or budget is None or workers <= 1:
        yield
        return
    previous = found[1](max(1, budget // workers))
    try:
        yield
    finally:
        found[1](previous)
