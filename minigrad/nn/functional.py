"""`import minigrad.nn.functional as F`, as PyTorch users write: minigrad/functional/'s ops under PyTorch's path.

Nothing is defined here; `torch.*` functions are minigrad/functions.py's."""
from minigrad.functional import *  # noqa: F401,F403
from minigrad.functional import __all__  # noqa: F401
