"""minigrad.autograd, as torch.autograd: `backward`, `grad`, and `Function` for ops of your own.

    x = minigrad.randn(3, requires_grad=True)
    (dx,) = minigrad.autograd.grad((x ** 3).sum(), x)      # 3 x^2, without touching x.grad
    (dx,) = minigrad.autograd.grad((x ** 3).sum(), x, create_graph=True)  # 3 x^2 with a graph:
    (ddx,) = minigrad.autograd.grad(dx.sum(), x)           # 6 x, a second derivative

    class LegendrePolynomial3(minigrad.autograd.Function):  # PyTorch's tutorial, imports changed
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

A `minigrad.autograd.Function` works on Tensors, as PyTorch's does: forward runs without recording,
backward gets and returns Tensors. minigrad's own ops (`minigrad.engine.Function`) work on NumPy
arrays instead, so that their formulas read as NumPy; both become the same kind of graph node. With
create_graph=True both backwards are recorded: a custom Function's because it computes with Tensor ops,
minigrad's because its NumPy formula is run on GraphArrays (minigrad/graph_array.py). `functional`
builds vjp, jvp, vhp, hvp, jacobian and hessian on `grad`.
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from minigrad import engine, ops
from minigrad.engine import enable_grad, no_grad, set_grad_enabled  # noqa: F401  (torch.autograd has them)
from minigrad.tensor import Tensor

__all__ = ["backward", "grad", "Function", "no_grad", "enable_grad", "set_grad_enabled", "functional", "gradcheck",
           "gradgradcheck"]


def _as_list(tensors: Any, what: str) -> list:
    if isinstance(tensors, Tensor):
        return [tensors]
    if tensors is None:
        return []
    tensors = list(tensors)
    if not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"{what} must be a Tensor or a sequence of Tensors")
    return tensors


def _root_gradients(op: str, outputs: list[Tensor], grad_outputs: Any, create_graph: bool = False) -> list:
    """The gradient to start each output from: given, or 1 for a one-element output. With create_graph, Tensors:
    a given one as it is (if it requires grad, the gradients will be differentiable with respect to it too)."""
    given = _as_list(grad_outputs, f"{op}: grad_outputs") if not isinstance(grad_outputs, (list, tuple)) \
        else list(grad_outputs)
    if given and len(given) != len(outputs):
        raise RuntimeError(f"{op}: got {len(given)} gradients for {len(outputs)} outputs")
    grads = []
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(
                f"{op}: element {i} of tensors does not require grad and does not have a grad_fn (no input had "
                "requires_grad=True, or it was computed under no_grad())")
        g = given[i] if given else None
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs, but this tensor "
                                   f"has shape {out.shape}; reduce it (e.g. .sum()) or pass a gradient of that shape")
            ones = np.empty(out.shape, dtype=out.dtype)  # (np.ones is Python code a debugger would step into)
            ones.fill(1)
            grads.append(Tensor._from_op(ones, requires_grad=False) if create_graph else ones)
            continue
        array = g._data if isinstance(g, Tensor) else np.asarray(g)
        if array.shape != out.shape:
            raise RuntimeError(f"{op}: Mismatch in shape: the gradient has shape {array.shape} and output {i} has "
                               f"shape {out.shape}")
        if create_graph and isinstance(g, Tensor):  # cast by a recorded op: a g that requires grad keeps its graph
            grads.append(g if g.dtype == out.dtype else ops.Cast.apply(g, dtype=out.dtype))
        elif create_graph:
            grads.append(Tensor._from_op(array.astype(out.dtype), requires_grad=False))
        else:
            grads.append(array.astype(out.dtype, copy=False))
    return grads


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Any = None) -> None:
    """Accumulate d(tensors)/d(leaf) into the `.grad` of every leaf (or only of `inputs`)."""
    outputs = [tensors] if isinstance(tensors, Tensor) else _as_list(tensors, "backward: tensors")
    if isinstance(grad_tensors, Tensor) or (grad_tensors is not None and not isinstance(grad_tensors, (list, tuple))):
        grad_tensors = [grad_tensors]
    roots = _root_gradients("backward", outputs, grad_tensors, create_graph)
    nodes = [t._grad_node() for t in outputs]
    retain = bool(retain_graph) if retain_graph is not None else create_graph
    if inputs is None:
        engine.run_backward(nodes, roots, retain_graph=retain, create_graph=create_graph)
        return
    targets = _as_list(inputs, "backward: inputs")
    if not targets:
        raise RuntimeError("backward: inputs= was given but is empty")
    captured = engine.run_backward(nodes, roots, retain_graph=retain, capture=_input_nodes("backward", targets),
                                   create_graph=create_graph)
    with engine.set_grad_enabled(create_graph):
        for t in targets:
            g = captured.get(id(t._grad_node()))
            if g is not None:
                t._accumulate_grad(g)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """d(outputs)/d(inputs), returned (one Tensor per input) instead of accumulated into `.grad`."""
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True (vmap over grad_outputs) is not supported")
    outs = _as_list(outputs, "grad: outputs")
    targets = _as_list(inputs, "grad: inputs")
    roots = _root_gradients("grad", outs, grad_outputs, create_graph)
    retain = bool(retain_graph) if retain_graph is not None else create_graph
    nodes = _input_nodes("grad", targets)
    captured = engine.run_backward([t._grad_node() for t in outs], roots, retain_graph=retain, capture=nodes,
                                   create_graph=create_graph)
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    result: list[Tensor | None] = []
    for i, (t, node) in enumerate(zip(targets, nodes)):
        g = captured.get(id(node))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior")
        if g is None and materialize_grads:
            g = np.zeros_like(t._data)
        if isinstance(g, Tensor):  # create_graph=True: the gradient with its graph
            result.append(g)
            continue
        result.append(None if g is None else Tensor._from_op(np.array(g, copy=True), requires_grad=False))
    return tuple(result)


def _input_nodes(op: str, inputs: list[Tensor]) -> list[engine.Node]:
    nodes = []
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"{op}: input {i} (shape {t.shape}) does not require grad")
        nodes.append(t._grad_node())
    return nodes


# ----------------------------------------------------------------------------------------------
# autograd.Function: an op of your own, on Tensors
# ----------------------------------------------------------------------------------------------


class FunctionCtx:
    """The `ctx` a custom Function's forward and backward share, as PyTorch's."""

    def __init__(self) -> None:
        self.needs_input_grad: tuple[bool, ...] = ()
        self.materialize_grads = True
        self._saved: tuple = ()
        self._versions: tuple = ()
        self.to_save: tuple = ()

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: can only save Tensors (or None), got {type(t).__name__}; "
                                "keep other values as attributes of ctx")
        self._saved = tensors
        self._versions = tuple(None if t is None else t._version for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        for i, (t, version) in enumerate(zip(self._saved, self._versions)):
            if t is not None and t._version != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: saved tensor {i} (shape {t.shape}) is at version {t._version}; expected version "
                    f"{version} instead")
        return self._saved

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_differentiable = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value

    def mark_dirty(self, *tensors: Tensor) -> None:
        raise NotImplementedError("mark_dirty: a custom Function that changes its inputs in place is not supported "
                                  "in minigrad; return a new tensor")


class _CustomBackward:
    """The graph node's implementation for a custom Function: its backward, on Tensors."""

    none_means_zero = True  # as PyTorch: a custom backward may return None for an input that requires grad

    @staticmethod
    def backward(node: engine.Context, grad: np.ndarray) -> tuple:
        with no_grad():
            grads = _CustomBackward.backward_with_graph(node, Tensor._from_op(grad, requires_grad=False))
        return tuple(None if g is None else g._data for g in grads)

    @staticmethod
    def backward_with_graph(node: engine.Context, grad: Tensor) -> tuple:
        """The Function's backward on Tensors: under create_graph its ops are recorded, so it is differentiable
        if it is written with minigrad's ops, as in PyTorch."""
        ctx, fn = node.custom_ctx, node.fn
        grads = fn.backward(ctx, grad)
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != node.n_args:
            raise RuntimeError(f"function {fn.__name__}Backward returned an incorrect number of gradients "
                               f"(expected {node.n_args}, got {len(grads)})")
        for position in node.arg_positions:
            g = grads[position]
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"function {fn.__name__}Backward returned a {type(g).__name__} for argument "
                                f"{position}; a gradient is a Tensor or None")
        return tuple(grads[position] for position in node.arg_positions)


