"""One random generator for everything minigrad draws (init, dropout, randn), seeded once."""
from __future__ import annotations

import contextlib
import json
import threading
from typing import Iterator

import numpy as np

_generator = np.random.default_rng()
_local = threading.local()  # a thread may draw from its own generator (see fork_rng)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator behind init, dropout and randn: same seed, same model, same run."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator this thread draws from: its fork_rng() generator if any, else the global one."""
    return getattr(_local, "generator", None) or _generator


@contextlib.contextmanager
def fork_rng(seed: int) -> Iterator[np.random.Generator]:
    """In this thread, draw from a generator seeded by `seed` (workers of a data-parallel step
    get reproducible dropout masks whatever order the threads run in)."""
    previous = getattr(_local, "generator", None)
    _local.generator = np.random.default_rng(seed)
    try:
        yield _local.generator
    finally:
        _local.generator = previous


def get_rng_state() -> str:
    """The generator's state as a JSON string (fits in a checkpoint without pickle)."""
    return json.dumps(_generator.bit_generator.state)


def set_rng_state(state: str) -> None:
    _generator.bit_generator.state = json.loads(state)
