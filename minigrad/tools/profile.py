"""Where the time goes: seconds spent inside each op's forward and backward.

    with minigrad.tools.profile.ops() as prof:
        loss = model(x)...; loss.backward()
    print(prof.table())

Every Function's forward and backward (and every kernel's, marked `[kernel]`)
is timed while the block runs, from the moment it is called until it
returns: the time outside them (Python, the optimizer, data) is the rest of the step.
"""
from __future__ import annotations

import collections
import time
from typing import Any, Callable, Iterator

from minigrad import engine


def _functions() -> Iterator[type]:
    """Every Function subclass, and every kernel registered for one."""
    todo, seen = [engine.Function], set()
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
                yield sub
    yield from engine._kernels.values()


class OpProfile:
    """Context manager: times every forward and backward while it is open."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: collections.Counter = collections.Counter()
        self._patched: list[tuple[type, str, Any]] = []
        self._depth = 0  # > 0 inside a timed call: a kernel calling its reference is timed once

    def _wrap(self, cls: type, method: str, label: str) -> None:
        original = cls.__dict__[method]
        fn = original.__func__ if isinstance(original, staticmethod) else original

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1
                self._depth -= 1

        setattr(cls, method, staticmethod(timed))
        self._patched.append((cls, method, original))

    def __enter__(self) -> OpProfile:
        for cls in list(_functions()):
            reference = getattr(cls, "replaces", None)
            name = f"{reference.__name__} [kernel]" if reference is not None else cls.__name__
            for method in ("forward", "backward"):
                if method in cls.__dict__:
                    self._wrap(cls, method, f"{name}.{method}")
        return self

    def __exit__(self, *exc: Any) -> None:
        for cls, method, original in reversed(self._patched):
            setattr(cls, method, original)
        self._patched.clear()

    def table(self, per: int = 1, total: float | None = None) -> str:
        """One line per op (slowest first): ms per `per` (e.g. per step) and calls; `total` adds the rest."""
        lines = [f"{'op':<48}{'ms':>9}{'calls':>7}"]
        inside = 0.0
        for label, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            inside += seconds
            lines.append(f"{label:<48}{1e3 * seconds / per:>9.2f}{self.calls[label] // per:>7}")
        lines.append(f"{'inside ops':<48}{1e3 * inside / per:>9.2f}")
        if total is not None:
            lines.append(f"{'outside ops (Python, optimizer, ...)':<48}{1e3 * (total - inside) / per:>9.2f}")
        return "\n".join(lines)


def ops() -> OpProfile:
    """Time every op's forward and backward inside the block (see the module docstring)."""
    return OpProfile()


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, OpProfile]:
    """Run fn `repeats` times under a profile -> (seconds in all, the profile)."""
    with ops() as prof:
        started = time.perf_counter()
        for _ in range(repeats):
            fn()
        return time.perf_counter() - started, prof
