"""Helpers for the minigrad.functional tests: fused op vs its composed twin, and seeded calls.

    check_twins(F.softmax, F.softmax_composed, [x])

runs both on copies of the same inputs, backpropagates the same random upstream gradient, and
checks that outputs and every input gradient agree (tolerances from oracle.TOLERANCES).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

import minigrad as mg
from oracle import TOLERANCES, assert_close


def _run(fn: Callable[..., Any], arrays: Sequence[np.ndarray], seed: int) -> tuple[np.ndarray, list]:
    """fn's output, and the gradient of <fn(*inputs), dout> for every float input."""
    tensors = [mg.Tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(*tensors)
    out = out[0] if isinstance(out, tuple) else out
    dout = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(out.dtype)
    (out * mg.Tensor(dout)).sum().backward()
    return out.data, [t.grad for t in tensors]


def check_twins(fused: Callable[..., Any], composed: Callable[..., Any],
                arrays: Sequence[np.ndarray], seed: int = 0) -> None:
    """fused(*x) == composed(*x), and so are their gradients, within the dtype's tolerance."""
    tol = TOLERANCES[np.dtype(arrays[0].dtype).type]
    out_f, grads_f = _run(fused, arrays, seed)
    out_c, grads_c = _run(composed, arrays, seed)
    assert out_f.dtype == out_c.dtype, f"fused gives {out_f.dtype}, composed {out_c.dtype}"
    assert_close(out_f, out_c, "fused output vs composed", **tol, reference="composed")
    for i, (gf, gc) in enumerate(zip(grads_f, grads_c)):
        if arrays[i].dtype.kind != "f":
            continue
        assert gf is not None and gc is not None, f"input {i}: one twin gave no gradient"
        assert_close(gf, gc, f"fused gradient of input {i} vs composed", **tol, reference="composed")


def seeded(fn: Callable[..., Any], seed: int = 0) -> Callable[..., Any]:
    """fn, but minigrad is reseeded before every call: each call draws the same dropout mask."""
    def call(*args: Any, **kwargs: Any) -> Any:
        mg.manual_seed(seed)
        return fn(*args, **kwargs)
    return call
