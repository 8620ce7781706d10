"""op_db: every OpInfo that minigrad exposes under PyTorch's name, run sample by sample (see conformance).

A subject is one way minigrad exposes an OpInfo: `minigrad.<name>` (row "torch.<name>"),
`minigrad.nn.functional.<name>` ("F.<name>") or the Tensor method ("Tensor.<name>"), for the OpInfo's
name, each of its aliases and its aten name (torch.relu for nn.functional.relu). Each is compared with
the PyTorch spelling of the same name, on the OpInfo's sample inputs at their default sizes.
"""
from __future__ import annotations

import functools
import inspect
import warnings
import zlib
from typing import Any, Callable, Iterator

import torch

import minigrad as mg
import minigrad.nn.functional as MF
from conformance import DTYPES, Outcome, Subject, Translation, compare_runs
from conformance_report import Results

# Top-level names that are not PyTorch's function of that name: minigrad.trace is the backward
# tracer (torch.trace sums a diagonal); minigrad.float, .int, .bool, .half, .double, .long and
# .short are dtypes (as torch.float is), while the OpInfos of those names test the Tensor methods.
NOT_THE_FUNCTION = {"trace", "float", "int", "bool", "half", "double", "long", "short"}

# OpInfos whose op is a lambda that does not name minigrad's callable.
SPECIAL = {
    "T": lambda x: x.T,  # a property
    "zero_": lambda x: x.clone().zero_(),  # the OpInfo zeroes a copy: torch.zero_(x.clone())
}

# The op a refusal may name when minigrad implements the PyTorch name with another op.
ALSO_CALLED = {
    "view": {"reshape"}, "T": {"permute"}, "float": {"Tensor.to"}, "double": {"Tensor.to"}, "long": {"Tensor.to"},
    "clone": {"Tensor.to"}, "__rmatmul__": {"matmul"}, "__rpow__": {"pow"},
}


def _method(name: str) -> Callable[..., Any] | None:
    """Tensor's own method `name` (not one inherited from object or type: `Tensor.__ror__` is type's)."""
    if any(name in vars(klass) for klass in mg.Tensor.__mro__[:-1]):
        return getattr(mg.Tensor, name)
    return None


def _function(module: Any, name: str) -> Callable[..., Any] | None:
    fn = getattr(module, name, None)
    return fn if inspect.isfunction(fn) else None


def _spellings(info: Any) -> Iterator[tuple[str, Callable, Callable | None]]:
    """(name, PyTorch function, PyTorch method or None) for the OpInfo, its aliases and its aten name."""
    yield info.name, info.op, info.method_variant
    for alias in info.aliases:
        yield alias.name, alias.op, alias.method_variant
    aten = info.aten_name
    if aten and aten != info.name and "." not in aten and callable(getattr(torch, aten, None)):
        yield aten, getattr(torch, aten), getattr(torch.Tensor, aten, None)


def _names(info: Any, short: str) -> tuple[str, ...]:
    """A refusal may call the op by its PyTorch name, its aten name, or minigrad's op behind it."""
    names = {short, info.name.rsplit(".", 1)[-1], (info.aten_name or short).rsplit(".", 1)[-1]}
    for n in list(names):
        if n.startswith("__r") and n.endswith("__"):  # __rsub__ is sub with the operands swapped
            names.add(n[3:-2])
        names.add(n.strip("_"))
    return tuple(sorted(names | ALSO_CALLED.get(short, set())))


def subjects(op_db: list) -> list[Subject]:
    """Every (OpInfo, minigrad callable) pair, one per row of the table."""
    found: dict[str, Subject] = {}
    for info in op_db:
        suffix = f"[{info.variant_test_name}]" if info.variant_test_name else ""
        for name, fn, method in _spellings(info):
            short = name.rsplit(".", 1)[-1]
            candidates = []
            if name.startswith("nn.functional."):
                candidates.append((f"F.{short}", fn, _function(MF, short)))
            elif "." not in name:
                if name in SPECIAL:
                    candidates.append((f"Tensor.{name}", fn, SPECIAL[name]))
                elif name not in NOT_THE_FUNCTION and not name.startswith("__"):
                    candidates.append((f"torch.{name}", fn, _function(mg, name)))
                wraps_a_method = getattr(fn, "__name__", "") == "<lambda>" and name not in SPECIAL  # e.g. x.to(...)
                if method is not None or wraps_a_method:
                    candidates.append((f"Tensor.{name}", method or fn, _method(name)))
            inplace = getattr(mg.Tensor, short + "_", None)
            if info.inplace_variant is not None and inplace is not None and "." not in name:
                candidates.append((f"Tensor.{short}_", _on_a_clone(info.inplace_variant), _on_a_clone(inplace)))
            for row, theirs, ours in candidates:
                if ours is not None and row + suffix not in found:
                    names = _names(info, short) + ((short + "_",) if row.endswith("_") else ())
                    found[row + suffix] = Subject(row + suffix, ours, names, theirs, info)
    return sorted(found.values(), key=lambda s: s.row)


