"""Intra-op parallelism for the kernels: the chunks of one op's loop, run on every core.

    for_each_chunk(n, grain, body)      # body(slice) for every chunk of range(n), in parallel
    sum_in_order(parts, like)           # the chunks' partial sums, added in chunk order

NumPy and BLAS release the GIL inside their loops, so Python threads that each run NumPy on
their own chunk keep all cores busy. The chunks of range(n) depend on n and `grain` only, never
on the number of threads or on timing, and each chunk's BLAS calls run on one thread, so an op
gives the same bits whatever the thread count; a kernel that reduces over chunks adds the
partial results in chunk order. A chunk is sized to stay in the CPU's caches through all the
passes an op makes over it, and so that each NumPy call in it runs long: a thread that waits
for the GIL, or for the next op's chunks, sleeps, and waking it can take as long as a pass of
cheap arithmetic over a whole chunk, or longer (examples/benchmark.py measures both).

The pool has get_num_threads() - 1 worker threads; the calling thread works too. While it lives,
OpenBLAS runs on one thread in the whole process (minigrad.kernels.blas says why); stopping it
(set_num_threads) gives the count back. A call made while the pool is busy (from another thread)
or from inside a chunk runs its chunks in order, in the calling thread: the same result, on one
core.
"""
from __future__ import annotations

import itertools
import os
import threading
from typing import Any, Callable

import numpy as np

from minigrad.kernels import blas, memory

MAX_CHUNKS = 256  # more would only add per-chunk overhead
CHUNK = 1 << 18  # elements per chunk (1 MiB of float32): an op's passes over it mostly hit L2/L3, and
# each NumPy call is long enough that its fixed cost, and handing the GIL between threads, cost little
# (smaller chunks made the tiny ViT's steps slower, larger ones no faster: examples/BENCHMARK.md)


def _default_threads() -> int:
    """OMP_NUM_THREADS if set (as PyTorch reads it), else the cores this process may use."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


_num_threads = _default_threads()
_local = threading.local()  # .inside: this thread is running a chunk


def get_num_threads() -> int:
    """Threads the kernels use (the calling thread included)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use n threads for the kernels from now on (as torch.set_num_threads); 1 runs everything inline."""
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive integer, got {n!r}")
    if n != _num_threads:
        _num_threads = n
        if _pool is not None:
            _pool.stop()
        _pool = None


def chunks(n: int, grain: int) -> list[slice]:
    """range(n) in ceil(n / grain) consecutive pieces (at most MAX_CHUNKS) of equal size, give or take one:
    no short last piece that leaves a thread idle while another finishes a whole one."""
    count = min(MAX_CHUNKS, -(-n // max(1, grain)))
    if count == 0:
        return []
    size, longer = divmod(n, count)  # the first `longer` pieces get one element more
    bounds = [i * size + min(i, longer) for i in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def rows_per_chunk(row_size: int) -> int:
    """Rows of `row_size` elements per chunk: about CHUNK elements, at least one row."""
    return max(1, CHUNK // max(1, row_size))


def sum_in_order(parts: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    """The chunks' partial sums added in chunk order (the same bits for any thread count), in like's shape."""
    total = np.zeros(like.shape, dtype=like.dtype)
    for part in parts:
        total += part.reshape(like.shape)
    return total


def for_each_chunk(n: int, grain: int, body: Callable[[slice], Any]) -> list[Any]:
    """[body(c) for c in chunks(n, grain)], the chunks spread over the pool's threads."""
    memory.tune_once()  # the first kernel op of the process tunes malloc (minigrad.kernels.memory says why)
    pieces = chunks(n, grain)
    if getattr(_local, "inside", False):  # a chunk of another op: already on one BLAS thread
        return [body(c) for c in pieces]
    if len(pieces) <= 1 or _num_threads == 1:
        with blas.one_blas_thread():  # the same products as in the pool, and no BLAS threads woken
            return [body(c) for c in pieces]
    pool = _get_pool()
    if not pool.lock.acquire(blocking=False):  # another thread's op is using the pool
        with blas.one_blas_thread():
            return [body(c) for c in pieces]
    try:
        return pool.run(body, pieces)
    finally:
        pool.lock.release()


class _Job:
    """One call of for_each_chunk: threads take the next chunk index until none is left."""

    def __init__(self, body: Callable[[slice], Any], pieces: list[slice]):
        self.body, self.pieces = body, pieces
        self.results: list[Any] = [None] * len(pieces)
        self.next = itertools.count()  # next() is atomic under the GIL
        self.left = len(pieces)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def work(self) -> None:
        _local.inside = True
        try:
            while (i := next(self.next)) < len(self.pieces):
                try:
                    if self.error is None:
                        self.results[i] = self.body(self.pieces[i])
                except BaseException as err:  # noqa: BLE001 - re-raised in the calling thread
                    self.error = err
                with self.lock:
                    self.left -= 1
                    if self.left == 0:
                        self.done.set()
        finally:
            _local.inside = False


class _Pool:
    def __init__(self, workers: int):
        self.lock = threading.Lock()  # held by the thread whose op runs on the pool
        self._wake = threading.Condition()
        self._job: _Job | None = None
        self._generation = 0
        self._stopped = False
        self._threads = [threading.Thread(target=self._serve, daemon=True, name=f"minigrad-kernel-{i + 1}")
                         for i in range(workers)]
        blas.hold()  # BLAS on one thread while the pool lives: its threads would spin on the pool's cores
        for t in self._threads:
            t.start()

    def run(self, body: Callable[[slice], Any], pieces: list[slice]) -> list[Any]:
        job = _Job(body, pieces)
        with self._wake:
            self._job, self._generation = job, self._generation + 1
            self._wake.notify_all()
        job.work()  # every chunk's products on one BLAS thread, its share of the cores: the pool holds it
        job.done.wait()
        with self._wake:
            self._job = None
        if job.error is not None:
            raise job.error
        return job.results

    def _serve(self) -> None:
        seen = 0
        while True:
            with self._wake:
                while self._generation == seen and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                seen, job = self._generation, self._job
            if job is not None:
                job.work()

    def stop(self) -> None:
        with self._wake:
            if self._stopped:
                return
            self._stopped = True
            self._wake.notify_all()
        blas.release()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool(_num_threads - 1)
        return _pool


def _forget_pool_after_fork() -> None:
    global _pool, _pool_lock
    if _pool is not None:
        blas.release()  # the parent's pool's hold: the child starts as the parent did before its pool
    _pool, _pool_lock = None, threading.Lock()  # the child has none of the parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)
