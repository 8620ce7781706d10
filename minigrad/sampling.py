"""Random tensors, with torch's names and signatures: randn, rand, randint, their *_like twins, randperm,
multinomial, normal and bernoulli.

Each draws from `generator=` (a minigrad.Generator) or else from the default generator that
`minigrad.manual_seed` seeds. The streams are NumPy's: PyTorch's distributions, other numbers.
Outputs are outside the graph; a mean, std or probability that requires grad is refused (PyTorch's
gradient through a sample is zero, which minigrad does not pretend to compute).
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from minigrad.creation import _dtype_for, _made, _no_layout, write_out
from minigrad.ops import shape_arg
from minigrad.random import Generator, numpy_generator
from minigrad.tensor import Tensor


def _float_dtype(dtype: np.dtype, op: str) -> np.dtype:
    if dtype.kind != "f":
        raise TypeError(f"{op}: dtype={dtype} is not supported: {op} draws floating-point numbers (float32 or float64)")
    return dtype


def randn(*size: Any, generator: Generator | None = None, out: Tensor | None = None, dtype: Any = None,
          layout: Any = None, device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Standard normal samples N(0, 1) of that size."""
    _no_layout("randn", layout, pin_memory)
    dtype = _float_dtype(_dtype_for(dtype, out, "randn"), "randn")
    data = numpy_generator(generator, "randn").standard_normal(shape_arg(size), dtype=dtype.type)
    return _made(data, requires_grad, device, out, "randn")


