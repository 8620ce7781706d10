"""The autograd engine: how an op records itself, and how backward() walks the graph.

Read this file top to bottom; it is the whole of reverse-mode autodiff in minigrad.

1. An op is a `Function` subclass with two static methods side by side:
       forward(ctx, *arrays, **kwargs) -> array       (NumPy in, NumPy out)
       backward(ctx, grad) -> one gradient per input   (dL/d input, given dL/d output)
2. `Function.apply(*tensors)` runs forward and, if any input needs a gradient, makes a graph node:
   a `Context` (PyTorch calls it the output's `grad_fn`, e.g. MulBackward0) that holds the op, what
   forward saved, and one edge per input (`next_functions`) to the node that made that input. A
   leaf that requires grad has an `AccumulateGrad` node, whose job is to add into its `.grad`.
3. `run_backward` visits the nodes from the output back to the leaves, always the newest waiting
   node first (nodes are numbered as they are made, so each comes after every node it feeds), calling
   each op's backward and adding (+=, never =) the results into the gradient waiting at each input's
   node. No recursion: deep graphs are fine.
4. `backward(create_graph=True)`: the gradients are themselves Tensors with a graph. Each op's backward
   is the same NumPy formula, called with GraphArrays (minigrad/graph_array.py) in place of arrays:
   they look like arrays, but each of their operations is a minigrad op, recorded. So a backward pass
   is a computation like any other, and can be differentiated again (`_backward_with_graph`).

Edges point at nodes, not at tensors: when an in-place op (`x.mul_(2)`) gives x a new node, the
nodes that used the old x still point at the old one, as in PyTorch. Every tensor also carries a
version counter, shared with its views and bumped by every in-place op; a node remembers the
versions of the tensors whose arrays it saved, and backward refuses to use one that has changed.

The Functions in minigrad/ops and minigrad/functional are the reference: the textbook formulas.
An op may also have a kernel (minigrad/kernels): the same forward/backward contract, written for
speed. `Function.apply` is the one place that picks between them; inside `with minigrad.reference():`
every op runs its reference formulas, which is what a learner reads and steps into (the switches
for recording and for reference mode are in minigrad/grad_mode.py).
"""
from __future__ import annotations

import heapq
import itertools
import weakref
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from minigrad.dtypes import accurate_sum
from minigrad.grad_mode import (  # noqa: F401  (the switches the engine reads, re-exported as minigrad.engine's)
    enable_grad, is_grad_enabled, is_reference_mode, no_grad, reference, set_grad_enabled,
)

if TYPE_CHECKING:
    from minigrad.tensor import Tensor

# ----------------------------------------------------------------------------------------------
# Version counters: how backward knows that a saved array was changed in place
# ----------------------------------------------------------------------------------------------


class VersionCounter:
    """How many in-place changes a tensor's memory has had; a tensor and its views share one."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


# ----------------------------------------------------------------------------------------------
# Graph nodes, and the op base class
# ----------------------------------------------------------------------------------------------


_sequence = itertools.count()  # numbers the nodes in the order they join a graph: inputs before outputs


class Node:
    """What the nodes of the graph have in common: edges to the inputs' nodes, and tensor hooks.

    `sequence_nr` numbers the nodes in the order they were made (a node's inputs' nodes always come
    before it), which is the order backward needs, reversed: PyTorch numbers its nodes the same way."""

    next_functions: tuple = ()
    pre_hooks: list | None = None  # Tensor.register_hook's hooks, run on the gradient arriving here
    retained: Any = None  # a weak reference to the non-leaf tensor whose .grad retain_grad() keeps

    def name(self) -> str:
        return type(self).__name__

    def _hooks(self) -> list:
        if self.pre_hooks is None:
            self.pre_hooks = []
        return self.pre_hooks

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: adds each gradient that reaches it into the leaf's `.grad`."""

    def __init__(self, variable: Tensor) -> None:
        self._variable = weakref.ref(variable)
        self.sequence_nr = next(_sequence)

    @property
    def variable(self) -> Tensor | None:
        return self._variable()

    def accumulate(self, grad: np.ndarray) -> None:
        tensor = self._variable()
        if tensor is not None:
            tensor._accumulate_grad(grad)


