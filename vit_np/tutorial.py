"""The tutorial's code on a framework: `load("minigrad")` or `load("torch")` runs vit_np/tutorial_code.py
with the tutorial's three imports (`torch`, `nn`, `optim`) bound to that framework.

Each call runs the code afresh (its post's cells build a model and an optimizer, and print the device and
the parameter count) and returns it as a module. The framework is imported here, on demand: vit_np needs
NumPy only, and loading on minigrad needs no torch.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

SOURCE = Path(__file__).with_name("tutorial_code.py")
FRAMEWORKS = {  # the tutorial's `import torch`, `from torch import nn`, `import torch.optim as optim`, per framework
    "torch": ("torch", "torch.nn", "torch.optim"),
    "minigrad": ("minigrad", "minigrad.nn", "minigrad.optim"),
}


def load(framework: str) -> ModuleType:
    """Execute the tutorial's source with `torch`, `nn`, `optim` bound to the framework's modules."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"load: framework must be one of {sorted(FRAMEWORKS)}, got {framework!r}")
    torch, nn, optim = (importlib.import_module(name) for name in FRAMEWORKS[framework])
    spec = importlib.util.spec_from_file_location(f"tutorial_code_{framework}", SOURCE)
    module = importlib.util.module_from_spec(spec)
    # tqdm: the post's progress bar, a pass-through here
    module.__dict__.update(torch=torch, nn=nn, optim=optim, tqdm=lambda iterable, desc=None: iterable)
    spec.loader.exec_module(module)
    return module