def rand(*size: Any, generator: Generator | None = None, out: Tensor | None = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Uniform samples in [0, 1) of that size."""
    _no_layout("rand", layout, pin_memory)
    dtype = _float_dtype(_dtype_for(dtype, out, "rand"), "rand")
    data = numpy_generator(generator, "rand").random(shape_arg(size), dtype=dtype.type)
    return _made(data, requires_grad, device, out, "rand")


def randint(*bounds: Any, size: Any = None, generator: Generator | None = None, out: Tensor | None = None,
            dtype: Any = None, layout: Any = None, device: Any = None, requires_grad: bool = False,
            pin_memory: bool = False) -> Tensor:
    """Integers in [low, high), as torch.randint: randint(high, size) or randint(low, high, size)
    (int64 unless dtype says otherwise, e.g. float32: whole numbers stored as floats)."""
    _no_layout("randint", layout, pin_memory)
    if size is None and bounds and not isinstance(bounds[-1], numbers.Integral):
        *bounds, size = bounds  # the size came last, positionally
    if size is None or len(bounds) not in (1, 2):
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), got bounds {tuple(bounds)} "
                        f"and size={size!r}")
    low, high = (0, bounds[0]) if len(bounds) == 1 else bounds
    return _integers("randint", low, high, shape_arg((size,)), _dtype_for(dtype, out, "randint", np.int64),
                     generator, requires_grad, device, out)


def _integers(op: str, low: Any, high: Any, shape: tuple, dtype: np.dtype, generator: Generator | None,
              requires_grad: bool, device: Any, out: Tensor | None = None) -> Tensor:
    low, high = (int(getattr(b, "item", lambda b=b: b)()) for b in (low, high))
    if not low < high:
        raise ValueError(f"{op}: low ({low}) must be less than high ({high})")
    values = numpy_generator(generator, op).integers(low, high, size=shape)
    return _made(values.astype(dtype, copy=False), requires_grad, device, out, op)


def randn_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None, layout: Any = None,
               device: Any = None, requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """randn of input's shape and dtype (a float dtype)."""
    return randn(input.shape, generator=generator, dtype=input.dtype if dtype is None else dtype, layout=layout,
                 device=device, requires_grad=requires_grad)


def rand_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None, layout: Any = None,
              device: Any = None, requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """rand of input's shape and dtype (a float dtype)."""
    return rand(input.shape, generator=generator, dtype=input.dtype if dtype is None else dtype, layout=layout,
                device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, generator: Generator | None = None,
                 dtype: Any = None, layout: Any = None, device: Any = None, requires_grad: bool = False,
                 memory_format: Any = None) -> Tensor:
    """Integers in [low, high) in input's shape and dtype: randint_like(x, high) or randint_like(x, low, high)."""
    _no_layout("randint_like", layout, False)
    if high is None:
        low, high = 0, low
    dtype = np.dtype(input.dtype if dtype is None else dtype)
    return _integers("randint_like", low, high, input.shape, dtype, generator, requires_grad, device)


def randperm(n: int, *, generator: Generator | None = None, out: Tensor | None = None, dtype: Any = np.int64,
             layout: Any = None, device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0, ..., n - 1: (n,), int64 unless told."""
    _no_layout("randperm", layout, pin_memory)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    values = numpy_generator(generator, "randperm").permutation(int(n))
    dtype = out.dtype if isinstance(out, Tensor) else dtype
    return _made(values.astype(dtype), requires_grad, device, out, "randperm")


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator: Generator | None = None,
                out: Tensor | None = None) -> Tensor:
    """Category indices drawn with probability proportional to input's weights: (C,) -> (num_samples,),
    (B, C) -> (B, num_samples), int64; without replacement each category comes at most once."""
    p = input._data
    if p.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {p.dtype}")
    if p.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {p.shape}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample num_samples={num_samples!r} <= 0 samples")
    if not replacement and num_samples > p.shape[-1]:
        raise RuntimeError(f"multinomial: cannot sample num_samples={num_samples} > prob_dist.size(-1) = {p.shape[-1]} "
                           "samples without replacement")
    if not np.isfinite(p).all() or (p < 0).any():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    rows = np.atleast_2d(p).astype(np.float64)  # (B, C): the sums in double, so float32 weights add up to 1
    total = rows.sum(axis=1, keepdims=True)
    if (total <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rng = numpy_generator(generator, "multinomial")
    if replacement:  # inverse CDF: the first category whose cumulative probability exceeds u
        cdf = np.cumsum(rows / total, axis=1)
        u = rng.random((rows.shape[0], num_samples))
        picks = np.stack([np.searchsorted(c, row_u, side="right") for c, row_u in zip(cdf, u)])
        picks = np.minimum(picks, np.argmax(cdf >= cdf[:, -1:], axis=1)[:, None])  # u near 1: the last nonzero category
    else:  # the k largest p / E with E ~ Exp(1) are a draw of k without replacement (PyTorch's method too)
        keys = rows / rng.standard_exponential(rows.shape)
        picks = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    picks = picks.astype(np.int64).reshape(p.shape[:-1] + (num_samples,))
    return write_out(picks, out, "multinomial") if out is not None else Tensor(picks)


def _no_grad_through(op: str, **tensors: Any) -> None:
    for name, t in tensors.items():
        if isinstance(t, Tensor) and t.requires_grad:
            raise NotImplementedError(f"{op}: {name} requires grad: gradients through a random sample are not "
                                      f"supported (PyTorch's is zero); pass {name}.detach()")


def normal(mean: Any, std: Any = 1.0, size: Any = None, *, generator: Generator | None = None,
           out: Tensor | None = None, dtype: Any = None, layout: Any = None, device: Any = None,
           pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """mean + std * N(0, 1): tensors mean and/or std broadcast to the output; two numbers need size."""
    _no_layout("normal", layout, pin_memory)
    _no_grad_through("normal", mean=mean, std=std)
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        if size is not None or dtype is not None:
            raise TypeError("normal: size= and dtype= go with a number mean and a number std, not with tensors")
        dtype = _float_dtype(np.dtype(tensors[0].dtype), "normal")
        m, s = (np.asarray(getattr(v, "_data", v), dtype=dtype) for v in (mean, std))
        shape = np.broadcast_shapes(m.shape, s.shape)
    else:
        if size is None:
            raise TypeError("normal: with a number mean and a number std, size= is required")
        dtype = _float_dtype(_dtype_for(dtype, out, "normal"), "normal")
        m, s, shape = dtype.type(mean), dtype.type(std), shape_arg((size,))
    if (np.asarray(s) < 0).any():
        raise RuntimeError(f"normal: std must be >= 0, got {s if np.ndim(s) == 0 else np.asarray(s).min()}")
    noise = numpy_generator(generator, "normal").standard_normal(shape, dtype=dtype.type)
    return _made((m + s * noise).astype(dtype, copy=False), requires_grad, device, out, "normal")


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None,
              out: Tensor | None = None) -> Tensor:
    """1 with probability input (or p), else 0, in input's shape and dtype."""
    _no_grad_through("bernoulli", input=input)
    probs = input._data if p is None else np.full(input.shape, p)
    if ((probs < 0) | (probs > 1) | np.isnan(probs)).any():
        raise RuntimeError("bernoulli: expected all probabilities in [0, 1]" + ("" if p is None else f", got p={p}"))
    u = numpy_generator(generator, "bernoulli").random(input.shape)
    values = (u < probs).astype(input.dtype)
    return write_out(values, out, "bernoulli") if out is not None else Tensor(values)


__all__ = ["randn", "rand", "randint", "randn_like", "rand_like", "randint_like", "randperm", "multinomial", "normal",
           "bernoulli"]