class Context(Node):
    """One op call's node (its output's grad_fn): the op, its inputs, and what forward saved."""

    def __init__(self, fn: type[Function], inputs: tuple[Tensor, ...], impl: Any = None):
        self.fn = fn  # the Function subclass, e.g. Mul
        self.impl = impl  # whose forward ran, and so whose backward must run: fn or its kernel (apply passes it)
        self.inputs = inputs  # the input Tensors, for len() and for the tools that draw the graph
        # Which inputs backward must give a gradient; all False under no_grad (no backward can follow).
        grad_enabled = is_grad_enabled()
        self.needs_input_grad = tuple(grad_enabled and t._requires_grad for t in inputs)
        self.saved_tensors: tuple = ()
        self.released = False  # set once backward has freed this node

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    def release(self) -> None:
        """Drop everything this node holds, so its arrays can be freed."""
        keep = {k: self.__dict__[k] for k in ("fn", "impl", "needs_input_grad", "next_functions", "output",
                                              "retained", "pre_hooks", "grad_fn_name", "sequence_nr")
                if k in self.__dict__}
        self.__dict__.clear()
        self.__dict__.update(keep, inputs=(), saved_tensors=(), released=True)

    def name(self) -> str:
        return self.__dict__.get("grad_fn_name") or self.fn.grad_fn_name or f"{self.fn.__name__}Backward0"

    def check_versions(self) -> None:
        """PyTorch's error if a tensor whose array this node saved was changed in place since forward."""
        for i, (t, version) in enumerate(zip(self.inputs, self.__dict__.get("versions", ()))):
            if t._version_counter.value != version and self._saved(t._data):
                self._modified(f"input {i} (shape {t.shape})", t._version_counter.value, version)
        counter, version, shape = self.__dict__.get("output_version", (None, None, None))
        if counter is not None and counter.value != version:
            self._modified(f"its output (shape {shape})", counter.value, version)

    def _saved(self, array: np.ndarray) -> bool:
        """Whether forward saved this array's memory (an input's changed since: backward cannot use it)."""
        return any(isinstance(s, np.ndarray) and np.may_share_memory(s, array) for s in self.saved_tensors)

    def _modified(self, what: str, now: int, then: int) -> None:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"{what} of {self.name()}, is at version {now}; expected version {then} instead. Compute on a copy "
            "(.clone()) or make the change out of place")


class Function:
    """Base class of every op. Subclasses define `forward` and `backward` as static methods."""

    is_view = False  # True: forward may return a view of its (one) input, which then shares its version
    draws_random = False  # True: forward draws from the random generator (dropout): it cannot be recomputed
    computes_in_float = False  # True: integer and bool inputs are computed in float32 (exp, log, ...), as PyTorch
    grad_fn_name: str | None = None  # PyTorch's node name, where it is not f"{name}Backward0"

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
        arrays = tuple(t._data for t in inputs)
        if cls.computes_in_float:
            arrays = tuple(a if a.dtype.kind == "f" else a.astype(np.float32) for a in arrays)
        out = impl.forward(ctx, *arrays, **kwargs)
        ctx.kwargs = kwargs
        needs_grad = any(ctx.needs_input_grad) and out.dtype.kind == "f"
        result = Tensor._from_op(out, requires_grad=needs_grad)
        if cls.is_view and np.may_share_memory(out, arrays[0]):
            result._share_memory_with(inputs[0])
        if needs_grad:
            ctx.next_functions = tuple([(t._grad_node(), 0) for t in inputs])
            ctx.versions = tuple([t._version_counter.value for t in inputs])  # checked in backward
            if ctx.saved_tensors and _saves_output(ctx.saved_tensors, out):
                ctx.output_version = (result._version_counter, result._version_counter.value, out.shape)
            ctx.output = weakref.ref(result)
            ctx.sequence_nr = next(_sequence)  # after its inputs' nodes, a leaf's made just above included
            result._grad_fn = ctx
        return result


