"""The autograd engine: how an op records itself, and how backward() walks the graph.

Read this file top to bottom; it is the whole of reverse-mode autodiff in minigrad.

1. An op is a `Function` subclass with two static methods side by side:
       forward(ctx, *arrays, **kwargs) -> array       (NumPy in, NumPy out)
       backward(ctx, grad) -> one gradient per input   (dL/d input, given dL/d output)
2. `Function.apply(*tensors)` runs forward and, if any input needs a gradient, stores a
   `Context` on the output tensor: the op, its input tensors, and what forward saved.
   Those contexts, linked through their inputs, *are* the computation graph.
3. `backward(root)` sorts the graph topologically (iteratively: deep graphs are fine),
   then visits nodes from the root back to the leaves, calling each op's backward and
   adding (+=, never =) the results into its inputs' gradients.

The Functions in minigrad/ops and minigrad/functional are the reference: the textbook formulas.
An op may also have a kernel (minigrad/kernels): the same forward/backward contract, written for
speed. `Function.apply` is the one place that picks between them; inside `with minigrad.reference():`
every op runs its reference formulas, which is what a learner reads and steps into.

Which tensors keep `.grad`: leaves that require grad (parameters and inputs you created with
requires_grad=True), plus any non-leaf on which you called `.retain_grad()`. Gradients of
intermediate tensors are freed as soon as they have been passed on, and, unless
`retain_graph=True`, so is the graph itself (the contexts and every array they saved).
"""
from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

if TYPE_CHECKING:
    from minigrad.tensor import Tensor

# ----------------------------------------------------------------------------------------------
# Recording on/off
# ----------------------------------------------------------------------------------------------

_mode = threading.local()  # per thread, as in PyTorch: one thread's no_grad() leaves others alone


def is_grad_enabled() -> bool:
    return getattr(_mode, "grad_enabled", True)


@contextlib.contextmanager
def _set_grad_enabled(enabled: bool) -> Iterator[None]:
    previous = is_grad_enabled()
    _mode.grad_enabled = enabled
    try:
        yield
    finally:
        _mode.grad_enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Inside this block nothing is recorded: outputs have no graph and never require grad."""
    return _set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Record again inside a no_grad() block."""
    return _set_grad_enabled(True)


def is_reference_mode() -> bool:
    return getattr(_mode, "reference", False)


@contextlib.contextmanager
def reference() -> Iterator[None]:
    """Inside this block (in this thread) every op runs its reference Function, never a kernel."""
    previous = is_reference_mode()
    _mode.reference = True
    try:
        yield
    finally:
        _mode.reference = previous


# ----------------------------------------------------------------------------------------------
# A node of the graph, and the op base class
# ----------------------------------------------------------------------------------------------


class Context:
    """What one op call remembers for its backward: the op, its inputs, and saved arrays."""

    __slots__ = ("fn", "impl", "inputs", "needs_input_grad", "saved_tensors", "released", "new_gradients",
                 "__dict__")

    def __init__(self, fn: type[Function], inputs: tuple[Tensor, ...], impl: Any = None):
        self.fn = fn  # the Function subclass, e.g. Mul
        self.impl = impl  # whose forward ran, and so whose backward must run: fn or its kernel (apply passes it)
        self.inputs = inputs  # the input Tensors (the edges of the graph)
        # Which inputs backward must give a gradient; all False under no_grad (no backward can follow).
        grad_enabled = is_grad_enabled()
        self.needs_input_grad = tuple(grad_enabled and t.requires_grad for t in inputs)
        self.saved_tensors: tuple = ()
        self.released = False  # set once backward has freed this node
        # Set by a backward whose gradients are new arrays that nothing else holds (no view of grad,
        # of a saved array or of each other): the engine may then add another gradient into one in place.
        self.new_gradients = False

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    def release(self) -> None:
        """Drop everything this node holds, so its arrays can be freed."""
        self.inputs = ()
        self.saved_tensors = ()
        self.__dict__.clear()
        self.released = True


class Function:
    """Base class of every op. Subclasses define `forward` and `backward` as static methods."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        """Run forward on the inputs' arrays; record a graph node if a gradient is needed."""
        from minigrad.tensor import Tensor

        impl = cls if is_reference_mode() else _kernels.get(cls, cls)  # the only place that chooses
        ctx = Context(cls, inputs, impl)
        out = impl.forward(ctx, *(t.data for t in inputs), **kwargs)
        needs_grad = any(ctx.needs_input_grad) and out.dtype.kind == "f"
        result = Tensor._from_op(out, requires_grad=needs_grad)
        if needs_grad:
            result._ctx = ctx
        return result


# A kernel replaces a reference Function outside reference mode: reference Function -> kernel.
# minigrad.kernels fills this table when it is imported (see minigrad/kernels/__init__.py).
_kernels: dict[type[Function], Any] = {}


