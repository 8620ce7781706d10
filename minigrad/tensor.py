"""Tensor: a NumPy array, an optional gradient, and a link to the op that made it.

Every method that computes something only dispatches to an op in `minigrad.ops` (or a fused
one in `minigrad.functional`); the math and its gradient live there, side by side.

dtype policy: Python numbers and lists become float32; a NumPy array keeps its dtype (so
gradient checks can run in float64); integer arrays stay integer (labels) and cannot require
grad. A Python number or a NumPy array mixed into an op takes the tensor's dtype; two tensors of
different float dtypes are an error, never a silent upcast.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from minigrad import engine

DEFAULT_DTYPE = np.float32


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray | np.generic):
        arr = np.asarray(data)
        if arr.dtype.kind not in "fiub":
            raise TypeError(
                f"Tensor: unsupported array dtype {arr.dtype}; use a float, integer or bool array"
            )
        if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
            arr = arr.astype(np.float32)  # float16 is not supported: compute in float32
    else:
        try:
            arr = np.asarray(data, dtype=DEFAULT_DTYPE if dtype is None else dtype)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"Tensor: cannot make a numeric tensor from {type(data).__name__} data ({err})"
            ) from None
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    return arr


class Tensor:
    """An n-dimensional array that can record the ops applied to it and backpropagate."""

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # so `np_array * tensor` calls Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self._ctx: engine.Context | None = None  # the op that produced this tensor
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """Wrap an op's output array without copying or converting it."""
        out = cls.__new__(cls)
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

    @property
    def size(self) -> int:
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data.item())

    def __len__(self) -> int:
        return len(self.data)

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

    def to(self, dtype: Any) -> Tensor:
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

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
            grad = _to_array(grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape}, tensor has {self.shape}")
        if trace:
            from minigrad.tools.trace import trace as tracing  # lazy: the tools import Tensor

            with tracing():
                engine.backward(self, grad, retain_graph=retain_graph)
        else:
            engine.backward(self, grad, retain_graph=retain_graph)

    # -- making operands tensors ----------------------------------------------------------------
    def _operand(self, other: Any) -> Tensor:
        """A constant (number or array) mixed into an op takes this tensor's float dtype."""
        if isinstance(other, Tensor):
            return other
        dtype = self.dtype if self.dtype.kind == "f" else None
        return Tensor(other, dtype=dtype)

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
        return ops.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self._operand(other), self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, Tensor) or np.ndim(exponent) > 0:
            return ops.Pow.apply(self, self._operand(exponent))
        return ops.PowScalar.apply(self, exponent=float(exponent))

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

    # -- reductions -----------------------------------------------------------------------------
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.Mean.apply(self, dim=dim, keepdim=keepdim)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxResult:
        """Without dim: the largest element. With dim: (values, indices), as torch.max."""
        if dim is None:
            return ops.Max.apply(self, dim=None, keepdim=keepdim)
        values = ops.Max.apply(self, dim=dim, keepdim=keepdim)
        indices = Tensor(np.argmax(self.data, axis=ops.normalize_dim(dim, self.ndim, "max")))
        if keepdim:
            indices = Tensor(np.expand_dims(indices.data, dim))
        return MaxResult(values, indices)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        if dim is None:
            return Tensor(np.argmax(self.data))
        return Tensor(np.argmax(self.data, axis=dim, keepdims=keepdim))

    # -- shape and movement ---------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.Reshape.apply(self, shape=ops.shape_arg(shape))

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.Reshape.apply(self, shape=ops.shape_arg(shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return ops.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return ops.unsqueeze(self, dim)

    def squeeze(self, dim: int | None = None) -> Tensor:
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
        self.data[...] = 0
        return self


class MaxResult(NamedTuple):
    values: Tensor
    indices: Tensor


from minigrad import ops  # noqa: E402  (ops import Tensor: load them after the class exists)
