"""How a kernel declares which reference Function it replaces."""
from __future__ import annotations

from typing import Any, Callable

from minigrad import engine


def replaces(function: type[engine.Function]) -> Callable[[type], type]:
    """Class decorator: this kernel (forward(ctx, ...) / backward(ctx, grad), as `function`'s) runs
    in its place outside minigrad.reference()."""
    def register(kernel: type) -> type:
        kernel.replaces = function
        engine.register_kernel(function, kernel)
        return kernel
    return register


def registered() -> dict[type[engine.Function], Any]:
    """Every reference Function that has a kernel -> its kernel."""
    return dict(engine._kernels)
