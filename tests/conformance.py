"""Conformance with PyTorch's own test cases: the machinery that runs one case through both frameworks.

    python tests/conformance.py          # prints the tables (conformance_report): op / module /
                                         # optimizer, dtype, matched / refused / not applicable,
                                         # then second order in float64 (conformance_gradgrad)

The cases come from PyTorch's databases (torch.testing._internal): op_db's OpInfo samples for every op
minigrad exposes under PyTorch's name (conformance_ops), module_db and optim_db (conformance_nn). Each
case ends in one of four outcomes:
- matched: the same output (structure, shape, dtype, values within minigrad.testing.TOLERANCES;
  integers exactly) and the same gradient for every input under one random upstream gradient, in
  both of minigrad's modes (its kernels and its reference formulas);
- refused: minigrad raised ValueError / TypeError / NotImplementedError / IndexError from one of its
  own `raise` statements, with a message naming the op and the argument (`refusal_problem`);
- not applicable: PyTorch itself raises on the case, or the case needs what minigrad deliberately has
  no counterpart for (a dtype NumPy lacks: see conformance_report.DELIBERATE_DIFFERENCES);
- failed: anything else (a mismatch, a raw NumPy or Python error, a message that names nothing).
Ops whose output is random are compared by their statistics (conformance_random).
"""
from __future__ import annotations

import dataclasses
import inspect
import linecache
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import minigrad as mg
from minigrad.testing import MODES, TOLERANCES, assert_close, mode

MINIGRAD_DIR = str(Path(mg.__file__).parent)
DTYPES = {"float64": torch.float64, "float32": torch.float32}
REFUSALS = (ValueError, TypeError, NotImplementedError, IndexError)

# -- torch -> minigrad ----------------------------------------------------------------------------

NUMPY_DTYPES = {
    torch.float64: np.float64, torch.float32: np.float32, torch.float16: np.float16, torch.int64: np.int64,
    torch.int32: np.int32, torch.int16: np.int16, torch.int8: np.int8, torch.uint8: np.uint8, torch.bool: np.bool_,
}


class NotApplicable(Exception):
    """The case cannot be put to minigrad at all."""


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    if dtype not in NUMPY_DTYPES:
        raise NotApplicable(f"no NumPy dtype for {dtype}")
    return np.dtype(NUMPY_DTYPES[dtype])


