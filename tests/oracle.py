"""The one helper every gradient test uses: run the same function in minigrad and PyTorch.

    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)])

builds the same random inputs in both frameworks, backpropagates the same *random* upstream
gradient (`(out * dout).sum()`, which catches transpose bugs that `.sum()` hides), and checks
output shape, dtype and values and every input gradient, with the tolerances below.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

import minigrad as mg

# float64: the math must agree to ~1e-10 relative. float32: the precision training runs at.
TOLERANCES = {
    np.float64: dict(rtol=1e-10, atol=1e-10),
    np.float32: dict(rtol=1e-4, atol=1e-5),
}
DTYPES = [np.float64, np.float32]


def assert_close(got: np.ndarray, expected: np.ndarray, what: str, rtol: float, atol: float,
                 reference: str = "PyTorch") -> None:
    """Like np.testing.assert_allclose, but the message names the worst element for a learner."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    if got.size == 0:
        return
    both_inf = np.isinf(got) & np.isinf(expected) & (np.sign(got) == np.sign(expected))
    both_nan = np.isnan(got) & np.isnan(expected)
    with np.errstate(invalid="ignore"):
        excess = np.abs(got.astype(np.float64) - expected) - (atol + rtol * np.abs(expected))
    excess = np.where(both_inf | both_nan, -1.0, np.nan_to_num(excess, nan=np.inf))
    if excess.max() > 0:
        k = np.unravel_index(np.argmax(excess), got.shape)
        raise AssertionError(
            f"{what} is wrong: worst element at index {tuple(int(i) for i in k)} is {float(got[k])!r}, "
            f"expected {float(expected[k])!r} ({reference}) [rtol={rtol}, atol={atol}]"
        )


def random_inputs(shapes: Sequence[tuple], dtype: Any, seed: int = 0, low: float | None = None) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        a = rng.standard_normal(shape)
        if low is not None:  # keep inputs away from a kink or a pole (log, sqrt, division)
            a = low + np.abs(a)
        arrays.append(np.asarray(a, dtype=dtype))
    return arrays


def check_op(
    our_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    shapes: Sequence[tuple] | None = None,
    dtype: Any = np.float64,
    inputs: Sequence[np.ndarray] | None = None,
    grad_inputs: Sequence[bool] | None = None,
    low: float | None = None,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Same inputs, same random upstream gradient; compare outputs and all input gradients.

    `our_fn`/`torch_fn` take the inputs positionally and return a tensor (or a tuple whose
    first element is checked). Integer inputs (labels) are passed through without gradient.
    """
    if inputs is not None:  # tolerances follow the inputs' float dtype
        dtype = next((a.dtype for a in inputs if a.dtype.kind == "f"), dtype)
    dtype = np.dtype(dtype).type
    tol = dict(TOLERANCES[dtype])
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    arrays = list(inputs) if inputs is not None else random_inputs(shapes, dtype, seed, low)
    if grad_inputs is None:
        grad_inputs = [a.dtype.kind == "f" for a in arrays]

    ours = [mg.Tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad_inputs)]
    theirs = [torch.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad_inputs)]
    out = _first(our_fn(*ours))
    expected = _first(torch_fn(*theirs))

    assert isinstance(out, mg.Tensor), f"minigrad returned {type(out).__name__}, not a Tensor"
    assert out.shape == tuple(expected.shape), f"output shape {out.shape}, expected {tuple(expected.shape)}"
    assert out.dtype == np.dtype(str(expected.dtype).replace("torch.", "")), (
        f"output dtype {out.dtype}, expected {expected.dtype}"
    )
    assert_close(out.data, expected.detach().numpy(), "output", **tol)

    if not any(grad_inputs):
        return
    dout = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(out.dtype)
    (out * mg.Tensor(dout)).sum().backward()
    (expected * torch.tensor(dout)).sum().backward()
    for i, (o, t, g) in enumerate(zip(ours, theirs, grad_inputs)):
        if not g:
            continue
        expected_grad = t.grad.numpy() if t.grad is not None else np.zeros_like(o.data)
        assert o.grad is not None, f"input {i} got no gradient (PyTorch's is nonzero)"
        assert o.grad.dtype == o.dtype, f"gradient of input {i} has dtype {o.grad.dtype}, input is {o.dtype}"
        assert_close(o.grad, expected_grad, f"gradient of input {i} (shape {o.shape})", **tol)


def _first(x: Any) -> Any:
    return x[0] if isinstance(x, tuple | list) else x