class Function:
    """Base class of an op of your own: define forward(ctx, *args) and backward(ctx, *grad_outputs) on
    Tensors (static methods), then call it as `MyFunction.apply(*args)`."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a custom Function must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError("a custom Function must define backward(ctx, *grad_outputs)")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        """Optional (PyTorch 2's style): forward(*args) without ctx, and this fills ctx instead."""

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = tuple(args[i] for i in positions)
        grad_on = engine.is_grad_enabled()
        ctx.needs_input_grad = tuple(grad_on and isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            if cls.setup_context is not Function.setup_context:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        if isinstance(out, tuple):
            raise NotImplementedError(f"{cls.__name__}.forward returned {len(out)} outputs; minigrad's custom "
                                      "Functions return one Tensor")
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor, got {type(out).__name__}")
        if any(t is out for t in tensors):
            out = out.detach()  # an input returned as it is: a new tensor with the same data, as PyTorch's view
        if not (any(ctx.needs_input_grad) and out.dtype.kind == "f") or \
                id(out) in getattr(ctx, "_non_differentiable", ()):
            return out
        node = _CustomNode(cls, tensors, _CustomBackward)
        node.custom_ctx, node.arg_positions, node.n_args = ctx, positions, len(args)
        node.next_functions = tuple((t._grad_node(), 0) for t in tensors)
        node.output = weakref.ref(out)
        node.sequence_nr = next(engine._sequence)  # after its inputs' nodes
        out._grad_fn, out._requires_grad = node, True
        return out


class _CustomNode(engine.Context):
    def name(self) -> str:
        return f"{self.fn.__name__}Backward"


from minigrad.autograd import functional  # noqa: E402,F401  (torch.autograd.functional: vjp, jvp, hessian, ...)
from minigrad.tools.gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401  (torch.autograd has them)
