"""In-place ops (`x.add_(y)`, `x -= y`, `x[idx] = v`, `x.zero_()`, ...) with PyTorch's autograd rules.

An in-place op changes the tensor's own memory, so every alias (`b = a`, a view `a[0]`, `.data`)
sees the change. How it meets autograd, as in PyTorch:
- outside the graph (under no_grad, or when nothing involved requires grad) it just writes;
- a leaf that requires grad cannot be changed in place while recording (the optimizer's step and
  the manual `p -= lr * p.grad` run under no_grad), nor can a view of one;
- a tensor inside the graph gets a new node: x.mul_(2) makes x's grad_fn a MulBackward0 whose
  input is x's old node. Nodes that used the old x keep pointing at the old node;
- a view made by basic indexing (`x[0]`, `x[:, 1:]`) writes through to its base: the base's node
  becomes a SetItem of the new values, as PyTorch's CopySlices; in-place ops on other views of a
  tensor in the graph (after reshape, permute, expand) are refused by name;
- every in-place op bumps the version counter that the tensor shares with its views, and a
  backward that needs an array saved before the change raises PyTorch's error.
The result must fit the tensor: the same shape (the other operand may broadcast, the tensor may
not grow) and a dtype the tensor can hold (no float into an integer tensor), or an error naming the op.
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from minigrad import engine, ops

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


def _can_cast(source: np.dtype, target: np.dtype) -> bool:
    """PyTorch's canCast for in-place results: no float into an integer, no number into a bool."""
    if target.kind in "iu" and source.kind == "f":
        return False
    return not (target.kind == "b" and source.kind != "b")


def _involves_grad(values: tuple) -> bool:
    from minigrad.tensor import Tensor

    return any(isinstance(v, Tensor) and v.requires_grad for v in values)


def apply_inplace(self: Tensor, op: str, compute: Callable[[Tensor], Tensor], *others: Any) -> Tensor:
    """Make `self` hold compute(self) in its own memory, recording it in the graph when needed."""
    if not self._data.flags.writeable:
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers "
                           "to a single memory location (an expand()ed tensor); clone() it first")
    recording = engine.is_grad_enabled() and (self._requires_grad or _involves_grad(others))
    if not recording:
        with engine.no_grad():
            _write(self, op, compute(self))
        return self
    if self.is_leaf and self._requires_grad:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation "
                           f"(self, shape {self.shape}); change parameters under `with minigrad.no_grad():`")
    if self._base is not None:
        return _inplace_on_view(self, op, compute)
    old = self._snapshot()  # the values before, in the old node: what the new node computes from
    result = compute(old)
    _write(self, op, result)
    _take_node(self, result)
    return self


def _write(self: Tensor, op: str, result: Tensor) -> None:
    """Copy result into self's memory, after PyTorch's checks of shape and dtype; bump the version."""
    if result.shape != self.shape:
        raise RuntimeError(f"{op}: output with shape {self.shape} doesn't match the broadcast shape {result.shape}")
    if not _can_cast(result.dtype, self.dtype):
        raise RuntimeError(f"{op}: result type {result.dtype} can't be cast to the desired output type {self.dtype}")
    np.copyto(self._data, result._data, casting="unsafe")
    self._version_counter.value += 1


def _take_node(self: Tensor, result: Tensor) -> None:
    """self now is result: take its node (retain_grad moves along, as in PyTorch)."""
    retained = self.retains_grad
    self._grad_fn = result._grad_fn
    self._requires_grad = result._requires_grad
    if self._grad_fn is not None:
        self._grad_fn.output = weakref.ref(self)  # the tensor this node's gradient belongs to, for tracers
        if retained:
            self.retain_grad()