def _saves_output(saved: tuple, out: np.ndarray) -> bool:
    """Whether forward saved its output array (or a view of it) for backward, as Exp saves exp(a)."""
    root = out if out.base is None else out.base
    for s in saved:
        if isinstance(s, np.ndarray) and (s is out or s is root or (s.base is not None and s.base is root)):
            return True
    return False


# A kernel replaces a reference Function outside reference mode: reference Function -> kernel.
# minigrad.kernels fills this table when it is imported (see minigrad/kernels/__init__.py).
_kernels: dict[type[Function], Any] = {}


def register_kernel(function: type[Function], kernel: Any) -> None:
    """Run `kernel.forward` / `kernel.backward` for `function` outside reference mode."""
    _kernels[function] = kernel


# ----------------------------------------------------------------------------------------------
# Broadcasting, undone once for every op
# ----------------------------------------------------------------------------------------------


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum `grad` down to `shape`: the reverse of NumPy broadcasting `shape` up to grad.shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)  # dimensions that broadcasting prepended
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, grad.shape[lead:])):
        raise ValueError(f"a gradient of shape {grad.shape} cannot belong to an input of shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    return accurate_sum(grad, axes, keepdims=True).reshape(shape)  # as Sum adds: the same bits


# ----------------------------------------------------------------------------------------------
# backward: topological sort + reverse loop
# ----------------------------------------------------------------------------------------------


def topological_order(roots: Sequence[Node]) -> list[Node]:
    """Every node the roots depend on, inputs before outputs.

    An iterative depth-first search: a node is appended only after all of its inputs,
    so a chain of 100,000 ops needs no recursion.
    """
    order: list[Node] = []
    visited: set[Node] = set()
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))  # revisit after its inputs
            stack.extend([(parent, False) for parent, _ in node.next_functions if parent is not None])
    return order


# Functions called at every node backward visits, as tracer(ctx, output, grad, input_grads):
# minigrad.trace() registers one to print backprop op by op. Empty: no cost.
tracers: list[Callable[[Context, Any, np.ndarray, tuple], None]] = []


def run_backward(roots: Sequence[Node], grads: Sequence[Any], retain_graph: bool = False,
                 capture: Sequence[Node] | None = None, create_graph: bool = False) -> dict[int, Any]:
    """Send each root's gradient back through the graph, node by node, the newest node first.

    A node is visited once every node that feeds it a gradient is done: those were all made after it,
    so taking the waiting node with the highest sequence_nr each time is a topological order.
    capture=None: every leaf reached accumulates its gradient into `.grad` (Tensor.backward).
    Otherwise only the nodes in `capture` matter: their gradients are returned, by id (autograd.grad).
    create_graph=True: the gradients are Tensors (grads too), and each backward formula's ops are
    recorded, so that the gradients can be differentiated again (see `_backward_with_graph`)."""
    with set_grad_enabled(create_graph):  # as PyTorch: a backward records ops only when it builds a graph
        return _run_backward(roots, grads, retain_graph, capture, create_graph)