def _on_a_clone(inplace: Callable) -> Callable:
    """x.op_(...) on a copy of x in the graph (x itself is a leaf that requires grad, which both refuse):
    the in-place variant's values and, through the clone, its gradients."""
    @functools.wraps(inplace)  # its signature: a refusal names the method's own arguments
    def call(x: Any, *args: Any, **kwargs: Any) -> Any:
        return inplace(x.clone(), *args, **kwargs)
    return call


def sample_seed(row: str, dtype: str, index: int) -> int:
    return zlib.crc32(f"{row}|{dtype}|{index}".encode())


def run_sample(subject: Subject, sample: Any, seed: int) -> Outcome:
    """Both frameworks on one SampleInput: outputs, then every input gradient under one random upstream gradient."""
    from conformance_random import RANDOM  # the ops compared by their statistics

    tr = Translation()
    call = ((tr.fresh(sample.input), *tr.fresh(tuple(sample.args))), tr.fresh(dict(sample.kwargs)))
    check = RANDOM.get(subject.row.split("[")[0], compare_runs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check(subject, tr, call, seed)


def describe(sample: Any) -> str:
    """A sample in one line: Tensor(shape):dtype for tensors, repr for the rest."""
    def short(x: Any) -> str:
        if isinstance(x, torch.Tensor):
            return f"Tensor{tuple(x.shape)}:{str(x.dtype).removeprefix('torch.')}"
        if isinstance(x, list | tuple) and not isinstance(x, torch.Size):
            return "[" + ", ".join(short(v) for v in x) + "]"
        return repr(x)

    parts = [short(sample.input)] + [short(a) for a in sample.args] + [f"{k}={short(v)}" for k, v in sample.kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def run_subject(subject: Subject, dtype: str) -> list[tuple[Outcome, str]]:
    info = subject.info
    requires_grad = info.supports_autograd and DTYPES[dtype] in info.supported_backward_dtypes("cpu")
    torch.manual_seed(0)
    samples = list(info.sample_inputs("cpu", DTYPES[dtype], requires_grad=requires_grad))
    return [(run_sample(subject, s, sample_seed(subject.row, dtype, i)), describe(s)) for i, s in enumerate(samples)]


def run_ops(op_db: list, dtypes: tuple[str, ...] = tuple(DTYPES), rows: Callable[[str], bool] = lambda row: True) -> Results:
    """Every sample of every subject (whose row `rows` accepts), in each dtype."""
    results = Results()
    for subject in subjects(op_db):
        if rows(subject.row):
            for dtype in dtypes:
                for outcome, sample in run_subject(subject, dtype):
                    results.record(subject.row, dtype, outcome, sample)
    return results


def uncovered(found: list[Subject], module_rows: set[str]) -> dict[str, list[str]]:
    """What minigrad exposes under PyTorch's names that no OpInfo or ModuleInfo exercises."""
    rows = {s.row.split("[")[0] for s in found} | module_rows
    own = [n for klass in mg.Tensor.__mro__[:-1] for n, v in vars(klass).items() if callable(v) or isinstance(v, property)]
    return {
        "minigrad": sorted(n for n in mg.__all__ if inspect.isfunction(getattr(mg, n)) and f"torch.{n}" not in rows
                           and n not in NOT_THE_FUNCTION),
        "minigrad.nn.functional": sorted(n for n in MF.__all__ if not n.endswith("_composed") and f"F.{n}" not in rows),
        "Tensor": sorted({n for n in own if not n.startswith("_") and f"Tensor.{n}" not in rows}),
        "minigrad.nn": sorted(n for n in mg.nn.__all__ if isinstance(getattr(mg.nn, n), type)
                              and issubclass(getattr(mg.nn, n), mg.nn.Module) and f"nn.{n}" not in rows),
    }


def load_op_db() -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db
    return op_db
