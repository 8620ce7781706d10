"""Recording on or off (no_grad, enable_grad, set_grad_enabled) and reference mode on or off (reference(),
MINIGRAD_REFERENCE=1): the switches Function.apply and backward read, per thread as in PyTorch."""
from __future__ import annotations

import contextlib
import functools
import os
import threading
from typing import Any, Callable, Iterator


_mode = threading.local()  # per thread, as in PyTorch: one thread's no_grad() leaves others alone


def is_grad_enabled() -> bool:
    return getattr(_mode, "grad_enabled", True)


class set_grad_enabled:
    """Recording on or off, as a call (`set_grad_enabled(False)`) or a `with` block."""

    def __init__(self, mode: bool) -> None:
        self.previous = is_grad_enabled()
        _mode.grad_enabled = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        _mode.grad_enabled = self.previous


class _GradMode:
    """no_grad() / enable_grad(): a `with` block, or a decorator of a function."""

    enabled = True

    def __init__(self) -> None:
        self._previous: list[bool] = []  # a stack: one block object may be entered again inside itself

    def __enter__(self) -> None:
        self._previous.append(is_grad_enabled())
        _mode.grad_enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        _mode.grad_enabled = self._previous.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Inside this block nothing is recorded: outputs have no graph and never require grad."""

    enabled = False


class enable_grad(_GradMode):
    """Record again inside a no_grad() block."""

    enabled = True


# MINIGRAD_REFERENCE=1 in the environment: reference mode from the first op, in every thread (so that
# `python -m pdb script.py` steps into the formulas from the start).
_REFERENCE_BY_DEFAULT = os.environ.get("MINIGRAD_REFERENCE", "0").strip().lower() not in ("", "0", "false", "no")


def is_reference_mode() -> bool:
    return getattr(_mode, "reference", _REFERENCE_BY_DEFAULT)


@contextlib.contextmanager
def reference() -> Iterator[None]:
    """Inside this block (in this thread) every op runs its reference Function, never a kernel: forward, and
    backward too (a node a kernel recorded earlier is recomputed by its reference Function first)."""
    previous = is_reference_mode()
    _mode.reference = True
    try:
        yield
    finally:
        _mode.reference = previous