def _run_backward(roots: Sequence[Node], grads: Sequence[Any], retain_graph: bool,
                  capture: Sequence[Node] | None, create_graph: bool) -> dict[int, Any]:
    wanted = None if capture is None else _leading_to(topological_order(roots), {id(n) for n in capture})
    waiting: dict[int, np.ndarray] = {}  # the gradient summed so far at each node
    ready: list[tuple[int, int, Node]] = []  # (-sequence_nr, id, node): a heap, the newest node on top
    for root, g in zip(roots, grads):
        _send(ready, waiting, root, g)
    captured: dict[int, np.ndarray] = {}
    shown: list = []  # while tracers watch, the tensors they are shown stay alive
    while ready:
        node = heapq.heappop(ready)[2]
        g = waiting.pop(id(node))
        if wanted is not None and id(node) not in wanted:
            continue  # nothing wanted lies behind it
        if node.pre_hooks or node.retained:
            g = _run_tensor_hooks(node, g)
        if capture is not None and node in capture:
            captured[id(node)] = g
        if wanted is not None and not any(p is not None and id(p) in wanted for p, _ in node.next_functions):
            continue  # a captured node with nothing wanted behind it: its op's backward need not run (PyTorch's too)
        if isinstance(node, AccumulateGrad):
            if capture is None:
                node.accumulate(g)
            continue
        _visit(node, g, ready, waiting, create_graph)
        if tracers:
            shown += node.inputs
        if not retain_graph:
            node.release()  # the node stays (so a second backward can explain itself), empty
    return captured


def _send(ready: list, waiting: dict[int, np.ndarray], node: Node, g: np.ndarray) -> None:
    """Add g to the gradient waiting at node (+=, never =), queueing node the first time one arrives."""
    if id(node) in waiting:
        waiting[id(node)] = waiting[id(node)] + g  # a new array: g or the first one may be an op's own
    else:
        waiting[id(node)] = g
        heapq.heappush(ready, (-node.sequence_nr, id(node), node))


def _visit(ctx: Context, g: Any, ready: list, waiting: dict[int, Any], create_graph: bool = False) -> None:
    """Call one op's backward and add what it returns into the gradients waiting at its inputs."""
    if ctx.released:
        raise RuntimeError(f"backward: the graph through {ctx.name()} was already freed by an earlier "
                           "backward(); call backward(retain_graph=True) the first time to go through it twice")
    ctx.check_versions()
    if create_graph:
        input_grads = _backward_with_graph(ctx, g)
    else:
        if ctx.impl is not ctx.fn and is_reference_mode():  # a kernel's node, seen in reference mode
            ctx = _recomputed_by_reference(ctx)
        input_grads = ctx.impl.backward(ctx, g)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(ctx.inputs):
        raise RuntimeError(f"{ctx.fn.__name__}.backward returned {len(input_grads)} gradients "
                           f"for {len(ctx.inputs)} inputs")
    for tracer in tracers:
        tracer(ctx, ctx.output() if "output" in ctx.__dict__ else None, *_arrays(g, input_grads))
    for i, ((parent, _), needs, pg) in enumerate(zip(ctx.next_functions, ctx.needs_input_grad, input_grads)):
        if needs and not (pg is None and getattr(ctx.impl, "none_means_zero", False)):
            pg = _checked_gradient(ctx, i, pg)
            _send(ready, waiting, parent, pg)


def _backward_with_graph(ctx: Context, g: Tensor) -> tuple:
    """create_graph=True: the op's reference backward, the same formula, run on GraphArrays (minigrad/graph_array.py)
    so that each gradient it returns is a Tensor with a graph. What forward saved is the node's input or output
    where it is one of them (as PyTorch's formulas use `self` and `result`); otherwise forward runs again, on
    GraphArrays of the inputs, so that what it saves (layer_norm's x-hat, gelu's tanh) is a function of them too."""
    from minigrad.graph_array import GraphArray
    from minigrad.tensor import Tensor

    if hasattr(ctx.impl, "backward_with_graph"):  # a custom autograd.Function: its backward is on Tensors already
        return ctx.impl.backward_with_graph(ctx, g)
    try:
        twin = _graph_twin(ctx)
        grads = ctx.fn.backward(twin, GraphArray(g) if g._requires_grad else g._data)
    except TypeError as err:  # GraphArray's refusal: say whose formula it is
        if not str(err).startswith("create_graph:"):
            raise
        raise TypeError(f"create_graph: {ctx.name()} ({ctx.fn.__name__}) cannot be differentiated twice: "
                        f"{str(err).removeprefix('create_graph: ')}") from None
    grads = grads if isinstance(grads, tuple) else (grads,)
    return tuple(x if x is None else x.tensor if isinstance(x, GraphArray) else
                 Tensor._from_op(np.asarray(x), requires_grad=False) for x in grads)


