"""Random generators: `Generator` as torch.Generator, and the default one behind init, dropout and randn.

The draws are NumPy's (PCG64), not PyTorch's (Mersenne Twister): the same distributions and the same
seeding API (`manual_seed`, `seed`, `initial_seed`, `get_state` / `set_state`), other numbers.
"""
from __future__ import annotations

import json
import secrets
from typing import Any

import numpy as np

_SEED_RANGE = (-(2**63), 2**64 - 1)  # what torch.manual_seed accepts; a negative seed wraps modulo 2**64


class Generator:
    """torch.Generator: an independent random stream; Generator().manual_seed(s) gives the same draws every run."""

    def __init__(self, device: Any = "cpu"):
        from minigrad.device import device as as_device

        self.device = as_device(device)  # refuses anything but the CPU
        self.seed()

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from seed (an int in [-2**63, 2**64)); returns the generator itself."""
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__} {seed!r}")
        if not _SEED_RANGE[0] <= seed <= _SEED_RANGE[1]:
            raise ValueError(f"manual_seed: seed {seed} is outside [-2**63, 2**64 - 1], the range PyTorch accepts")
        self._initial_seed = int(seed) % 2**64  # as PyTorch: manual_seed(-1).initial_seed() is 2**64 - 1
        self._rng = np.random.default_rng(self._initial_seed)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        self.manual_seed(secrets.randbits(63))
        return self._initial_seed

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._initial_seed

    def get_state(self) -> Any:
        """The stream's position as a uint8 tensor (NumPy's bit-generator state, JSON-encoded)."""
        from minigrad.tensor import Tensor

        state = {"bit_generator": self._rng.bit_generator.state, "initial_seed": self._initial_seed}
        return Tensor(np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy())

    def set_state(self, new_state: Any) -> Generator:
        """Go back to a position saved by get_state()."""
        array = np.asarray(getattr(new_state, "_data", new_state))
        if array.dtype != np.uint8 or array.ndim != 1:
            raise TypeError(f"set_state: expected the uint8 tensor get_state() returned, got {array.dtype} {array.shape}")
        try:
            state = json.loads(array.tobytes().decode())
            self._rng.bit_generator.state = state["bit_generator"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"set_state: new_state is not a state from a minigrad Generator.get_state() ({err})") from None
        self._initial_seed = state["initial_seed"]
        return self

    def __repr__(self) -> str:
        return f"<minigrad.Generator initial_seed={self._initial_seed}>"


_default = Generator()  # torch.default_generator


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator behind init, dropout and randn: same seed, same model, same run."""
    return _default.manual_seed(seed)


def seed() -> int:
    """Reseed the default generator from the operating system's entropy; returns the seed."""
    return _default.seed()


def initial_seed() -> int:
    """The seed the default generator started from."""
    return _default.initial_seed()


def default_generator() -> np.random.Generator:
    """The NumPy generator init, dropout and randn draw from (fetch it at each call: manual_seed replaces it)."""
    return _default._rng


def numpy_generator(generator: Generator | None, op: str) -> np.random.Generator:
    """The NumPy stream behind `generator=` (the default generator's when None)."""
    if generator is None:
        return _default._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a minigrad.Generator, got {type(generator).__name__}")
    return generator._rng


def get_rng_state() -> str:
    """The default generator's state as a JSON string (fits in a checkpoint without pickle)."""
    return json.dumps(_default._rng.bit_generator.state)


def set_rng_state(state: str) -> None:
    _default._rng.bit_generator.state = json.loads(state)