def _inplace_on_view(self: Tensor, op: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """An in-place op on base[index] while recording: base[index] = compute(view), then the view re-read."""
    base = self._base
    if base.is_leaf and base._requires_grad:
        raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation; change it under `with minigrad.no_grad():`")
    if self._view_index is None:
        raise NotImplementedError(
            f"{op}: in-place on this view of a tensor in the graph (made by reshape, permute, transpose or "
            "expand) is not supported in minigrad; make the change out of place, or on a clone()")
    result = compute(self._snapshot())
    if result.shape != self.shape:
        raise RuntimeError(f"{op}: output with shape {self.shape} doesn't match the broadcast shape {result.shape}")
    index = self._view_index
    apply_inplace(base, op, lambda old: ops.SetItem.apply(old, result.to(base.dtype), index=index), result)
    with engine.enable_grad():
        _take_node(self, ops.GetItem.apply(base, index=index))
    return self


class InPlaceMethods:
    """The in-place methods of Tensor: each names its op and says how to compute the new values."""

    __slots__ = ()

    def _snapshot(self) -> Tensor:
        """A copy of the values in the same graph node: what an op that will be written back reads."""
        from minigrad.tensor import Tensor

        old = Tensor._from_op(self._data.copy(), requires_grad=self._requires_grad)
        old._grad_fn, old._accumulator = self._grad_fn, self._accumulator
        return old

    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return apply_inplace(self, "add_", lambda x: x.add(other, alpha=alpha), other)

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return apply_inplace(self, "sub_", lambda x: x.sub(other, alpha=alpha), other)

    def mul_(self, other: Any) -> Tensor:
        return apply_inplace(self, "mul_", lambda x: x * other, other)

    def div_(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return apply_inplace(self, "div_", lambda x: x.div(other, rounding_mode=rounding_mode), other)

    def pow_(self, exponent: Any) -> Tensor:
        return apply_inplace(self, "pow_", lambda x: x**exponent, exponent)

    def neg_(self) -> Tensor:
        return apply_inplace(self, "neg_", lambda x: -x)

    def exp_(self) -> Tensor:
        return apply_inplace(self, "exp_", lambda x: x.exp())

    def log_(self) -> Tensor:
        return apply_inplace(self, "log_", lambda x: x.log())

    def sqrt_(self) -> Tensor:
        return apply_inplace(self, "sqrt_", lambda x: x.sqrt())

    def tanh_(self) -> Tensor:
        return apply_inplace(self, "tanh_", lambda x: x.tanh())

    def sigmoid_(self) -> Tensor:
        return apply_inplace(self, "sigmoid_", lambda x: x.sigmoid())

    def relu_(self) -> Tensor:
        return apply_inplace(self, "relu_", lambda x: x.relu())

    def abs_(self) -> Tensor:
        return apply_inplace(self, "abs_", lambda x: x.abs())

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002  (PyTorch's names)
        return apply_inplace(self, "clamp_", lambda x: x.clamp(min, max), min, max)

    def zero_(self) -> Tensor:
        return apply_inplace(self, "zero_", lambda x: ops.Fill.apply(x, value=0))

    def fill_(self, value: Any) -> Tensor:
        from minigrad.tensor import Tensor

        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise RuntimeError(f"fill_: only supports a 0-dimension value tensor, got one of shape {value.shape}")
            return apply_inplace(self, "fill_", lambda x: ops.Copy.apply(x, value), value)
        return apply_inplace(self, "fill_", lambda x: ops.Fill.apply(x, value=value))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with draws from N(mean, std^2) (a constant to autograd: the gradient of self is 0)."""
        return self._fill_drawn("normal_", lambda rng: rng.normal(mean, std, self.shape), generator)

    def uniform_(self, from_: float = 0.0, to: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with draws from U(from_, to) (a constant to autograd: the gradient of self is 0)."""
        return self._fill_drawn("uniform_", lambda rng: rng.uniform(from_, to, self.shape), generator)

    def _fill_drawn(self, op: str, draw: Callable, generator: Any) -> Tensor:
        from minigrad.random import numpy_generator
        from minigrad.tensor import Tensor

        if self.dtype.kind != "f":
            raise RuntimeError(f"{op}: needs a floating-point tensor, got dtype {self.dtype}")
        values = Tensor(np.asarray(draw(numpy_generator(generator, op)), dtype=self.dtype))
        return apply_inplace(self, op, lambda x: ops.Copy.apply(x, values))

    def copy_(self, src: Any, non_blocking: bool = False) -> Tensor:
        from minigrad.tensor import Tensor

        src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        return apply_inplace(self, "copy_", lambda x: ops.Copy.apply(x, src), src)

    def __setitem__(self, index: Any, value: Any) -> None:
        from minigrad.tensor import Tensor

        index = ops.index_arg(index)
        if not isinstance(value, Tensor):
            value = Tensor(np.asarray(value, dtype=self.dtype if np.ndim(value) == 0 else None))
        if engine.is_grad_enabled() and (self._requires_grad or value._requires_grad):
            apply_inplace(self, "setitem", lambda x: ops.SetItem.apply(x, value, index=index), value)
            return
        if not self._data.flags.writeable:  # outside the graph: write straight into the array
            apply_inplace(self, "setitem", lambda x: x)  # raises its error
        ops.set_item(self._data, index, value._data)
        self._version_counter.value += 1

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    def __ipow__(self, exponent: Any) -> Tensor:
        return self.pow_(exponent)
