"""Keep freed memory for reuse: NumPy training on glibc allocates and frees the same big arrays
at every step.

Each step allocates and frees the same big arrays (activations, gradients). By default glibc's
malloc gives large freed blocks back to the operating system, so the next step's arrays arrive as
fresh pages, and every fresh 4 KiB page costs a page fault when first written. Asking malloc to
keep freed memory lets the next step reuse it: the tiny ViT's steps then take about three quarters
of the time, with tens of thousands fewer page faults each (examples/BENCHMARK.md has the figures).
The cost: the process keeps its peak memory instead of shrinking between steps.

The kernels ask for it before their first op (`tune_once`, from minigrad.kernels.parallel), so a
user's own loop gets it; reference mode, which runs no kernel, leaves malloc alone. So does a process
whose environment sets malloc's thresholds itself (glibc's MALLOC_MMAP_THRESHOLD_,
MALLOC_TRIM_THRESHOLD_, or GLIBC_TUNABLES) or says MINIGRAD_KEEP_FREED_MEMORY=0.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import Mapping

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # the largest value glibc accepts on 64-bit machines
OPT_OUT = "MINIGRAD_KEEP_FREED_MEMORY"  # "0": leave malloc as it is

_asked = False  # tune_once has run in this process (a forked child inherits both the flag and malloc's settings)


def keep_freed_memory(keep_bytes: int = 1 << 30) -> bool:
    """Ask glibc to serve arrays up to 32 MiB from its heap and to keep up to `keep_bytes` of
    freed memory there; returns False (and does nothing) where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols, libc's among them (no ldconfig run)
    except (OSError, AttributeError):  # e.g. a libc without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, keep_bytes))


def user_chose(environ: Mapping[str, str]) -> bool:
    """The environment already decides malloc's thresholds, or opts out of ours."""
    tunables = environ.get("GLIBC_TUNABLES", "")
    return (environ.get(OPT_OUT) == "0" or "MALLOC_MMAP_THRESHOLD_" in environ or "MALLOC_TRIM_THRESHOLD_" in environ
            or "glibc.malloc.mmap_threshold" in tunables or "glibc.malloc.trim_threshold" in tunables)


def tune_once() -> None:
    """keep_freed_memory() the first time it is called in this process, unless the environment chose."""
    global _asked
    if not _asked:
        _asked = True
        if not user_chose(os.environ):
            keep_freed_memory()
