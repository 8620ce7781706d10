"""Tensor: a NumPy array, an optional gradient, and a link to the op that made it.

Every method that computes something only dispatches to an op in `minigrad.ops` (or a fused
one in `minigrad.functional`); the math and its gradient live there, side by side.

dtype policy: `Tensor(data)` makes Python numbers and lists float32 (as `torch.Tensor`), while
`minigrad.tensor(data)` infers as `torch.tensor` does (ints -> int64, bools -> bool, floats ->
float32); a NumPy array keeps its dtype (so gradient checks can run in float64); integer arrays
stay integer (labels) and cannot require grad. A Python number or a NumPy array mixed into an op
takes the tensor's dtype; two tensors of different float dtypes are an error, never a silent upcast.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from minigrad import engine
from minigrad.device import CPU, refuse_gpu, to_args
from minigrad.dtypes import to_array
from minigrad.tensor_methods import TensorMethods, dim_aliases
from minigrad.inplace import InPlaceMethods

class Tensor(InPlaceMethods, TensorMethods):
    """An n-dimensional array that can record the ops applied to it and backpropagate."""

    __slots__ = ("_data", "_grad", "_requires_grad", "_grad_fn", "_accumulator", "_version_counter", "_base",
                 "_view_index", "__weakref__")
    __array_priority__ = 1000  # so `np_array * tensor` calls Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self._data: np.ndarray = to_array(data, dtype)  # the NumPy array every op computes on
        self._grad: Tensor | None = None
        self._grad_fn: engine.Context | None = None  # the node of the op that produced this tensor
        self._accumulator: engine.AccumulateGrad | None = None  # a leaf's node, made when a graph first uses it
        self._version_counter = engine.VersionCounter()  # shared with this tensor's views
        self._base: Tensor | None = None  # the tensor whose memory this one views
        self._view_index: Any = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """Wrap an op's output array without copying it (a NumPy scalar becomes a 0-d array)."""
        out = cls.__new__(cls)
        if not isinstance(data, np.ndarray):  # NumPy gives a scalar, not a 0-d array, for np.tanh(0-d)
            data = np.asarray(data)
        out._data, out._grad, out._grad_fn, out._accumulator = data, None, None, None
        out._version_counter, out._base, out._view_index = engine.VersionCounter(), None, None
        out._requires_grad = requires_grad
        return out

    # -- basic properties ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, as torch's Size (a tuple), or its length along `dim`."""
        if dim is None:
            return self._data.shape
        if self.ndim == 0:
            raise IndexError(f"size: dim {dim} is out of range: a 0-d tensor has no dims")
        return self._data.shape[ops.normalize_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    @property
    def device(self) -> Any:
        return CPU  # NumPy arrays live in main memory

    is_cuda = False

    # -- data, grad and the graph, as PyTorch has them -------------------------------------------
    @property
    def data(self) -> Tensor:
        """This tensor's values as a tensor outside the graph, sharing its memory (not its version counter,
        as in PyTorch: a change made through .data is not seen by backward's checks)."""
        return Tensor._from_op(self._data, requires_grad=False)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: Tensor.data has to be a Tensor, got {type(value).__name__} "
                            "(wrap an array with minigrad.from_numpy)")
        self._data = value._data

    @property
    def grad(self) -> Tensor | None:
        """dL/d(this tensor), summed over every backward since it was last set to None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: assigned grad expected to be a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"grad: assigned grad has shape {value.shape}, the tensor has {self.shape}")
            if value.dtype != self.dtype:
                raise RuntimeError(f"grad: assigned grad has dtype {value.dtype}, the tensor has {self.dtype}")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    @property
    def grad_fn(self) -> engine.Context | None:
        """The node of the op that made this tensor (e.g. MulBackward0); None for a leaf."""
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def _version(self) -> int:
        """How many times this tensor's memory was changed in place (shared with its views)."""
        return self._version_counter.value

    @property
    def retains_grad(self) -> bool:
        node = self._grad_fn
        return node is not None and node.retained is not None and node.retained() is self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad: only floating-point tensors can require gradients, got dtype {self.dtype} "
                "(integer tensors are for labels and indices)"
            )
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad: you can only change requires_grad flags of leaf variables; "
                               "use detach() to get a tensor that does not require grad")
        self._requires_grad = bool(requires_grad) or not self.is_leaf
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (for inspection)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that has requires_grad=False")
        if self._grad_fn is not None:
            self._grad_fn.retained = weakref.ref(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call hook(grad) on each gradient computed for this tensor; a Tensor it returns replaces grad."""
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
        hooks = self._grad_node()._hooks()
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def _grad_node(self) -> engine.Node | None:
        """Where a gradient for this tensor goes: its op's node, a leaf's AccumulateGrad, or nowhere."""
        if self._grad_fn is not None:
            return self._grad_fn
        if not self._requires_grad:
            return None
        if self._accumulator is None:
            self._accumulator = engine.AccumulateGrad(self)
        return self._accumulator

    def _accumulate_grad(self, g: np.ndarray | Tensor) -> None:
        """.grad += g (the first time: a copy of g, which may be a buffer that an op or the caller holds).
        Under create_graph g is a Tensor that may have a graph, and so, as in PyTorch, is .grad: a copy of g the
        first time, then .grad + g, a new tensor, so that every order's gradient stays differentiable."""
        if isinstance(g, Tensor):
            if self._grad is None:
                self._grad = ops.Cast.apply(g, dtype=self.dtype, copy=True)
                if self._grad._grad_fn is not None:
                    self._grad._grad_fn.grad_fn_name = "CopyBackwards"  # PyTorch's name for this copy
            else:
                self._grad = self._grad + g
            return
        if self._grad is None:
            self._grad = Tensor._from_op(np.array(g, dtype=self.dtype, copy=True), requires_grad=False)
        else:
            self._grad._data += g
            self._grad._version_counter.value += 1

    def _share_memory_with(self, base: Tensor) -> None:
        """This tensor is a view of base: one version counter for both, as in PyTorch."""
        self._version_counter = base._version_counter
        self._base = base._base if base._base is not None else base

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor with {self._data.size} elements is ambiguous")
        return bool(self._data.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __index__(self) -> int:
        """A one-element integer tensor used as an index, e.g. `classes[label]`."""
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"got dtype {self.dtype} and shape {self.shape}")
        return int(self._data.item())

    def __int__(self) -> int:
        return int(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """np.asarray(tensor) is its data (a copy only if the dtype changes or copy=True)."""
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __repr__(self) -> str:
        body = np.array2string(self._data, precision=4, separator=", ", prefix="tensor(")
        if self._grad_fn is not None:
            tail = f", grad_fn=<{self._grad_fn.name()}>"
        else:
            tail = ", requires_grad=True" if self._requires_grad else ""
        return f"tensor({body}, dtype={self.dtype}{tail})"

    # -- leaving the graph --------------------------------------------------------------------
    def item(self) -> float | int:
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        return self._data.item()

    def numpy(self) -> np.ndarray:
        return self._data

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no copy; it shares this tensor's version counter)."""
        out = Tensor._from_op(self._data, requires_grad=False)
        out._version_counter = self._version_counter
        return out

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """to(dtype), to(device[, dtype]) or to(other): a new dtype through Cast (gradient flows back);
        the device can only be the CPU. Returns self when nothing changes (and copy=False)."""
        dtype, copy = to_args("Tensor.to", args, kwargs)
        if dtype is not None and dtype != self.dtype:
            return ops.Cast.apply(self, dtype=dtype)
        return self.clone() if copy else self

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        refuse_gpu("Tensor.cuda")

    # memory_format (below): accepted and ignored, as by to(): the layout is NumPy's, not minigrad's to choose
    def float(self, memory_format: Any = None) -> Tensor:
        return self.to(np.float32)

    def double(self, memory_format: Any = None) -> Tensor:
        return self.to(np.float64)

    def long(self, memory_format: Any = None) -> Tensor:
        return self.to(np.int64)

    def clone(self, *, memory_format: Any = None) -> Tensor:
        """A copy of the data that stays in the graph (the gradient flows back to self)."""
        return ops.Cast.apply(self, dtype=self.dtype, copy=True)

    # -- backward -------------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Any = None, *, trace: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (weighted by `gradient`); with inputs=,
        only into those tensors' `.grad`. trace=True prints each step of backward (see minigrad.trace)."""
        if trace:
            from minigrad.tools.trace import trace as tracing  # lazy: the tools import Tensor

            with tracing():
                return self.backward(gradient, retain_graph, create_graph, inputs)
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    # -- making operands tensors ----------------------------------------------------------------
    def _operand(self, other: Any, wrap: bool = True) -> Tensor:
        """A constant (number or array) mixed into an op, with PyTorch's result dtypes: it takes this
        tensor's dtype with a float tensor, as an int with an integer tensor (wrapping, as uint8 - 1 is
        255; wrap=False for division, where the int keeps its value) and as a bool with a bool tensor.
        Otherwise it keeps its own: int64 for an int, bool for a bool, float32 for a float, an array's dtype."""
        if isinstance(other, Tensor):
            return other
        kind, flag = self.dtype.kind, isinstance(other, (bool, np.bool_))
        number = isinstance(other, (int, np.integer)) and not flag  # an int that is not a bool
        if kind == "f":
            return Tensor(other, dtype=self.dtype)
        if (kind in "iu" and number and wrap) or (kind == "b" and flag):
            return Tensor(np.asarray(other).astype(self.dtype))  # wraps as PyTorch: uint8 - 1 is 255
        return Tensor(np.int64(other) if number else np.bool_(other) if flag else other)

    # -- arithmetic: dispatch only ----------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, self._operand(other))

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(self._operand(other), self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, self._operand(other))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self._operand(other), self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, self._operand(other))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self._operand(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, self._operand(other, wrap=False))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self._operand(other, wrap=False), self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, Tensor) or np.ndim(exponent) > 0:
            return ops.Pow.apply(self, self._operand(exponent))
        base = self
        if isinstance(exponent, (bool, np.bool_)):
            raise TypeError("pow: a bool exponent is not supported; use an int (0 or 1)")
        if self.dtype.kind in "iub" and np.asarray(exponent).dtype.kind in "iu" and exponent < 0:
            raise ValueError(f"pow: integers to negative integer powers are not allowed (exponent {exponent} "
                             f"on a {self.dtype} tensor, as in PyTorch); use a float tensor")
        if self.dtype.kind != "f" and np.asarray(exponent).dtype.kind == "f":
            base = self.to(np.float32)  # int ** 0.5 is float32, as in PyTorch (and as int * 0.5 here)
        elif self.dtype == np.bool_:
            base = self.to(np.int64)  # bool ** 2 is int64, as in PyTorch (NumPy would give int8)
        return ops.PowScalar.apply(base, exponent=float(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        return ops.Pow.apply(self._operand(base), self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, self._operand(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self._operand(other), self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    # -- comparisons: no gradient, boolean results ------------------------------------------------
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor(self._data == self._operand(other)._data)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor(self._data != self._operand(other)._data)

    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self._data < self._operand(other)._data)

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self._data <= self._operand(other)._data)

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self._data > self._operand(other)._data)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self._data >= self._operand(other)._data)

    __hash__ = object.__hash__

    # -- unary math -----------------------------------------------------------------------------
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    __abs__ = abs

    # -- reductions -----------------------------------------------------------------------------
    @dim_aliases
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return ops.Sum.apply(x, dim=dim, keepdim=keepdim)

    @dim_aliases
    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return ops.Mean.apply(x, dim=dim, keepdim=keepdim)

    @dim_aliases
    def max(self, dim: Any = None, keepdim: bool = False) -> Tensor | MaxResult:
        """Without dim: the largest element. With dim: (values, indices), as torch.max. With a tensor: the
        elementwise maximum, as torch.max(input, other)."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return ops.Max.apply(self, dim=None, keepdim=keepdim)
        return MaxResult(*ops.max_along(self, dim, keepdim))

    @dim_aliases
    def min(self, dim: Any = None, keepdim: bool = False) -> Tensor | MinResult:
        """Without dim: the smallest element. With dim: (values, indices), as torch.min. With a tensor: the
        elementwise minimum, as torch.min(input, other)."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return ops.Max.apply(self, dim=None, keepdim=keepdim, smallest=True)
        return MinResult(*ops.max_along(self, dim, keepdim, smallest=True))

    @dim_aliases
    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return ops.arg_extreme(np.argmax, self, dim, keepdim, "argmax")

    @dim_aliases
    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return ops.arg_extreme(np.argmin, self, dim, keepdim, "argmin")

    # -- shape and movement ---------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.Reshape.apply(self, shape=ops.shape_arg(shape))

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.Reshape.apply(self, shape=ops.shape_arg(shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return ops.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return ops.unsqueeze(self, dim)

    def squeeze(self, dim: int | Sequence[int] | None = None) -> Tensor:
        return ops.squeeze(self, dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return ops.transpose(self, dim0, dim1)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        return ops.Permute.apply(self, dims=ops.shape_arg(dims))

    @property
    def T(self) -> Tensor:
        return ops.Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.Expand.apply(self, shape=ops.shape_arg(shape))

    def contiguous(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        index = ops.index_arg(index)
        out = ops.GetItem.apply(self, index=index)
        if out._base is self:  # a view of self by basic indexing: an in-place op on it can write back into self
            out._view_index = index
        return out

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        return ops.chunk(self, chunks, dim)

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> list[Tensor]:
        return ops.split(self, split_size, dim)

class RemovableHandle:
    """What register_hook returns: handle.remove() takes the hook off again."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class MaxResult(NamedTuple):
    values: Tensor
    indices: Tensor


class MinResult(NamedTuple):
    values: Tensor
    indices: Tensor


from minigrad import autograd, ops  # noqa: E402  (they import Tensor: load them after the class exists)
