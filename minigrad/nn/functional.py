"""`import minigrad.nn.functional as F`, as PyTorch users write: the same ops as minigrad.functional."""
from minigrad.functional import *  # noqa: F401,F403
from minigrad.functional import __all__  # noqa: F401
