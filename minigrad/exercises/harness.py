"""The checks every exercise test uses (copied into a workspace as tests/harness.py).

Not imported by minigrad itself: it needs PyTorch, the oracle. Unlike tests/oracle.py's check_op,
which backpropagates `(out * dout).sum()` (and so also runs Mul's and Sum's backward), these
checks call `out.backward(dout)` directly: the op under test is the only backward that runs,
so each exercise can be solved alone, in any order.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

import minigrad as mg
from oracle import TOLERANCES, assert_close

FD_EPS = 1e-6  # central differences in float64: error ~eps^2 (truncation) + 1e-16/eps (rounding)
FD_TOLERANCE = dict(rtol=1e-6, atol=1e-7)


def make_inputs(inputs: Sequence[Any], dtype: Any, low: float | None, seed: int = 0) -> list[np.ndarray]:
    """A shape gives N(0, 1) values (low + |N(0, 1)| if low is set); an array is used as it is."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in inputs:
        if isinstance(spec, np.ndarray):
            arrays.append(spec.astype(dtype))
            continue
        a = rng.standard_normal(spec)
        arrays.append(np.asarray(a if low is None else low + np.abs(a), dtype=dtype))
    return arrays


def _first(x: Any) -> Any:
    return x[0] if isinstance(x, tuple | list) else x


def _check_output(out: Any, expected: torch.Tensor, tol: dict) -> None:
    assert isinstance(out, mg.Tensor), f"minigrad returned {type(out).__name__}, not a Tensor"
    assert out.shape == tuple(expected.shape), f"output shape {out.shape}, expected {tuple(expected.shape)}"
    expected_dtype = np.dtype(str(expected.dtype).replace("torch.", ""))
    assert out.dtype == expected_dtype, f"output dtype {out.dtype}, expected {expected_dtype}"
    assert_close(out.data, expected.detach().numpy(), "output", **tol)


def check_forward(ours: Callable, theirs: Callable, inputs: Sequence[Any], low: float | None = None,
                  dtype: Any = np.float64) -> None:
    """ours(*x) == theirs(*x) in shape, dtype and values. The forward is given: this passes from the start."""
    arrays = make_inputs(inputs, dtype, low)
    out = _first(ours(*[mg.Tensor(a.copy()) for a in arrays]))
    _check_output(out, _first(theirs(*[torch.tensor(a.copy()) for a in arrays])), TOLERANCES[np.dtype(dtype).type])


def check_backward(ours: Callable, theirs: Callable, inputs: Sequence[Any], low: float | None = None,
                   dtype: Any = np.float64, seed: int = 0) -> None:
    """Every input's gradient of <ours(*x), dout> equals PyTorch's, for a random dout."""
    tol = TOLERANCES[np.dtype(dtype).type]
    arrays = make_inputs(inputs, dtype, low, seed)
    xs = [mg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out, expected = _first(ours(*xs)), _first(theirs(*ts))
    _check_output(out, expected, tol)
    dout = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(out.dtype)
    out.backward(dout)  # only this op's backward runs
    expected.backward(torch.tensor(dout))
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad is not None, f"input {i} got no gradient: did backward return None for it?"
        assert x.grad.dtype == x.dtype, f"gradient of input {i} has dtype {x.grad.dtype}, input is {x.dtype}"
        expected_grad = t.grad.numpy() if t.grad is not None else np.zeros_like(x.data)
        assert_close(x.grad, expected_grad, f"gradient of input {i} (shape {x.shape})", **tol)


def check_finite_differences(ours: Callable, inputs: Sequence[Any], low: float | None = None,
                             seed: int = 0) -> None:
    """backward agrees with (f(x + eps) - f(x - eps)) / 2 eps, element by element, in float64."""
    xs = [mg.Tensor(a, requires_grad=True) for a in make_inputs(inputs, np.float64, low, seed)]
    out = _first(ours(*xs))
    v = np.random.default_rng(seed + 1).standard_normal(out.shape)  # f(x) = <ours(x), v>
    out.backward(v)

    def f() -> float:
        with mg.no_grad():
            return float((_first(ours(*xs)).data * v).sum())

    for i, x in enumerate(xs):
        numeric = np.zeros_like(x.data)
        for k in np.ndindex(x.shape):
            saved = x.data[k]
            x.data[k] = saved + FD_EPS
            plus = f()
            x.data[k] = saved - FD_EPS
            minus = f()
            x.data[k] = saved
            numeric[k] = (plus - minus) / (2 * FD_EPS)
        assert x.grad is not None, f"input {i} got no gradient: did backward return None for it?"
        assert_close(x.grad, numeric, f"gradient of input {i} (shape {x.shape})", **FD_TOLERANCE,
                     reference="finite differences")
