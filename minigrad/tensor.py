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

from typing import Any, NamedTuple, Sequence

import numpy as np

from minigrad import engine
from minigrad.device import CPU, refuse_gpu, to_args
from minigrad.dtypes import to_array
from minigrad.tensor_methods import TensorMethods

class Tensor(TensorMethods):
    """An n-dimensional array that can record the ops applied to it and backpropagate."""

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # so `np_array * tensor` calls Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self.data: np.ndarray = to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self._ctx: engine.Context | None = None  # the op that produced this tensor
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """Wrap an op's output array without copying it (a NumPy scalar becomes a 0-d array)."""
        out = cls.__new__(cls)
        if not isinstance(data, np.ndarray):  # NumPy gives a scalar, not a 0-d array, for np.tanh(0-d)
            data = np.asarray(data)
        out.data, out.grad, out._ctx, out._retains_grad = data, None, None, False
        out.requires_grad = requires_grad
        return out

    # -- basic properties ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, as torch's Size (a tuple), or its length along `dim`."""
        if dim is None:
            return self.data.shape
        if self.ndim == 0:
            raise IndexError(f"size: dim {dim} is out of range: a 0-d tensor has no dims")
        return self.data.shape[ops.normalize_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def device(self) -> Any:
        return CPU  # NumPy arrays live in main memory

    is_cuda = False

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __index__(self) -> int:
        """A one-element integer tensor used as an index, e.g. `classes[label]`."""
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"got dtype {self.dtype} and shape {self.shape}")
        return int(self.data.item())

    def __int__(self) -> int:
        return int(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """np.asarray(tensor) is its data (a copy only if the dtype changes or copy=True)."""
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{grad})"

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating-point tensors can require grad, got dtype {self.dtype} "
                "(integer tensors are for labels and indices)"
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (for inspection)."""
        self._retains_grad = True

    # -- leaving the graph --------------------------------------------------------------------
    def item(self) -> float | int:
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no copy)."""
        return Tensor._from_op(self.data, requires_grad=False)

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
    def backward(self, grad: Any = None, retain_graph: bool = False, trace: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (weighted by `grad`).

        trace=True prints each step of backward (see minigrad.trace)."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad, so there is no graph to go back "
                "through (no input had requires_grad=True, or it was computed under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implied only for a scalar output, but this tensor has "
                    f"shape {self.shape}; reduce it (e.g. .sum()) or pass grad= of that shape"
                )
            grad = np.ones_like(self.data)
        else:
            grad = to_array(grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape}, tensor has {self.shape}")
        if trace:
            from minigrad.tools.trace import trace as tracing  # lazy: the tools import Tensor

            with tracing():
                engine.backward(self, grad, retain_graph=retain_graph)
        else:
            engine.backward(self, grad, retain_graph=retain_graph)

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
        return Tensor(self.data == self._operand(other).data)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor(self.data != self._operand(other).data)

    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self.data < self._operand(other).data)

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self.data <= self._operand(other).data)

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self.data > self._operand(other).data)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self.data >= self._operand(other).data)

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
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return ops.Sum.apply(x, dim=dim, keepdim=keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return ops.Mean.apply(x, dim=dim, keepdim=keepdim)

    def max(self, dim: Any = None, keepdim: bool = False) -> Tensor | MaxResult:
        """Without dim: the largest element. With dim: (values, indices), as torch.max."""
        _refuse_other("max", dim)
        if dim is None:
            return ops.Max.apply(self, dim=None, keepdim=keepdim)
        return MaxResult(*ops.max_along(self, dim, keepdim))

    def min(self, dim: Any = None, keepdim: bool = False) -> Tensor | MinResult:
        """Without dim: the smallest element. With dim: (values, indices), as torch.min."""
        _refuse_other("min", dim)
        if dim is None:
            return ops.Max.apply(self, dim=None, keepdim=keepdim, smallest=True)
        return MinResult(*ops.max_along(self, dim, keepdim, smallest=True))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return ops.arg_extreme(np.argmax, self, dim, keepdim, "argmax")

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
        return ops.GetItem.apply(self, index=ops.index_arg(index))

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        return ops.chunk(self, chunks, dim)

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> list[Tensor]:
        return ops.split(self, split_size, dim)

    # -- in-place helpers for optimizers and init (no graph) -----------------------------------
    def zero_(self) -> Tensor:
        """Fill with zeros in place, outside the graph: under no_grad, or on a tensor that needs no grad."""
        if self.requires_grad and engine.is_grad_enabled():
            raise NotImplementedError(  # a RuntimeError, as PyTorch's refusal for a leaf
                f"zero_: this tensor (shape {self.shape}) requires grad, and minigrad has no in-place ops in the "
                "graph (ops saved its array for backward); zero it under minigrad.no_grad(), or use zeros_like(x)")
        self.data[...] = 0
        return self


def _refuse_other(op: str, dim: Any) -> None:
    if isinstance(dim, Tensor):
        raise NotImplementedError(f"{op}: {op}(input, other), the elementwise {op}imum of two tensors, "
                                  f"is not supported; give an int dim")


class MaxResult(NamedTuple):
    values: Tensor
    indices: Tensor


class MinResult(NamedTuple):
    values: Tensor
    indices: Tensor


from minigrad import ops  # noqa: E402  (ops import Tensor: load them after the class exists)
