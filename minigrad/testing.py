"""The checks every gradient test uses, in the tests and in the exercises alike.

    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)])      # against PyTorch
    check_twins(F.softmax, F.softmax_composed, [x])                          # op vs composed twin
    check_kernel(lambda x: F.softmax(x, dim=-1), [(3, 5)])                   # kernel vs reference
    check_finite_differences(lambda x: x.tanh(), [(3, 4)])                  # backward vs forward
    check_refused(F.gelu, TF.gelu, [np.arange(3)], "^gelu: needs a float")  # refused, as by PyTorch

Each builds the same inputs for both sides, backpropagates the same *random* upstream gradient
(`out.backward(dout)`: only the ops under test run backward, and a random dout catches the
transpose bugs that a gradient of ones hides), and checks output shape, dtype and values and
every input gradient with the tolerances below. `check_op` runs minigrad twice, with its kernels
and with its reference formulas (`minigrad.reference()`), and compares both with PyTorch; in float64
also the second derivatives (create_graph=True), with an upstream gradient that itself requires grad.

PyTorch is the oracle of check_op only, imported when it runs: the rest needs NumPy alone.
"""
from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Sequence

import numpy as np

import minigrad as mg
from minigrad.tools.gradcheck import gradcheck

# float64: the math must agree to ~1e-10 relative. float32: the precision training runs at.
TOLERANCES = {
    np.float64: dict(rtol=1e-10, atol=1e-10),
    np.float32: dict(rtol=1e-4, atol=1e-5),
}
DTYPES = [np.float64, np.float32]
MODES = ("kernels", "reference")  # how check_op runs minigrad: its default ops, then the formulas
FD_TOLERANCE = dict(rtol=1e-6, atol=1e-7)  # central differences in float64, eps = 1e-6


def mode(name: str) -> contextlib.AbstractContextManager:
    """The context a MODES entry names: "reference" is minigrad.reference(), "kernels" the default."""
    if name not in MODES:
        raise ValueError(f"minigrad.testing: mode must be one of {MODES}, got {name!r}")
    return mg.reference() if name == "reference" else contextlib.nullcontext()


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


def random_inputs(specs: Sequence[Any], dtype: Any, seed: int = 0, low: float | None = None) -> list[np.ndarray]:
    """A shape gives N(0, 1) values (low + |N(0, 1)| if low is set, away from a kink or a pole);
    an array is used as it is (floats converted to dtype)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs:
        if isinstance(spec, np.ndarray):
            arrays.append(spec.astype(dtype) if spec.dtype.kind == "f" else spec.copy())
            continue
        a = rng.standard_normal(spec)
        arrays.append(np.asarray(a if low is None else low + np.abs(a), dtype=dtype))
    return arrays


def _first(x: Any) -> Any:
    return x[0] if isinstance(x, tuple | list) else x


def _tolerance(dtype: Any, rtol: float | None, atol: float | None) -> dict:
    tol = dict(TOLERANCES[np.dtype(dtype).type])
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    return tol


def _run(fn: Callable[..., Any], arrays: Sequence[np.ndarray], grad_inputs: Sequence[bool]) -> tuple:
    """fn's output on fresh leaves made from copies of the arrays -> (output, leaves)."""
    leaves = [mg.Tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad_inputs)]
    out = _first(fn(*leaves))
    assert isinstance(out, mg.Tensor), f"minigrad returned {type(out).__name__}, not a Tensor"
    return out, leaves


def _grads(out: mg.Tensor, leaves: Sequence[mg.Tensor], seed: int, dout: np.ndarray | None = None) -> list:
    """Each leaf's gradient of <out, dout> (dout random if None): out.backward(dout) alone."""
    if out.requires_grad:
        if dout is None:
            dout = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(out.dtype)
        out.backward(dout)
    return [t.grad for t in leaves]


def _backprop(fn: Callable[..., Any], arrays: Sequence[np.ndarray], grad_inputs: Sequence[bool],
              seed: int) -> tuple[mg.Tensor, list]:
    out, leaves = _run(fn, arrays, grad_inputs)
    return out, _grads(out, leaves, seed)


