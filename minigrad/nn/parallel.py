"""Data parallelism on one machine: split a batch across threads, add up the gradients.

NumPy and BLAS release the GIL inside their loops, so Python threads that each run forward and
backward on a slice of the batch keep several cores busy. Each worker thread uses a replica of
the model whose Parameters share the model's arrays (no copy, so optimizer updates reach every
replica) but own their `.grad`. With the loss of shard k weighted by n_k / N,

    dL/dw = sum_k (n_k / N) dL_k/dw,

the summed gradient equals that of one backward over the whole batch, up to float rounding.
Each worker's BLAS calls use its share of the machine's BLAS threads (minigrad.kernels.blas), so
2 workers on 2 cores run 2 threads, not 4.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from minigrad.engine import no_grad
from minigrad.nn.module import Module
from minigrad.random import default_generator, fork_rng
from minigrad.tensor import Tensor

LossFn = Callable[[Module, np.ndarray, np.ndarray], Tensor]  # (model, x, y) -> scalar mean loss
PREDICT_MICRO_BATCH = 64  # examples per forward in predict (measured for the tutorial's ViT: see predict)


class DataParallel:
    """Run `loss_fn` on `workers` shards of each batch in parallel threads; sum the gradients."""

    def __init__(self, model: Module, workers: int = 2):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"DataParallel: workers must be a positive integer, got {workers!r}")
        self.model, self.workers = model, workers
        self._replicas: list[Module] = []
        self._pool = ThreadPoolExecutor(max_workers=workers - 1) if workers > 1 else None

    def forward_backward(self, loss_fn: LossFn, x: np.ndarray, y: np.ndarray) -> float:
        """Accumulate d loss / d params into the model's `.grad`; return the batch's mean loss.

        With workers > 1 each shard draws its dropout masks from its own generator, seeded from
        minigrad's generator, so a run is reproducible for a given seed and worker count.
        """
        if self.workers == 1 or len(y) < self.workers:
            loss = loss_fn(self.model, x, y)
            loss.backward()
            return loss.item()
        models = [self.model, *self._fresh_replicas()]
        shards = np.array_split(np.arange(len(y)), self.workers)
        seeds = default_generator().integers(0, 2**63, size=self.workers)
        jobs = [(m, x[s], y[s], len(s) / len(y), int(seed)) for m, s, seed in zip(models, shards, seeds)]
        futures = [self._pool.submit(_shard_backward, loss_fn, *job, self.workers) for job in jobs[1:]]
        losses = [_shard_backward(loss_fn, *jobs[0], self.workers)] + [f.result() for f in futures]
        for replica in models[1:]:  # add the replicas' gradients into the model's
            for p, rp in zip(self.model.parameters(), replica.parameters()):
                if rp.grad is not None:
                    p.grad = rp.grad if p.grad is None else np.add(p.grad, rp.grad, out=p.grad)
                    rp.grad = None
        return float(sum(losses))

    def predict(self, forward: Callable[[Module, np.ndarray], np.ndarray], x: np.ndarray,
                micro_batch: int | None = PREDICT_MICRO_BATCH) -> np.ndarray:
        """forward(model, shard) -> array, run on `workers` shards in parallel, concatenated.

        Each worker feeds its shard to `forward` `micro_batch` examples at a time (None: all at
        once): without a backward to feed, nothing needs the whole batch's activations at once,
        and a small batch's activations stay in the CPU cache from one layer to the next.
        """
        if micro_batch is not None and (not isinstance(micro_batch, int) or micro_batch < 1):
            raise ValueError(f"DataParallel.predict: micro_batch must be a positive integer or None, got {micro_batch!r}")
        with no_grad():
            if self.workers == 1 or len(x) < self.workers:
                return _no_grad_call(forward, self.model, x, 1, micro_batch)
            models = [self.model, *self._fresh_replicas()]
            shards = np.array_split(x, self.workers)
            futures = [self._pool.submit(_no_grad_call, forward, m, s, self.workers, micro_batch)
                       for m, s in zip(models[1:], shards[1:])]
            first = _no_grad_call(forward, models[0], shards[0], self.workers, micro_batch)
            return np.concatenate([first] + [f.result() for f in futures])

    def _fresh_replicas(self) -> list[Module]:
        """Replicas sharing the model's parameter arrays, rebuilt if those arrays were replaced."""
        params = list(self.model.parameters())
        stale = any(
            len(list(r.parameters())) != len(params)
            or any(rp.data is not p.data for p, rp in zip(params, r.parameters()))
            for r in self._replicas
        )
        if stale or len(self._replicas) != self.workers - 1:
            memo = {id(p.data): p.data for p in params}  # deepcopy shares these arrays
            self._replicas = [copy.deepcopy(self.model, memo.copy()) for _ in range(self.workers - 1)]
            for r in self._replicas:
                for p in r.parameters():
                    p.grad = None
        for r in self._replicas:  # follow train()/eval() of the model
            r.train(self.model.training)
        return self._replicas

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


def _shard_backward(loss_fn: LossFn, model: Module, x: np.ndarray, y: np.ndarray, weight: float, seed: int,
                    workers: int) -> float:
    from minigrad.kernels.blas import blas_threads_per_worker

    with fork_rng(seed), blas_threads_per_worker(workers):
        loss = loss_fn(model, x, y)
        loss.backward(np.asarray(weight, dtype=loss.dtype))  # d(weight * loss): shard's share of the mean
    return weight * loss.item()


def _no_grad_call(forward: Callable[[Module, np.ndarray], np.ndarray], model: Module, x: np.ndarray,
                  workers: int, micro_batch: int | None = None) -> np.ndarray:
    from minigrad.kernels.blas import blas_threads_per_worker

    with no_grad(), blas_threads_per_worker(workers):  # grad mode is per thread: each worker sets its own
        if micro_batch is None or len(x) <= micro_batch:
            return forward(model, x)
        return np.concatenate([forward(model, x[i:i + micro_batch]) for i in range(0, len(x), micro_batch)])
