"""minigrad.accelerator, as torch.accelerator: minigrad computes on the CPU, which is no accelerator.

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"

runs as PyTorch's tutorials write it, and picks the CPU.
"""
from __future__ import annotations

from typing import Any


def is_available() -> bool:
    """Whether an accelerator (a GPU) can be used: never, in minigrad."""
    return False


def current_accelerator(check_available: bool = False) -> Any:
    """The accelerator's device type: None, as PyTorch answers on a machine without one."""
    return None


def device_count() -> int:
    return 0
