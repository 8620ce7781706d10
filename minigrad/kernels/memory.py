"""Keep freed memory for reuse: NumPy training on glibc allocates and frees the same big arrays
at every step.

Each training step allocates and frees the same big arrays (activations, gradients). By default
glibc's malloc gives large freed blocks back to the operating system, so the next step's arrays
arrive as fresh pages, and every fresh 4 KiB page costs a page fault when first written. Asking
malloc to keep freed memory lets the next step reuse it (the README's speed section gives the
figures). The cost: the process keeps its peak memory instead of shrinking between steps.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # the largest value glibc accepts on 64-bit machines


def keep_freed_memory(keep_bytes: int = 1 << 30) -> bool:
    """Ask glibc to serve arrays up to 32 MiB from its heap and to keep up to `keep_bytes` of
    freed memory there; returns False (and does nothing) where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # e.g. musl has no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, keep_bytes))