def _graph_twin(ctx: Context) -> Context:
    """A copy of the node whose saved arrays are GraphArrays of the node's inputs and output (or, where forward
    saved something else, whose forward ran again on GraphArrays); a kernel's node gets the reference's."""
    from minigrad.graph_array import GraphArray

    if ctx.impl is not ctx.fn:
        twin = _recomputed_by_reference(ctx)  # a kernel's node: what the reference saves
    else:
        twin = Context.__new__(Context)
        twin.__dict__.update(ctx.__dict__)
    output = ctx.output() if "output" in ctx.__dict__ else None
    owners: dict[int, list] = {}  # array -> the tensors holding it (x.detach() * x: two tensors, one array)
    for t in {id(t): t for t in (*ctx.inputs, output) if t is not None}.values():  # each tensor once
        owners.setdefault(id(t._data), []).append(t)
    saved = []
    for s in twin.saved_tensors:
        if not isinstance(s, np.ndarray | np.generic) or s.dtype.kind != "f":
            saved.append(s)  # a mask, indices, None: constants of the graph
        elif len(owners.get(id(s), [])) == 1 and owners[id(s)][0]._data is s:
            t = owners[id(s)][0]
            saved.append(GraphArray(t) if t._requires_grad else s)
        else:  # an intermediate, or an array two tensors hold: which one forward saved, only forward knows
            return _forward_again(ctx)
    twin.saved_tensors = tuple(saved)
    return twin


def _forward_again(ctx: Context) -> Context:
    """The reference forward, run again on GraphArrays of the node's inputs: what it saves has a graph. A forward
    that drew a random mask and recorded it as ctx.keep is given that mask again (keep=), not a new draw."""
    from minigrad.graph_array import GraphArray

    if ctx.fn.draws_random and "keep" not in ctx.__dict__ and any(ctx.kwargs.get(k, 0) for k in ("p", "dropout_p")):
        raise NotImplementedError(f"create_graph: {ctx.name()} drew a random mask in forward, which cannot be drawn "
                                  "again to differentiate its backward; use dropout as its own op (nn.Dropout)")
    twin = Context(ctx.fn, ctx.inputs, ctx.fn)
    twin.needs_input_grad, twin.kwargs = ctx.needs_input_grad, ctx.kwargs
    arrays = []
    for t in ctx.inputs:
        a = t._data if t._data.dtype.kind == "f" or not ctx.fn.computes_in_float else t._data.astype(np.float32)
        arrays.append(GraphArray(t) if t._requires_grad else a)
    kwargs = dict(ctx.kwargs, keep=ctx.keep) if "keep" in ctx.__dict__ else ctx.kwargs
    ctx.fn.forward(twin, *arrays, **kwargs)
    return twin


def _arrays(g: Any, grads: tuple) -> tuple:
    """What tracers are shown: arrays, also when backward builds a graph and the gradients are Tensors."""
    if isinstance(g, np.ndarray):
        return g, grads
    return g._data, tuple(x if x is None else x._data for x in grads)


