"""minigrad.kernels: the fast implementations, behind one seam.

A kernel has the contract of the reference `Function` it replaces: `forward(ctx, *arrays, **kwargs)`
and `backward(ctx, grad)` with the same Context, inputs, outputs and errors. It is registered
against that Function with `@replaces(...)`, and `Function.apply` runs it unless
`minigrad.reference()` is on. Everything done only for speed lives here: in-place `out=`
arithmetic, cache-sized chunks, contiguous layouts for BLAS, skipping what no backward will read
under no_grad, splitting an op's loop across the cores
(`parallel`: `minigrad.set_num_threads`), and the process tuning (`blas`: OpenBLAS on one thread
while the pool lives, `memory`: malloc keeps freed memory, from the first kernel op on).
tests/test_kernels.py checks every kernel against its reference.

Not on the learner's reading path: the formulas are in minigrad/ops and minigrad/functional.
"""
from minigrad.kernels.parallel import get_num_threads, set_num_threads
from minigrad.kernels.registry import registered, replaces
from minigrad.kernels import activation, attention, dropout, elementwise, linear, normalization  # noqa: F401  (they register)

__all__ = ["registered", "replaces", "get_num_threads", "set_num_threads"]
