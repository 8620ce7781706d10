"""The BLAS's thread count while the kernels run.

The kernels split an op's work across their own threads (minigrad.kernels.parallel); a product
inside a chunk must then run on one BLAS thread, or 2 threads each calling a 2-thread BLAS put 4
threads on 2 cores, and a product's bits would depend on how many threads it ran on. OpenBLAS's
thread count is one setting for the whole process (its openblas_set_num_threads_local sets the
same global count; it only returns the old one). And a product that does run threaded outside
the chunks (a MatMul's backward, a gradient norm, a user's own NumPy) wakes OpenBLAS's own
threads, which then spin for up to ~0.1 s waiting for more work, on the cores the kernels' pool
needs (the fast-cpu recipe's gradient clipping made a step about a third slower that way).

So minigrad holds OpenBLAS at one thread while it runs in parallel, as torch.set_num_threads
governs PyTorch's own BLAS: the kernels' pool holds it from its start until it stops
(minigrad.set_num_threads), and a chunk run outside the pool holds it while it runs. When the
last holder lets go, the count is back as it was (the user's OPENBLAS_NUM_THREADS, or the core
count). With another BLAS, or none found, nothing happens.
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
_holders = 0  # the pool, and threads inside one_blas_thread()
_saved = 0  # the count to give back when the last one lets go


def hold() -> None:
    """One more holder of BLAS on one thread (process-wide); the first saves the count it finds."""
    global _holders, _saved
    found = _openblas()
    with _lock:
        if _holders == 0 and found is not None:
            _saved = found[0]()
            if _saved != 1:
                found[1](1)
        _holders += 1


def release() -> None:
    """One holder fewer; the last gives back the count the first found."""
    global _holders
    found = _openblas()
    with _lock:
        _holders -= 1
        if _holders == 0 and found is not None and _saved != 1:
            found[1](_saved)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread (process-wide) while this runs, and while any other holder holds it."""
    hold()
    try:
        yield
    finally:
        release()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