def check_op(our_fn: Callable[..., Any], torch_fn: Callable[..., Any], shapes: Sequence[Any] | None = None,
             dtype: Any = np.float64, inputs: Sequence[np.ndarray] | None = None,
             grad_inputs: Sequence[bool] | None = None, low: float | None = None, seed: int = 0,
             rtol: float | None = None, atol: float | None = None, modes: Sequence[str] = MODES,
             second_order: bool = True) -> None:
    """Same inputs, same random upstream gradient; compare outputs and all input gradients with PyTorch.

    `our_fn`/`torch_fn` take the inputs positionally and return a tensor (or a tuple whose first
    element is checked). `shapes` may mix shapes and arrays; `inputs` gives all the arrays.
    Integer inputs (labels) are passed through without gradient. In float64 the second derivatives
    are compared too (`_second_order`); second_order=False leaves them to another check (the exercises'
    check_backward: a workspace's unsolved Sum or Mul would fail them; BCE at its clamps, where PyTorch's
    double backward is a formula of its own).
    """
    import torch

    if inputs is not None:  # tolerances follow the inputs' float dtype
        dtype = next((a.dtype for a in inputs if a.dtype.kind == "f"), dtype)
    tol = _tolerance(dtype, rtol, atol)
    arrays = list(inputs) if inputs is not None else random_inputs(shapes, dtype, seed, low)
    if grad_inputs is None:
        grad_inputs = [a.dtype.kind == "f" for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad_inputs)]
    expected = _first(torch_fn(*theirs))
    expected_dtype = np.dtype(str(expected.dtype).replace("torch.", ""))
    dout = np.random.default_rng(seed + 1).standard_normal(tuple(expected.shape)).astype(expected_dtype)
    if any(grad_inputs) and expected.requires_grad:
        expected.backward(torch.tensor(dout))
    second_order = second_order and np.dtype(dtype) == np.float64 and any(grad_inputs) and expected.requires_grad
    if second_order:
        v = random_inputs([a.shape for a, g in zip(arrays, grad_inputs) if g], dtype, seed + 2)
        expected_twice = _second_order(torch, torch_fn, arrays, grad_inputs, dout, v)
    for name in modes:
        where = f" [{name}]" if len(modes) > 1 else ""
        with mode(name):
            out, leaves = _run(our_fn, arrays, grad_inputs)
            assert out.shape == tuple(expected.shape), f"output shape {out.shape}, expected {tuple(expected.shape)}{where}"
            assert out.dtype == expected_dtype, f"output dtype {out.dtype}, expected {expected_dtype}{where}"
            assert_close(out._data, expected.detach().numpy(), "output" + where, **tol)
            grads = _grads(out, leaves, seed, dout) if any(grad_inputs) and expected.requires_grad else []
        for i, (g, t, needs) in enumerate(zip(grads, theirs, grad_inputs)):
            if not needs:
                continue
            expected_grad = t.grad.numpy() if t.grad is not None else np.zeros(t.shape, dtype=expected_dtype)
            assert g is not None, f"input {i} got no gradient{where}: did backward return None for it?"
            assert g.dtype == arrays[i].dtype, f"gradient of input {i} has dtype {g.dtype}, input is {arrays[i].dtype}"
            assert_close(g, expected_grad, f"gradient of input {i} (shape {g.shape}){where}", **tol)
        if second_order:
            with mode(name):
                got_twice = _second_order(mg, our_fn, arrays, grad_inputs, dout, v)
            for what, want in expected_twice.items():
                assert_close(got_twice[what], want, what + where, **tol)


