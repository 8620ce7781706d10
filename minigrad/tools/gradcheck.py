"""Finite-difference gradient check: does an op's backward agree with its forward?"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from minigrad.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with central differences."""


def gradcheck(
    func: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare backward with central differences of <func(inputs), v> for a random direction v (PyTorch's
    gradcheck with fast_mode=True: one direction per output, not the whole Jacobian).

    inputs: a Tensor or a sequence (non-Tensors are passed through); func returns a Tensor or a tuple of
    them. Every input that requires grad must be float64: float32 differences are too coarse to see a
    real bug. The differences run the very forward that backward differentiates (grad mode on, the same
    reference or kernel mode), and backward starts at func's outputs with v, so only func's own ops'
    backwards run. Raises GradcheckError naming the input and its worst element (or, with
    raise_exception=False, returns False).
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 (.double())")
    outs = _outputs(func(*inputs))
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(out.shape) for out in outs]  # a random upstream gradient for each output

    def objective() -> float:  # <func(inputs), v>; not under no_grad: some ops skip work there
        return sum(float((out._data * v).sum()) for out, v in zip(_outputs(func(*inputs)), vs))

    wanted = [(out, v) for out, v in zip(outs, vs) if out.requires_grad]  # a constant output: no path to any input
    analytic = [np.zeros_like(inputs[i]._data) for i in checked]
    if wanted:
        from minigrad import autograd

        grads = autograd.grad([o for o, _ in wanted], [inputs[i] for i in checked], [Tensor(v) for _, v in wanted],
                              allow_unused=True)
        analytic = [a if d is None else d.numpy() for a, d in zip(analytic, grads)]
    for i, grad in zip(checked, analytic):
        x = inputs[i]._data
        numeric = np.zeros_like(x)
        for k in np.ndindex(x.shape):  # writes into x itself, whatever its memory layout
            saved = x[k]
            x[k] = saved + eps
            plus = objective()
            x[k] = saved - eps
            minus = objective()
            x[k] = saved
            numeric[k] = (plus - minus) / (2 * eps)
        excess = np.abs(grad - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size and excess.max() > 0:
            if not raise_exception:
                return False
            k = np.unravel_index(np.argmax(excess), x.shape)
            raise GradcheckError(
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at index {tuple(int(n) for n in k)}: "
                f"backward gives {grad[k]:.8g}, finite differences give {numeric[k]:.8g} "
                f"(atol={atol}, rtol={rtol}, eps={eps})"
            )
    return True


def _outputs(out: Any) -> list[Tensor]:
    """func's outputs that are floating-point Tensors (an integer output has no gradient to check)."""
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradgradcheck(
    func: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    grad_outputs: Tensor | Sequence[Tensor] | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """gradcheck of the backward itself, as torch.autograd.gradgradcheck: the function
    (inputs, g) -> d<func(inputs), g>/d inputs, computed by backward with create_graph=True, is
    differentiated by backward (a second time) and by central differences, with respect to every
    input and to the upstream gradients g (given as grad_outputs, else random, float64, requiring grad)."""
    from minigrad import autograd
    from minigrad.ops import Cat, Reshape

    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = [o for o in _outputs(func(*inputs)) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 100)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    else:
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    n = len(inputs)

    def first_gradients(*args: Tensor) -> Tensor:
        xs, upstream = list(args[:n]), list(args[n:])
        outputs = [o for o in _outputs(func(*xs)) if o.requires_grad]
        grads = autograd.grad(outputs, [xs[i] for i in checked], upstream, create_graph=True, allow_unused=True,
                              materialize_grads=True)
        return Cat.apply(*(Reshape.apply(d, shape=(-1,)) for d in grads), dim=0)  # one output: all of them

    return gradcheck(first_gradients, [*inputs, *grad_outputs], eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed)