def register_kernel(function: type[Function], kernel: Any) -> None:
    """Run `kernel.forward` / `kernel.backward` for `function` outside reference mode."""
    _kernels[function] = kernel


# ----------------------------------------------------------------------------------------------
# Broadcasting, undone once for every op
# ----------------------------------------------------------------------------------------------


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape`: the reverse of NumPy broadcasting `shape` up to grad.shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)  # dimensions that broadcasting prepended
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


# ----------------------------------------------------------------------------------------------
# backward(): topological sort + reverse loop
# ----------------------------------------------------------------------------------------------


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that `root` depends on (and that requires grad), inputs before outputs.

    An iterative depth-first search: a tensor is appended only after all of its inputs,
    so a chain of 100,000 ops needs no recursion.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))  # revisit after its inputs
        if tensor._ctx is not None:
            for parent in tensor._ctx.inputs:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


# Functions called at every node backward visits, as tracer(ctx, output, grad, input_grads):
# minigrad.trace() registers one to print backprop op by op. Empty: no cost.
tracers: list[Callable[[Context, Tensor, np.ndarray, tuple], None]] = []


def backward(root: Tensor, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate d(root)/d(root) = `grad` back to every leaf, accumulating into `.grad`."""
    grads: dict[int, np.ndarray] = {id(root): grad}  # gradient waiting at each tensor
    owned: set[int] = set()  # grads[i] is a buffer only we hold, safe to add into in place
    for tensor in reversed(topological_order(root)):
        g = grads.pop(id(tensor), None)
        if g is None:  # nothing flowed here (e.g. the op returned None for this input)
            continue
        ctx = tensor._ctx
        if ctx is None or tensor._retains_grad:
            _accumulate_into_grad(tensor, g)
        if ctx is None:  # a leaf: nothing further back
            continue
        if ctx.released:
            raise RuntimeError(
                f"backward: the graph through {ctx.fn.__name__} was already freed by an earlier "
                "backward(); call backward(retain_graph=True) the first time to go through it twice"
            )
        if _added_into_waiting_gradient(ctx, g, grads, owned):  # a kernel's shortcut: see below
            if not retain_graph:
                ctx.release()
            continue
        input_grads = ctx.impl.backward(ctx, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(ctx.inputs):
            raise RuntimeError(f"{ctx.fn.__name__}.backward returned {len(input_grads)} gradients "
                               f"for {len(ctx.inputs)} inputs")
        for tracer in tracers:
            tracer(ctx, tensor, g, input_grads)
        for i, (parent, needs, pg) in enumerate(zip(ctx.inputs, ctx.needs_input_grad, input_grads)):
            if not needs:
                continue
            if pg is None:  # never silently nothing: an input that requires grad gets one
                raise RuntimeError(f"{ctx.fn.__name__}.backward gave no gradient for input {i} "
                                   f"(shape {parent.shape}), which requires grad")
            if pg.dtype != parent.data.dtype:
                raise TypeError(f"{ctx.fn.__name__}.backward returned a {pg.dtype} gradient for a "
                                f"{parent.data.dtype} input; a gradient must have its input's dtype")
            pg = unbroadcast(pg, parent.data.shape)
            key = id(parent)
            if key not in grads:
                grads[key] = pg  # may be shared with another input: do not write into it,
                if ctx.new_gradients:  # unless the op made it for this input alone
                    owned.add(key)
            elif key in owned:
                grads[key] += pg
            elif ctx.new_gradients:
                pg += grads[key]  # into the op's new array: the same sum (a + b is b + a, bit for bit)
                grads[key] = pg
                owned.add(key)
            else:
                grads[key] = grads[key] + pg  # a fresh buffer, ours from now on
                owned.add(key)
        if not retain_graph:
            ctx.release()  # the node stays (so a second backward can explain itself), empty


def _added_into_waiting_gradient(ctx: Context, g: np.ndarray, grads: dict[int, np.ndarray], owned: set[int]) -> bool:
    """Speed only (reference Functions never take it): a kernel of a one-input op may define
    backward_into(ctx, grad, buffer), which adds the op's gradient into the buffer already waiting
    at its input, one only the engine holds. GetItem's does: a slice of qkv adds into its third of
    the buffer, instead of a zero array the size of qkv with the slice written in, then added to
    the buffer. The same sums; skipped while a tracer watches (it is shown every input_grads)."""
    into = getattr(ctx.impl, "backward_into", None)
    if into is None or tracers or len(ctx.inputs) != 1 or id(ctx.inputs[0]) not in owned:
        return False
    into(ctx, g, grads[id(ctx.inputs[0])])
    return True


def _accumulate_into_grad(tensor: Tensor, g: np.ndarray) -> None:
    if tensor.grad is None:
        tensor.grad = g.copy()  # a copy: never alias a buffer that an op or the caller owns
    else:
        tensor.grad += g