def _second_order(framework: Any, fn: Callable[..., Any], arrays: Sequence[np.ndarray], grad_inputs: Sequence[bool],
                  dout: np.ndarray, v: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """The same steps on either framework (torch or minigrad): the gradients d<out, g>/dx of fn's output with an
    upstream gradient g that itself requires grad, taken with create_graph=True, then the gradients of
    <first, v> = sum_i <d<out, g>/dx_i, v_i> with respect to every input x and to g (v random)."""
    leaves = [framework.tensor(a.copy(), requires_grad=bool(needs)) for a, needs in zip(arrays, grad_inputs)]
    g = framework.tensor(dout.copy(), requires_grad=True)
    plain = contextlib.nullcontext()
    if framework is not mg:  # PyTorch's fused CPU attention kernel has no double backward: its plain formulas
        from torch.nn.attention import SDPBackend, sdpa_kernel

        plain = sdpa_kernel(SDPBackend.MATH)
    with plain:
        return _second_order_steps(framework, fn, leaves, grad_inputs, g, v)


def _second_order_steps(framework: Any, fn: Callable[..., Any], leaves: list, grad_inputs: Sequence[bool], g: Any,
                        v: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    out = _first(fn(*leaves))
    wrt = [t for t, needs in zip(leaves, grad_inputs) if needs]
    firsts = framework.autograd.grad(out, wrt, g, create_graph=True, allow_unused=True)
    results = {f"first gradient of input {i}": _numpy(d, t) for i, (d, t) in enumerate(zip(firsts, wrt))}
    terms = [(d * framework.tensor(w)).sum() for d, w in zip(firsts, v) if d is not None and d.requires_grad]
    seconds = [None] * (len(wrt) + 1)
    if terms:
        seconds = framework.autograd.grad(sum(terms[1:], terms[0]), [*wrt, g], allow_unused=True)
    for i, (d, t) in enumerate(zip(seconds, [*wrt, g])):
        results[f"second derivative d<first, v>/d{'g' if t is g else f' input {i}'}"] = _numpy(d, t)
    return results


def _numpy(d: Any, like: Any) -> np.ndarray:
    """A gradient as a float64 array; None (no path) as zeros."""
    if d is None:
        return np.zeros(tuple(like.shape))
    if hasattr(d, "_is_zerotensor"):  # torch: its "ZeroTensor" (an abs'' of 0) needs force=True
        return np.asarray(d.detach().numpy(force=True), dtype=np.float64)
    return np.asarray(d.detach().numpy(), dtype=np.float64)


def check_refused(our_fn: Callable[..., Any], torch_fn: Callable[..., Any], arrays: Sequence[np.ndarray | None],
                  match: str, error: type[Exception] = TypeError) -> None:
    """PyTorch refuses these inputs (None: an absent optional argument), and minigrad refuses them too, with
    the kernels and with the reference formulas, raising `error` with a message that `match` finds."""
    import torch

    try:
        torch_fn(*[None if a is None else torch.tensor(a) for a in arrays])
    except (RuntimeError, NotImplementedError):
        pass
    else:
        raise AssertionError("PyTorch accepts these inputs: nothing to refuse")
    for name in MODES:
        with mode(name):
            try:
                our_fn(*[None if a is None else mg.Tensor(a) for a in arrays])
            except error as err:
                if not re.search(match, str(err)):
                    raise AssertionError(f"{name}: the refusal {str(err)!r} does not match {match!r}") from None
            else:
                raise AssertionError(f"{name}: minigrad accepted inputs that PyTorch refuses")


def check_forward(our_fn: Callable[..., Any], torch_fn: Callable[..., Any], shapes: Sequence[Any],
                  low: float | None = None, dtype: Any = np.float64) -> None:
    """Only the forward: output shape, dtype and values equal PyTorch's (in reference mode)."""
    check_op(our_fn, torch_fn, shapes, dtype, low=low, grad_inputs=[False] * len(shapes), modes=("reference",))


def check_backward(our_fn: Callable[..., Any], torch_fn: Callable[..., Any], shapes: Sequence[Any],
                   low: float | None = None, dtype: Any = np.float64, seed: int = 0) -> None:
    """Output and every input gradient equal PyTorch's, in reference mode (the formulas you write). First order
    only: the second-order check differentiates sums and products, whose backwards may be exercises not yet done."""
    check_op(our_fn, torch_fn, shapes, dtype, low=low, seed=seed, modes=("reference",), second_order=False)


def check_finite_differences(fn: Callable[..., Any], shapes: Sequence[Any], low: float | None = None,
                             seed: int = 0, reference: bool = True) -> None:
    """backward agrees with (f(x + eps) - f(x - eps)) / 2 eps, element by element, in float64."""
    leaves = [mg.Tensor(a, requires_grad=a.dtype.kind == "f") for a in random_inputs(shapes, np.float64, seed, low)]
    with mode("reference" if reference else "kernels"):
        gradcheck(lambda *x: _first(fn(*x)), leaves, **FD_TOLERANCE, seed=seed + 1)


def check_twins(fused: Callable[..., Any], composed: Callable[..., Any],
                arrays: Sequence[np.ndarray], seed: int = 0) -> None:
    """fused(*x) == composed(*x), and so are their gradients, within the dtype's tolerance."""
    tol = _tolerance(arrays[0].dtype, None, None)
    grad_inputs = [a.dtype.kind == "f" for a in arrays]
    out_f, grads_f = _backprop(fused, arrays, grad_inputs, seed)
    out_c, grads_c = _backprop(composed, arrays, grad_inputs, seed)
    assert out_f.dtype == out_c.dtype, f"fused gives {out_f.dtype}, composed {out_c.dtype}"
    assert_close(out_f._data, out_c._data, "fused output vs composed", **tol, reference="composed")
    for i, (gf, gc) in enumerate(zip(grads_f, grads_c)):
        if grad_inputs[i]:
            assert gf is not None and gc is not None, f"input {i}: one twin gave no gradient"
            assert_close(gf, gc, f"fused gradient of input {i} vs composed", **tol, reference="composed")


def check_kernel(fn: Callable[..., Any], shapes: Sequence[Any], dtype: Any = np.float64, seed: int = 0,
                 low: float | None = None, rtol: float | None = None, atol: float | None = None) -> None:
    """fn with minigrad's kernels equals fn in reference mode: output and every input gradient, with
    minigrad reseeded before each run (so dropout draws the same mask), and again under no_grad."""
    arrays = random_inputs(shapes, dtype, seed, low)
    tol = _tolerance(next((a.dtype for a in arrays if a.dtype.kind == "f"), dtype), rtol, atol)
    grad_inputs = [a.dtype.kind == "f" for a in arrays]
    runs = {}
    for name in MODES:
        with mode(name):
            mg.manual_seed(seed)
            runs[name] = _backprop(fn, arrays, grad_inputs, seed)
    (out_k, grads_k), (out_r, grads_r) = runs["kernels"], runs["reference"]
    assert out_k.shape == out_r.shape and out_k.dtype == out_r.dtype, (
        f"kernel gives {out_k.dtype} {out_k.shape}, reference {out_r.dtype} {out_r.shape}")
    assert_close(out_k._data, out_r._data, "kernel output", **tol, reference="reference")
    for i, (gk, gr) in enumerate(zip(grads_k, grads_r)):
        if grad_inputs[i]:
            assert (gk is None) == (gr is None), f"input {i}: only one of kernel and reference gave a gradient"
            if gk is not None:
                assert gk.dtype == gr.dtype, f"kernel gradient of input {i} is {gk.dtype}, reference {gr.dtype}"
                assert_close(gk, gr, f"kernel gradient of input {i}", **tol, reference="reference")
    with mg.no_grad():  # the path a kernel may take when no backward will follow
        mg.manual_seed(seed)
        out_n = _first(fn(*[mg.Tensor(a.copy()) for a in arrays]))
    assert_close(out_n._data, out_r._data, "kernel output under no_grad", **tol, reference="reference")


def seeded(fn: Callable[..., Any], seed: int = 0) -> Callable[..., Any]:
    """fn, but minigrad is reseeded before every call: each call draws the same dropout mask."""
    def call(*args: Any, **kwargs: Any) -> Any:
        mg.manual_seed(seed)
        return fn(*args, **kwargs)
    return call