def _recomputed_by_reference(ctx: Context) -> Context:
    """The node a kernel recorded, for the reference Function's backward: the kernel turns what it saved into
    what the reference saves (`to_reference(node)`, e.g. dropout's mask as it is), or the reference's forward
    runs again on the same inputs."""
    to_reference = getattr(ctx.impl, "to_reference", None)
    if to_reference is not None:
        twin = Context.__new__(Context)
        twin.__dict__.update(ctx.__dict__, impl=ctx.fn)
        to_reference(twin)
        return twin
    name = ctx.fn.__name__
    if ctx.fn.draws_random and any(ctx.kwargs.get(k, 0) for k in ("p", "dropout_p")):
        raise RuntimeError(f"backward in reference mode: the {name} node was recorded by a kernel and drew a random "
                           "mask, so it cannot be recomputed; run the forward inside minigrad.reference() too")
    for i, (t, version) in enumerate(zip(ctx.inputs, ctx.versions)):
        if t._version_counter.value != version:
            raise RuntimeError(f"backward in reference mode: input {i} of the {name} node (recorded by a kernel) "
                               "changed in place since, so it cannot be recomputed; run the forward inside "
                               "minigrad.reference() too")
    ref = Context(ctx.fn, ctx.inputs, ctx.fn)
    ref.needs_input_grad, ref.next_functions, ref.kwargs = ctx.needs_input_grad, ctx.next_functions, ctx.kwargs
    ref.__dict__.update({k: ctx.__dict__[k] for k in ("output", "versions") if k in ctx.__dict__})
    arrays = tuple(t._data for t in ctx.inputs)
    if ctx.fn.computes_in_float:
        arrays = tuple(a if a.dtype.kind == "f" else a.astype(np.float32) for a in arrays)
    ctx.fn.forward(ref, *arrays, **ctx.kwargs)
    return ref


def _checked_gradient(ctx: Context, i: int, pg: Any) -> Any:
    """The gradient for input i, summed down to its shape; never silently nothing, never reshaped.
    Under create_graph it is a Tensor, summed down by recorded ops (unbroadcast on its GraphArray)."""
    parent = ctx.inputs[i]
    if pg is None:
        raise RuntimeError(f"{ctx.fn.__name__}.backward gave no gradient for input {i} "
                           f"(shape {parent.shape}), which requires grad")
    if pg.dtype != parent._data.dtype:
        raise TypeError(f"{ctx.fn.__name__}.backward returned a {pg.dtype} gradient for a "
                        f"{parent._data.dtype} input; a gradient must have its input's dtype")
    try:
        if isinstance(pg, np.ndarray):
            return unbroadcast(pg, parent._data.shape)
        from minigrad.graph_array import GraphArray

        return unbroadcast(GraphArray(pg), parent._data.shape).tensor
    except ValueError:
        raise RuntimeError(f"{ctx.fn.__name__}.backward returned a gradient of shape {pg.shape} for input {i}, "
                           f"of shape {parent._data.shape}") from None


def _leading_to(order: list[Node], targets: set[int]) -> set[int]:
    """The nodes from which some target can be reached (order lists inputs before outputs)."""
    leading = set()
    for node in order:
        if id(node) in targets or any(p is not None and id(p) in leading for p, _ in node.next_functions):
            leading.add(id(node))
    return leading


def _run_tensor_hooks(node: Node, g: np.ndarray) -> np.ndarray:
    """Tensor.register_hook's hooks on the tensor this gradient belongs to, then retain_grad's copy."""
    hooks = node.pre_hooks
    if hooks:
        from minigrad.tensor import Tensor

        for hook in list(hooks):
            new = hook(Tensor._from_op(g, requires_grad=False) if isinstance(g, np.ndarray) else g)
            if new is not None:
                g = _hook_result(new, g, node)
    tensor = node.retained() if node.retained is not None else None
    if tensor is not None:
        tensor._accumulate_grad(g)
    return g


def _hook_result(new: Any, g: np.ndarray, node: Node) -> np.ndarray:
    from minigrad.tensor import Tensor

    if not isinstance(new, Tensor):
        raise TypeError(f"a hook on the tensor of {node.name()} returned {type(new).__name__}; "
                        "a hook returns a Tensor or None")
    if new.shape != g.shape or new.dtype != g.dtype:
        raise RuntimeError(f"a hook on the tensor of {node.name()} returned a gradient of shape {new.shape} and "
                           f"dtype {new.dtype}; expected shape {g.shape} and dtype {g.dtype}")
    return new._data if isinstance(g, np.ndarray) else new  # under create_graph, gradients are Tensors
