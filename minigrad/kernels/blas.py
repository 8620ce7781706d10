"""The BLAS's thread count while the kernels run.

The kernels split an op's work across their own threads (minigrad.kernels.parallel); a product
inside a chunk must then run on one BLAS thread, or 2 threads each calling a 2-thread BLAS put 4
threads on 2 cores and everything slows down, and a product's bits would depend on how many
threads it ran on. OpenBLAS's thread count is one setting for the whole process (its
openblas_set_num_threads_local sets the same global count; it only returns the old one), so
one_blas_thread() holds it at 1 while any thread runs kernel chunks, and gives the count back as
it was (the user's OPENBLAS_NUM_THREADS, or the core count) when the last one leaves: products
outside the kernels (reference mode, a user's own NumPy) run as the user's machine chose. With
another BLAS, or none found, nothing happens.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading
from functools import lru_cache
from typing import Iterator

import numpy as np


@lru_cache(maxsize=1)
def _openblas() -> tuple | None:
    """(get_num_threads, set_num_threads) of the OpenBLAS NumPy loaded, or None."""
    folder = os.path.dirname(os.path.dirname(np.__file__))
    for path in glob.glob(os.path.join(folder, "numpy.libs", "*openblas*")) + glob.glob(
        os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*")
    ):
        try:
            lib = ctypes.CDLL(path)
            getter, setter = (next(getattr(lib, prefix + name + suffix)
                                   for prefix in ("scipy_", "") for suffix in ("64_", "")
                                   if hasattr(lib, prefix + name + suffix))
                              for name in ("openblas_get_num_threads", "openblas_set_num_threads"))
        except (OSError, StopIteration):
            continue
        getter.restype, setter.restype, setter.argtypes = ctypes.c_int, None, [ctypes.c_int]
        return getter, setter
    return None


_lock = threading.Lock()
_holders = 0  # threads inside one_blas_thread()
_saved = 0  # the count to give back when the last one leaves


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread (process-wide) until every thread that asked for it has left."""
    global _holders, _saved
    found = _openblas()
    if found is None:
        yield
        return
    get, set_ = found
    with _lock:
        if _holders == 0:
            _saved = get()
            if _saved != 1:
                set_(1)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved != 1:
                set_(_saved)