def _map(obj: Any, fn: Callable[[Any], Any]) -> Any:
    """fn on each element of a dict, list or tuple (torch.Size is a value, not a container here)."""
    if isinstance(obj, dict):
        return {k: fn(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [fn(v) for v in obj]
    if isinstance(obj, tuple) and not isinstance(obj, torch.Size):
        return tuple(fn(v) for v in obj)
    return obj


class Translation:
    """One case, twice: fresh PyTorch leaves (`fresh`), and minigrad objects holding the same numbers (`ours`).

    A tensor that appears twice in the case (x * x) is one leaf on each side. `pairs` lists every
    (PyTorch tensor, minigrad tensor) of the last `ours` translation: the inputs whose gradients compare."""

    def __init__(self) -> None:
        self.torch_leaves: dict[int, torch.Tensor] = {}
        self.pairs: list[tuple[torch.Tensor, mg.Tensor]] = []
        self._memo: dict[int, mg.Tensor] = {}

    def fresh(self, obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            if id(obj) not in self.torch_leaves:
                self.torch_leaves[id(obj)] = obj.detach().clone().requires_grad_(obj.requires_grad)
            return self.torch_leaves[id(obj)]
        return _map(obj, self.fresh)

    def start(self) -> None:
        """Forget the minigrad side: the next `ours` makes new tensors (a new run, with gradients of its own)."""
        self.pairs, self._memo = [], {}

    def ours(self, obj: Any) -> Any:
        """A PyTorch object as minigrad takes it: Tensor, NumPy dtype, tuple, "cpu", a memory format's name."""
        if isinstance(obj, torch.Tensor):
            if id(obj) not in self._memo:
                numpy_dtype(obj.dtype)
                array = np.array(obj.detach().numpy(), copy=True, order="K")
                self._memo[id(obj)] = mg.Tensor(array, requires_grad=obj.requires_grad)
                self.pairs.append((obj, self._memo[id(obj)]))
            return self._memo[id(obj)]
        if isinstance(obj, torch.dtype):
            return numpy_dtype(obj).type
        if isinstance(obj, torch.device):
            return str(obj)
        if isinstance(obj, torch.memory_format):
            return str(obj).removeprefix("torch.")  # minigrad has no memory_format objects
        if isinstance(obj, torch.Size):
            return tuple(obj)
        return _map(obj, self.ours)


# -- PyTorch's answer -------------------------------------------------------------------------------------


def tensors(out: Any) -> list:
    """The tensors in an output, in order (the output itself, or each element of a tuple / list)."""
    if isinstance(out, torch.Tensor | mg.Tensor):
        return [out]
    if isinstance(out, tuple | list):
        return [t for o in out for t in tensors(o)]
    return []


def upstream(out: torch.Tensor, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(tuple(out.shape)).astype(numpy_dtype(out.dtype))


class TorchRun:
    """PyTorch on one call (args, kwargs): its output and, under the upstream gradients `douts` (random
    unless given), the gradient of every tensor in the call.

    With float64=True every float32 tensor is first copied to float64 (and `leaves` maps other tensors,
    such as a module's parameters, to their float64 copies): the same numbers, computed more exactly,
    the arbiter of a float32 disagreement (`close`)."""

    def __init__(self, theirs: Callable[..., Any], call: tuple, seed: int, douts: list | None = None,
                 float64: bool = False, leaves: dict[int, torch.Tensor] | None = None):
        self.leaves = dict(leaves or {})  # id of a tensor of the call -> the tensor this run used instead
        args, kwargs = (self._cast(c) if float64 else c for c in call)
        self.output = theirs(*args, **kwargs)
        self.differentiated = [t for t in tensors(self.output) if t.requires_grad]
        self.douts = douts if douts is not None else [upstream(t, seed + i) for i, t in enumerate(self.differentiated)]
        if self.differentiated:
            grads = [torch.from_numpy(d).to(t.dtype) for d, t in zip(self.douts, self.differentiated)]
            torch.autograd.backward(self.differentiated, grads)

    def _cast(self, obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            if id(obj) not in self.leaves:  # a copy of every tensor: gradients must not add up across runs
                dtype = torch.float64 if obj.dtype == torch.float32 else obj.dtype
                self.leaves[id(obj)] = obj.detach().to(dtype, copy=True).requires_grad_(obj.requires_grad)
            return self.leaves[id(obj)]
        return _map(obj, self._cast)

    def grad(self, tensor: torch.Tensor) -> np.ndarray | None:
        g = self.leaves.get(id(tensor), tensor).grad
        return None if g is None else g.detach().numpy()


# -- comparing ----------------------------------------------------------------------------------------------


def tolerance(dtype: Any) -> dict:
    return TOLERANCES.get(np.dtype(dtype).type, TOLERANCES[np.float32])


def close(ours: np.ndarray, theirs: np.ndarray, exact: np.ndarray | None, what: str) -> None:
    """ours == theirs within the tolerance of ours' dtype (minigrad.testing.TOLERANCES).

    In float32 both frameworks round, and where they disagree PyTorch's float64 answer (`exact`) decides,
    with the absolute tolerance taken at the tensor's scale: an element of a sum carries the rounding error
    of its largest terms, not of itself (OpInfo's inputs reach 9 in magnitude, their gradients 25), and
    PyTorch's own float32 rounding can be the larger error (layer_norm multiplies it by 1 / sqrt(eps))."""
    tol = tolerance(ours.dtype)
    try:
        assert_close(ours, theirs, what, **tol)
    except AssertionError:
        if exact is None:
            raise
        finite = np.abs(exact[np.isfinite(exact)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        assert_close(ours, exact, f"{what} (and against PyTorch in float64, atol x {scale:.3g})", rtol=tol["rtol"],
                     atol=tol["atol"] * scale)


def compare(ours: Any, theirs: Any, what: str, exact: Any = None) -> None:
    """Equal structure, shapes, dtypes and values (floats within tolerance, the rest exactly)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, mg.Tensor), f"{what}: minigrad returned {type(ours).__name__}, PyTorch a Tensor"
        expected_dtype = numpy_dtype(theirs.dtype)
        assert ours.shape == tuple(theirs.shape), f"{what}: shape {ours.shape}, PyTorch {tuple(theirs.shape)}"
        assert ours.dtype == expected_dtype, f"{what}: dtype {ours.dtype}, PyTorch {expected_dtype}"
        expected = theirs.detach().numpy()
        if expected_dtype.kind == "f":
            close(ours.numpy(), expected, None if exact is None else exact.detach().numpy(), what)
        else:
            assert np.array_equal(ours.numpy(), expected), f"{what}: {ours.numpy()!r}, PyTorch {expected!r}"
    elif isinstance(theirs, tuple | list):
        assert isinstance(ours, tuple | list), f"{what}: minigrad returned {type(ours).__name__}, PyTorch a sequence"
        assert len(ours) == len(theirs), f"{what}: {len(ours)} outputs, PyTorch {len(theirs)}"
        for i, field in enumerate(getattr(type(theirs), "__match_args__", ())):  # torch.return_types.max
            assert getattr(ours, field, None) is ours[i], f"{what}: no field {field!r}"
        for i, (o, t) in enumerate(zip(ours, theirs)):
            compare(o, t, f"{what}[{i}]", None if exact is None else exact[i])
    elif isinstance(theirs, bool | int | float):
        assert type(ours) is type(theirs), f"{what}: {type(ours).__name__} {ours!r}, PyTorch {type(theirs).__name__}"
        assert ours == theirs or abs(ours - theirs) <= 1e-5 * abs(theirs) + 1e-7, f"{what}: {ours!r}, PyTorch {theirs!r}"
    else:
        assert ours == theirs, f"{what}: {ours!r}, PyTorch {theirs!r}"


def backward_ours(outputs: list[tuple[Any, np.ndarray]]) -> None:
    """out.backward(dout); several outputs: backward of sum_i <out_i, dout_i> (as torch.autograd.backward)."""
    for out, _ in outputs:
        assert isinstance(out, mg.Tensor) and out.requires_grad, "an output PyTorch differentiates does not require grad"
    if len(outputs) == 1:
        outputs[0][0].backward(outputs[0][1])
        return
    sum((out * mg.Tensor(dout)).sum() for out, dout in outputs).backward()


def compare_grads(pairs: list[tuple[torch.Tensor, mg.Tensor]], run: TorchRun, exact: TorchRun | None,
                  where: str, names: list[str] | None = None) -> None:
    for i, (theirs, ours) in enumerate(pairs):
        if not theirs.requires_grad:
            continue
        what = f"gradient of {names[i] if names else f'input {i}'} (shape {ours.shape}){where}"
        expected, more_exact = run.grad(theirs), None if exact is None else exact.grad(theirs)
        if expected is None and ours.grad is None:
            continue
        zeros = np.zeros(tuple(theirs.shape), numpy_dtype(theirs.dtype))  # PyTorch's None: nothing flowed there
        assert ours.grad is not None, f"{what}: none"
        assert ours.grad.dtype == ours.dtype, f"{what}: dtype {ours.grad.dtype}, the tensor's {ours.dtype}"
        close(ours.grad, zeros if expected is None else expected,
              None if exact is None else zeros if more_exact is None else more_exact, what)


# -- refusals -------------------------------------------------------------------------------------------------


def raised_by_minigrad(err: BaseException) -> bool:
    """The innermost frame is one of minigrad's own `raise` statements (not NumPy's, nor a Python call error)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not tb.tb_frame.f_code.co_filename.startswith(MINIGRAD_DIR):
        return False
    return linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno).strip().startswith("raise ")


def _argument_words(ours: Callable, args: tuple, kwargs: dict) -> set[str]:
    """What naming "the argument" may look like: a keyword, a parameter's name, or the offending value."""
    words = set(kwargs)
    try:
        words |= set(inspect.signature(ours).bind_partial(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        pass
    for value in list(args) + list(kwargs.values()):
        for v in value if isinstance(value, list | tuple) and len(value) < 8 else [value]:
            if isinstance(v, mg.Tensor):
                words |= {str(v.shape), str(v.dtype)}
            elif v is not None and not isinstance(v, bool):
                words |= {str(v), repr(v), getattr(v, "__name__", str(v))}
    return {w for w in words if w}


def refusal_problem(err: BaseException, names: tuple[str, ...], ours: Callable, args: tuple,
                    kwargs: dict) -> str | None:
    """None if `err` is a proper refusal: minigrad's own raise, naming the op (one of `names`) and the argument."""
    message = str(err)
    if not raised_by_minigrad(err):
        return f"not a minigrad refusal: {type(err).__name__}: {message}"
    if not any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names):
        return f"the message does not name the op ({' / '.join(names)}): {message}"
    if not any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", message) for w in _argument_words(ours, args, kwargs)):
        return f"the message does not name the argument: {message}"
    return None


# -- one case -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Subject:
    """What is under test: the table's row, minigrad's callable, and what a refusal may call it."""

    row: str  # "torch.add", "Tensor.add", "F.softmax", "torch.div[trunc_rounding]", "nn.Linear"
    ours: Callable[..., Any]
    names: tuple[str, ...]
    theirs: Callable[..., Any] | None = None
    info: Any = None  # the OpInfo, for op_db's subjects


@dataclasses.dataclass
class Outcome:
    kind: str  # "matched", "refused", "not applicable", "failed"
    detail: str = ""
    modes: tuple[str, ...] = ()  # for a failure: the modes that failed ("kernels", "reference")


def call_ours(subject: Subject, tr: Translation, call: tuple, where: str, ours: Callable | None = None) -> Any:
    """minigrad on a translation of the call, or the Outcome that ends the case (a refusal or a failure)."""
    tr.start()
    return attempt(subject, ours or subject.ours, tr.ours(call[0]), tr.ours(call[1]), where)


def attempt(subject: Subject, ours: Callable, args: tuple, kwargs: dict, where: str) -> Any:
    """ours(*args, **kwargs), or the Outcome that ends the case (a refusal or a failure)."""
    try:
        return ours(*args, **kwargs)
    except REFUSALS as err:
        problem = refusal_problem(err, subject.names, ours, args, kwargs)
        return Outcome("failed", problem + where) if problem else Outcome("refused", f"{type(err).__name__}: {err}")
    except Exception as err:  # noqa: BLE001
        return Outcome("failed", f"{type(err).__name__}: {err}{where}")


def each_mode(check: Callable[[str], Outcome]) -> Outcome:
    """check(where) in each of minigrad's modes (kernels, reference): each must match or refuse, both alike."""
    outcomes = {}
    for name in MODES:
        with mode(name):
            try:
                outcomes[name] = check(f" [{name}]")
            except NotApplicable as err:
                return Outcome("not applicable", str(err))
            except AssertionError as err:
                outcomes[name] = Outcome("failed", str(err))
            except Exception as err:  # noqa: BLE001  (in backward: minigrad took the input, it owes the gradient)
                outcomes[name] = Outcome("failed", f"{type(err).__name__}: {err} [{name}]")
    failed = tuple(m for m, o in outcomes.items() if o.kind == "failed")
    if failed:
        return Outcome("failed", " | ".join(outcomes[m].detail for m in failed), failed)
    if len({o.kind for o in outcomes.values()}) > 1:
        return Outcome("failed", f"the modes disagree: { {m: o.kind for m, o in outcomes.items()} }", tuple(MODES))
    return outcomes[MODES[0]]


def pytorch_raises(err: BaseException) -> str:
    """Why a case is not applicable: PyTorch's own error, in one short line."""
    message = str(err).strip().split("\n")[0]
    return f"PyTorch raises {type(err).__name__}: {message[:90]}"


def torch_runs(theirs: Callable[..., Any], tr: Translation, call: tuple, seed: int,
               theirs64: Callable[..., Any] | None = None,
               leaves64: dict[int, torch.Tensor] | None = None) -> tuple[TorchRun, TorchRun | None] | Outcome:
    """PyTorch's answer (and, for float32 cases, its float64 answer), or "not applicable" if PyTorch raises."""
    try:
        run = TorchRun(theirs, call, seed)
    except NotApplicable as err:
        return Outcome("not applicable", str(err))
    except Exception as err:  # noqa: BLE001  (whatever PyTorch raises, the case is not one to answer)
        return Outcome("not applicable", pytorch_raises(err))
    exact = None
    if any(t.dtype == torch.float32 for t in tr.torch_leaves.values()):
        try:
            exact = TorchRun(theirs64 or theirs, call, seed, douts=run.douts, float64=True, leaves=leaves64)
        except Exception:  # noqa: BLE001  (no float64 answer to appeal to: float32 must agree with float32)
            exact = None
    return run, exact


def compare_runs(subject: Subject, tr: Translation, call: tuple, seed: int,
                 theirs: Callable[..., Any] | None = None, before_each: Callable[[], None] = lambda: None) -> Outcome:
    """minigrad in each mode against PyTorch (`theirs`, by default the subject's) on one call."""
    runs = torch_runs(theirs or subject.theirs, tr, call, seed)
    if isinstance(runs, Outcome):
        return runs
    run, exact = runs

    def check(where: str) -> Outcome:
        before_each()
        got = call_ours(subject, tr, call, where)
        if isinstance(got, Outcome):
            return got
        compare(got, run.output, "output" + where, None if exact is None else exact.output)
        if run.differentiated:
            ours = [o for o, t in zip(tensors(got), tensors(run.output)) if t.requires_grad]
            backward_ours(list(zip(ours, run.douts)))
        compare_grads(tr.pairs, run, exact, where)
        return Outcome("matched")

    return each_mode(check)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    import conformance_report

    conformance_report.main()
