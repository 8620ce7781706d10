"""minigrad.trace(): watch backward() go through the graph, one op at a time.

    with minigrad.trace(names=model):    # names: a Module, or a dict name -> Tensor
        loss.backward()

prints one numbered step per graph node, in the order backward visits them (from the loss back
to the leaves): the op, the tensor it made (its shape, dtype, and |grad|, the L2 norm of the
gradient dL/d(that tensor) arriving there), then each input of the op and the gradient the op
sends to it. `with minigrad.trace(file=None) as t:` prints nothing and keeps the steps in
`t.records` (a list of TraceRecord).

Inside the block every op runs its reference formulas (minigrad.reference()), forward and backward: a
node recorded outside it with a kernel is handed to its reference Function's backward too (the engine
recomputes it, or the kernel gives it what the reference saves), so every step is the code you read.

Tensors are labelled `%n` in the order the trace first meets them, so an input `%7` of one
step is the output `%7` of a later step; parameters show their names.
"""
from __future__ import annotations

import sys
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Mapping, TextIO

import numpy as np

from minigrad import engine
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor

Shape = tuple[int, ...]


@dataclass
class InputRecord:
    """One input of a traced op, and the gradient the op's backward sent to it."""

    label: str  # the parameter's name, or "%n"
    kind: str  # "node" (made by an op), "param", "leaf" (requires grad, made by you) or "const"
    shape: Shape
    grad_shape: Shape | None  # what the op's backward returned; None: no gradient for this input
    received_shape: Shape | None  # what the input gets: grad_shape with broadcast dims summed away


@dataclass
class TraceRecord:
    """One step of backward: the op at a graph node and the gradients through it."""

    step: int  # 1, 2, ... in the order backward visited the nodes
    op: str  # the Function's name, e.g. "MatMul"
    label: str  # "%n": the tensor this op produced
    shape: Shape
    dtype: str
    grad_norm: float  # |dL/d output|, the L2 norm of the upstream gradient
    inputs: list[InputRecord]
    contributions: int  # how many gradients were added (+=) into dL/d output: > 1 if used twice
    kernel: bool = False  # True: a kernel's backward ran (minigrad/kernels); not inside trace(), which runs formulas


def named_tensors(names: Module | Mapping[str, Tensor] | None) -> dict[str, Tensor]:
    if names is None:
        return {}
    if isinstance(names, Module):
        return dict(names.named_parameters())
    if isinstance(names, Mapping):
        return dict(names)
    raise TypeError(f"names must be a Module or a dict name -> Tensor, got {type(names).__name__}")


def _kind(t: Tensor) -> str:
    if t._grad_fn is not None:
        return "node"
    if isinstance(t, Parameter):
        return "param"
    return "leaf" if t.requires_grad else "const"


def _shape_text(shape: Shape | None) -> str:
    return "-" if shape is None else str(tuple(shape))


class Trace:
    """Context manager: registers a tracer with the engine on enter, removes it on exit."""

    def __init__(self, file: TextIO | None | str = "stdout",
                 names: Module | Mapping[str, Tensor] | None = None):
        self.file = file
        self.records: list[TraceRecord] = []
        self._named = named_tensors(names)  # holds the tensors, so their ids stay theirs
        self._name_of = {id(t): name for name, t in self._named.items()}
        self._labels: dict[int, tuple[weakref.ref, str]] = {}
        self._sent: dict[int, int] = {}  # gradients sent so far to each not-yet-visited node
        self._lock = threading.Lock()  # backward may run in several threads
        self._reference: Any = None

    def __enter__(self) -> Trace:
        if self.file == "stdout":
            self.file = sys.stdout  # looked up now, not at import: pytest and notebooks replace it
        if self.file is not None:
            print("backward, step by step: op -> the tensor it made, |grad| = L2 norm of dL/d(that tensor);\n"
                  "        to each input of the op (kind, label, shape): the gradient the op sends it",
                  file=self.file)
        engine.tracers.append(self._on_node)
        self._reference = engine.reference()
        self._reference.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._reference.__exit__(*exc)
        engine.tracers.remove(self._on_node)

    def label(self, t: Tensor) -> str:
        """The parameter's name if one was given, else "%n", fixed the first time `t` is seen."""
        if id(t) in self._name_of:
            return self._name_of[id(t)]
        entry = self._labels.get(id(t))
        if entry is None or entry[0]() is not t:  # a new tensor (perhaps at a dead one's id)
            entry = (weakref.ref(t), f"%{len(self._labels)}")
            self._labels[id(t)] = entry
        return entry[1]

    def _on_node(self, ctx: engine.Context, out: Tensor, grad: np.ndarray, input_grads: tuple) -> None:
        with self._lock:
            label = self.label(out)  # before the inputs': labels number tensors from the root down
            inputs = [self._input_record(t, needs, g)
                      for t, needs, g in zip(ctx.inputs, ctx.needs_input_grad, input_grads)]
            norm = float(np.sqrt(np.square(grad, dtype=np.float64).sum()))
            record = TraceRecord(len(self.records) + 1, ctx.fn.__name__, label, out.shape,
                                 str(out.dtype), norm, inputs, self._sent.pop(id(out), 1), ctx.impl is not ctx.fn)
            self.records.append(record)
            if self.file is not None:
                print(format_record(record), file=self.file)

    def _input_record(self, t: Tensor, needs: bool, g: np.ndarray | None) -> InputRecord:
        sent = g is not None and needs  # the engine drops a gradient the input does not need
        if sent and t._grad_fn is not None:
            self._sent[id(t)] = self._sent.get(id(t), 0) + 1
        return InputRecord(self.label(t), _kind(t), t.shape, g.shape if sent else None,
                           t.shape if sent else None)


def format_record(r: TraceRecord) -> str:
    """The printed form of one step: a line for the op, then one line per input."""
    op = f"{r.op} (its kernel)" if r.kernel else r.op
    lines = [f"{r.step:>4}  {op} -> {r.label} {_shape_text(r.shape)} {r.dtype}   |grad| {r.grad_norm:.4g}"]
    if r.contributions > 1:
        lines[0] += f"  (the sum of the {r.contributions} gradients sent to {r.label})"
    for i in r.inputs:
        got = "-" if i.grad_shape is None else f"grad {_shape_text(i.grad_shape)}"
        if i.grad_shape is not None and i.grad_shape != i.received_shape:
            got += f", summed to {_shape_text(i.received_shape)}"  # the engine undoes broadcasting
        lines.append(f"{'':8}to {i.kind:<5} {i.label} {_shape_text(i.shape)}: {got}")
    return "\n".join(lines)


def trace(file: TextIO | None | str = "stdout",
          names: Module | Mapping[str, Tensor] | None = None) -> Trace:
    """Print (to `file`, default sys.stdout; None: only collect) each backward step; see module doc."""
    return Trace(file=file, names=names)
