"""PyTorch's own test cases for everything minigrad exposes under a PyTorch name.

Every OpInfo sample (op_db) of those ops, every ModuleInput (module_db) of those modules and every
OptimizerInput (optim_db) of those optimizers, in float64 and float32: each either matches PyTorch
(values, dtype, shape, every input gradient under a random upstream gradient) or is refused with a
minigrad message naming the op and the argument. In float64 the second derivatives of the ops and
modules that support them match too, or are refused for a reason in conformance_gradgrad.REFUSALS_ALLOWED.
The machinery is in tests/conformance*.py.

    python -m pytest tests/test_conformance.py -q -s          # and print the counts at the end
    CONFORMANCE_ROWS=softmax python -m pytest tests/test_conformance.py -q -k op_db   # one op's rows
    python tests/conformance.py                              # the same report, as a script
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import conformance_gradgrad
import conformance_nn
import conformance_ops
import minigrad as mg
from conformance import DTYPES, Subject, refusal_problem
from conformance_report import KNOWN_KERNEL_MISMATCHES, Results, report, split_known

ROWS = os.environ.get("CONFORMANCE_ROWS", "")  # run only the op rows containing this text


@pytest.fixture(scope="module")
def op_db() -> list:
    return conformance_ops.load_op_db()  # imported once for the module: it takes a few seconds


@pytest.fixture(scope="module")
def results(op_db):
    """Every run's Results, by table; printed as the conformance report after the last test (-s shows it)."""
    collected: dict[str, Results] = {}
    yield collected
    if collected:
        module_rows = {row for row, _ in collected.get("module (module_db)", Results()).counts}
        merged = {title: collected[title] for title in ("op (op_db)", "module (module_db)", "optimizer (optim_db)")
                  if title in collected}
        if merged:
            print("\n\n" + report(merged, conformance_ops.uncovered(conformance_ops.subjects(op_db), module_rows)))
        if "second order" in collected:
            print("\n\n" + conformance_gradgrad.report(collected["second order"]))


def merge(collected: dict[str, Results], title: str, new: Results) -> None:
    into = collected.setdefault(title, Results())
    into.counts.update(new.counts)
    into.failures += new.failures
    for key, counter in new.messages.items():
        into.messages[key].update(counter)


def assert_no_failures(new: Results, dtype: str) -> None:
    known, failures = split_known(new.failures)
    shown = "\n".join(str(f) for f in failures[:40])
    assert not failures, f"{len(failures)} cases neither match PyTorch nor are refused properly:\n{shown}"
    still = {(f.row, f.dtype, f.case) for f in known}
    listed = {key for key in KNOWN_KERNEL_MISMATCHES if key[1] == dtype and (key[0], dtype) in new.counts}
    assert still == listed, f"these known kernel mismatches now pass: delete them from the list: {listed - still}"


def test_subjects_are_minigrads_pytorch_names(op_db):
    rows = {s.row for s in conformance_ops.subjects(op_db)}
    assert {"torch.add", "Tensor.add", "Tensor.__rsub__", "Tensor.__getitem__", "Tensor.T", "torch.relu", "F.relu",
            "F.softmax", "torch.softmax", "F.gelu", "F.scaled_dot_product_attention", "F.cross_entropy",
            "torch.max[reduction_with_dim]", "Tensor.to", "torch.cat"} <= rows
    assert not {"torch.trace", "torch.float", "torch.bool", "Tensor.__ror__"} & rows  # not PyTorch's of that name
    assert all(s.ours.__module__.startswith("minigrad") or s.row in ("Tensor.T", "Tensor.zero_")
               for s in conformance_ops.subjects(op_db))


