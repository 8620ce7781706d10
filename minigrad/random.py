"""One random generator for everything minigrad draws (init, dropout, randn), seeded once."""
from __future__ import annotations

import json

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator behind init, dropout and randn: same seed, same model, same run."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator init, dropout and randn draw from."""
    return _generator


def get_rng_state() -> str:
    """The generator's state as a JSON string (fits in a checkpoint without pickle)."""
    return json.dumps(_generator.bit_generator.state)


def set_rng_state(state: str) -> None:
    _generator.bit_generator.state = json.loads(state)
