"""Finite-difference gradient check: does an op's backward agree with its forward?"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from minigrad.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with central differences."""


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Compare backward with central differences of <fn(inputs), v> for a random direction v.

    Every input that requires grad must be float64: float32 differences are too coarse to see
    a real bug. The differences run the very forward that backward differentiates (grad mode on,
    the same reference or kernel mode), and backward starts at fn's output with v, so only fn's
    own ops' backwards run. Raises GradcheckError naming the input and its worst element.
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 (.double())")
        inputs[i].grad = None

    out = fn(*inputs)
    v = np.random.default_rng(seed).standard_normal(out.shape)  # a random upstream gradient
    if out.requires_grad:  # else out is a constant: every analytic gradient is 0
        out.backward(v)  # d<out, v>/d input

    def objective() -> float:
        return float((fn(*inputs)._data * v).sum())  # not under no_grad: some ops skip work there

    for i in checked:
        x = inputs[i]._data
        analytic = inputs[i].grad.numpy() if inputs[i].grad is not None else np.zeros_like(x)
        numeric = np.zeros_like(x)
        for k in np.ndindex(x.shape):  # writes into x itself, whatever its memory layout
            saved = x[k]
            x[k] = saved + eps
            plus = objective()
            x[k] = saved - eps
            minus = objective()
            x[k] = saved
            numeric[k] = (plus - minus) / (2 * eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size and excess.max() > 0:
            k = np.unravel_index(np.argmax(excess), x.shape)
            raise GradcheckError(
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at index {tuple(int(n) for n in k)}: "
                f"backward gives {analytic[k]:.8g}, finite differences give {numeric[k]:.8g} "
                f"(atol={atol}, rtol={rtol}, eps={eps})"
            )
    return True


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """gradcheck of the backward itself, as torch.autograd.gradgradcheck: the function
    (inputs, g) -> d<fn(inputs), g>/d inputs, computed by backward with create_graph=True, is
    differentiated by backward (a second time) and by central differences, with respect to every
    input and to the upstream gradient g (random, float64, requiring grad)."""
    from minigrad import autograd
    from minigrad.ops import Cat, Reshape

    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    out = fn(*inputs)
    g = Tensor(np.random.default_rng(seed + 100).standard_normal(out.shape), requires_grad=True)

    def first_gradients(*args: Tensor) -> Tensor:
        xs, upstream = list(args[:-1]), args[-1]
        grads = autograd.grad(fn(*xs), [xs[i] for i in checked], upstream, create_graph=True, allow_unused=True,
                              materialize_grads=True)
        return Cat.apply(*(Reshape.apply(d, shape=(-1,)) for d in grads), dim=0)  # one output: all of them

    return gradcheck(first_gradients, [*inputs, g], eps=eps, atol=atol, rtol=rtol, seed=seed)