@pytest.mark.parametrize("dtype", DTYPES)
def test_op_db(op_db, results, dtype):
    new = conformance_ops.run_ops(op_db, (dtype,), rows=lambda row: ROWS in row)
    merge(results, "op (op_db)", new)
    assert new.counts, f"no op row contains {ROWS!r}"
    assert_no_failures(new, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_module_db(results, dtype):
    new = conformance_nn.run_modules(conformance_nn.load_module_db(), (dtype,))
    merge(results, "module (module_db)", new)
    assert {"nn.Linear", "nn.LayerNorm", "nn.Conv2d", "nn.CrossEntropyLoss", "nn.Dropout"} <= {r for r, _ in new.counts}
    assert_no_failures(new, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optim_db(results, dtype):
    new = conformance_nn.run_optimizers(conformance_nn.load_optim_db(), (dtype,))
    merge(results, "optimizer (optim_db)", new)
    assert {"optim.SGD", "optim.Adam", "optim.AdamW"} <= {r for r, _ in new.counts}
    assert_no_failures(new, dtype)


def assert_second_order(new: Results) -> None:
    """No failure, and every refusal for a reason listed in conformance_gradgrad.REFUSALS_ALLOWED."""
    assert not new.failures, conformance_gradgrad.failures_by_cause(new)
    unlisted = {f"{row}: {reason}" for (row, kind), counter in new.messages.items() if kind == "refused"
                for reason in counter if reason not in conformance_gradgrad.REFUSALS_ALLOWED}
    assert not unlisted, "second-order refusals for reasons not in REFUSALS_ALLOWED:\n  " + "\n  ".join(sorted(unlisted))


def test_op_db_second_order(op_db, results):
    new = conformance_gradgrad.run_ops(op_db, rows=lambda row: ROWS in row)
    merge(results, "second order", new)
    assert new.counts, f"no op row contains {ROWS!r}"
    assert_second_order(new)


def test_module_db_second_order(results):
    new = conformance_gradgrad.run_modules(conformance_nn.load_module_db())
    merge(results, "second order", new)
    assert {"nn.Linear", "nn.LayerNorm", "nn.CrossEntropyLoss"} <= {r for r, _ in new.counts}
    assert_second_order(new)


# -- the deliberate differences, each pinned down ----------------------------------------------------------


def refusal(fn, *args, names: tuple[str, ...], **kwargs) -> BaseException:
    """The error fn raises, checked to be a proper refusal by the conformance rule."""
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    assert refusal_problem(info.value, names, fn, args, kwargs) is None, refusal_problem(info.value, names, fn, args, kwargs)
    return info.value


def test_no_float_promotion_between_tensors():
    a, b = mg.ones(2, dtype=np.float32), mg.ones(2, dtype=np.float64)
    assert torch.ones(2).add(torch.ones(2, dtype=torch.float64)).dtype == torch.float64  # PyTorch promotes
    err = refusal(mg.add, a, b, names=("add",))
    assert isinstance(err, TypeError) and "float32" in str(err) and "float64" in str(err)


def test_zero_is_refused_on_a_leaf_in_the_graph_and_works_outside_it():
    x = mg.ones(3, requires_grad=True)
    assert isinstance(refusal(mg.Tensor.zero_, x, names=("zero_",)), RuntimeError)  # as PyTorch's kind
    with mg.no_grad():
        assert x.zero_() is x and not x.numpy().any()
    assert mg.ones(2).zero_().numpy().tolist() == [0.0, 0.0]


def test_memory_format_is_accepted_and_ignored():
    x = mg.Tensor(np.arange(6.0).reshape(1, 2, 3, 1))
    for y in (x.float(memory_format="channels_last"), x.double(memory_format="contiguous_format"),
              x.clone(memory_format="preserve_format"), mg.zeros_like(x, memory_format="channels_last")):
        assert y.shape == x.shape


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_optimizers_take_pytorchs_implementation_flags(name):
    cls = getattr(mg.optim, name)
    p = mg.nn.Parameter(np.ones(3))
    cls([p], lr=0.1, foreach=True, fused=False, differentiable=False)  # foreach / fused: only PyTorch's kernels
    for flag in ("differentiable",) + (("capturable",) if name != "SGD" else ()):
        err = refusal(cls, [p], lr=0.1, names=(name,), **{flag: True})
        assert flag in str(err)


def test_cpu_only():
    with pytest.raises(RuntimeError, match="CPU only"):
        mg.zeros(2, device="cuda")
    assert isinstance(mg.zeros(2, device="cpu").numpy(), np.ndarray)


def test_the_refusal_rule_rejects_what_minigrad_did_not_raise():
    subject = Subject("torch.reshape", mg.reshape, ("reshape",))
    with pytest.raises(ValueError) as info:
        np.ones(3).reshape(4)  # NumPy's own error: not a refusal, whatever its words
    assert refusal_problem(info.value, subject.names, subject.ours, (), {}).startswith("not a minigrad refusal")
    with pytest.raises(ValueError) as info:
        mg.reshape(mg.ones(3), (4,))
    assert refusal_problem(info.value, subject.names, subject.ours, (mg.ones(3), (4,)), {}) is None
    assert "does not name the op" in refusal_problem(info.value, ("matmul",), subject.ours, (mg.ones(3), (4,)), {})


def test_the_second_order_refusal_rule():
    from minigrad.graph_array import GraphArray

    with pytest.raises(TypeError) as info:
        np.asarray(GraphArray(mg.ones(2, requires_grad=True)))  # minigrad's own refusal, naming np.asarray
    assert conformance_gradgrad.refusal_reason(info.value, ("sum",)).startswith("converting to a NumPy array")
    with pytest.raises(ValueError) as info:
        np.ones(3).reshape(4)  # NumPy's own error: not a refusal
    assert conformance_gradgrad.refusal_reason(info.value, ("reshape",)) is None


class _Square(mg.autograd.Function):
    """x^2 with a backward that is right once and, with `detached`, wrong when differentiated again."""

    detached = False

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * (x.detach() if _Square.detached else x)


@pytest.mark.parametrize("detached", [False, True])
def test_the_second_order_pass_catches_a_backward_that_is_right_only_once(detached, monkeypatch):
    from torch.testing._internal.opinfo.core import SampleInput

    monkeypatch.setattr(_Square, "detached", detached)
    subject = Subject("torch.square", _Square.apply, ("square",), torch.square)
    sample = SampleInput(torch.from_numpy(np.random.default_rng(0).standard_normal((3, 4))).requires_grad_())
    outcome = conformance_gradgrad.run_case(subject, sample, seed=0)
    assert outcome.kind == ("failed" if detached else "matched"), outcome
    assert not detached or "second derivative d<first, v>/d input 0" in outcome.detail
