"""Second order: op_db's and module_db's float64 cases, differentiated twice in minigrad and in PyTorch.

    python tests/conformance_gradgrad.py     # this table alone (python tests/conformance.py prints it too)

For every subject of conformance_ops whose OpInfo supports autograd and gradgrad, on at most
SAMPLES_PER_ROW of its float64 samples (evenly spaced, the same ones every run), both frameworks take
the same steps as minigrad.testing._second_order: the first gradients d<out, g>/dx of every input x,
with an upstream gradient g that itself requires grad, under create_graph=True; then the gradients of
<first, v> (v random) with respect to every input and to g. A module's case (module_db, at most as many
inputs per module) differentiates with respect to its parameters too. PyTorch's attention runs on its
math backend (its CPU flash kernel has no double backward); dropout's mask is replayed as in the first
order (conformance_random). Each case ends in one of four outcomes:
- matched: the first gradients and the second derivatives equal PyTorch's (float64 tolerances),
  in both of minigrad's modes;
- refused: differentiating again raised one of minigrad's own errors naming what it cannot
  differentiate, a NumPy function (np.cumprod) or the op; its reason must be in REFUSALS_ALLOWED;
- not applicable: PyTorch raises, or minigrad refuses the case already in forward (the first-order
  table counts that), or the output is random with no mask to replay;
- failed: anything else (a wrong value, an error that names nothing).
A refused case whose reason is not in REFUSALS_ALLOWED is marked "*" in the table, and fails the test.
"""
from __future__ import annotations

import contextlib
import inspect
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import minigrad as mg
from conformance import (
    NotApplicable, Outcome, REFUSALS, Subject, Translation, attempt, call_ours, close, each_mode, pytorch_raises,
    raised_by_minigrad, tensors, upstream,
)
from conformance_ops import describe, sample_seed, subjects
from conformance_random import attention_with_keep
from conformance_report import Results
from minigrad.functional.dropout import dropout_keep, keep_scale
from minigrad.testing import _numpy, assert_close

DTYPE = "float64"
SAMPLES_PER_ROW = 12  # evenly spaced over the OpInfo's samples: the pass stays within a minute or two

# What minigrad may refuse to differentiate twice (the reason: what its create_graph error names), and why.
# A refusal whose reason is not here fails the test: a new one must be looked at, then fixed or added here.
REFUSALS_ALLOWED: dict[str, str] = {}  # none: every op of op_db that minigrad has is differentiable twice

# Where PyTorch's own second derivative is the less exact one, by a known formula: the tolerance that allows it.
TOLERANCES = {
    # PyTorch's double backward of binary_cross_entropy is (x^2 - 2xy + y) / ((x + 1e-12)^2 (1 - x + 1e-12)^2):
    # a relative error of 2e-12 / min(x, 1 - x), up to 3e-10 on OpInfo's inputs (where minigrad's value agrees with
    # 50-digit arithmetic, and PyTorch's agrees exactly with that formula, eps and all).
    "F.binary_cross_entropy": dict(rtol=1e-8, atol=1e-10),
    "nn.BCELoss": dict(rtol=1e-8, atol=1e-10),
}

# Rows whose output is random and that have no mask to replay: nothing to compare value for value.
RANDOM_ROWS = {"torch.randn", "torch.randint", "torch.empty", "torch.empty_like", "torch.randn_like", "torch.rand_like",
               "torch.randint_like", "torch.randperm", "torch.multinomial", "torch.normal", "torch.bernoulli",
               "Tensor.normal_", "Tensor.uniform_"}


# -- the same steps on either framework -------------------------------------------------------------------


def second_order(framework: Any, outputs: list, wrt: list, douts: list[np.ndarray], v: list[np.ndarray],
                 names: list[str]) -> dict[str, np.ndarray]:
    """minigrad.testing._second_order's steps on outputs already computed (several, from any call):
    first = d(sum_j <out_j, g_j>)/dx with every g_j requiring grad (create_graph=True), then
    d<first, v>/dx for every x of wrt (called `names`) and d<first, v>/dg_j for every g_j."""
    gs = [framework.tensor(d.copy(), requires_grad=True) for d in douts]
    firsts = framework.autograd.grad(outputs, wrt, gs, create_graph=True, allow_unused=True)
    results = {f"first gradient of {name}": _numpy(d, x) for name, d, x in zip(names, firsts, wrt)}
    terms = [(d * framework.tensor(w)).sum() for d, w in zip(firsts, v) if d is not None and d.requires_grad]
    seconds = [None] * (len(wrt) + len(gs))
    if terms:
        seconds = framework.autograd.grad(sum(terms[1:], terms[0]), [*wrt, *gs], allow_unused=True)
    names = names + [f"g{j if len(gs) > 1 else ''}" for j in range(len(gs))]
    for name, d, x in zip(names, seconds, [*wrt, *gs]):
        results[f"second derivative d<first, v>/d {name}"] = _numpy(d, x)
    return results


def leaves(obj: Any, found: dict[int, torch.Tensor] | None = None) -> list[torch.Tensor]:
    """The tensors of a call, each once, in the order Translation.ours meets them (so they pair with tr.pairs)."""
    found = {} if found is None else found
    if isinstance(obj, torch.Tensor):
        found.setdefault(id(obj), obj)
    elif isinstance(obj, dict):
        for value in obj.values():
            leaves(value, found)
    elif isinstance(obj, list | tuple) and not isinstance(obj, torch.Size):
        for value in obj:
            leaves(value, found)
    return list(found.values())


# -- refusals -----------------------------------------------------------------------------------------


# "create_graph: [the node (its op) cannot be differentiated twice: ]np.cumprod is not one of minigrad's
# differentiable ops, ..." (minigrad/graph_array.py), and the engine's "create_graph: <node> drew a random mask".
CANNOT = re.compile(r"(?P<what>[^:]+?) is not one of minigrad's differentiable ops")
RANDOM_MASK = re.compile(r"^create_graph: \w+ drew a random mask")


def refusal_reason(err: BaseException, names: tuple[str, ...]) -> str | None:
    """What a proper second-order refusal says it cannot differentiate (np.cumprod, "a random mask drawn in
    forward"), or None: not minigrad's own raise, or a message that names neither a NumPy function nor the op."""
    if not isinstance(err, REFUSALS) or not raised_by_minigrad(err):
        return None
    message = str(err)
    if message.startswith("create_graph:") and (m := CANNOT.search(message)):
        return m["what"].strip()
    if RANDOM_MASK.match(message):
        return "a random mask drawn in forward"
    if any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names):
        return message.split("\n")[0][:100]
    return None


# -- one case -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def math_attention() -> Any:
    """PyTorch's own math attention: its CPU flash kernel has no double backward (nothing to compare with)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        yield


def with_math_attention(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with math_attention():
            return fn(*args, **kwargs)
    return call


def replayed(subject: Subject, call: tuple, seed: int) -> tuple[Callable | None, Callable[[], None]] | Outcome:
    """PyTorch's op for the case and what to do before each minigrad run. A random op is replayed: minigrad is
    seeded, the mask it will draw first is drawn here, and PyTorch's side applies that mask by its formula."""
    row = subject.row.split("[")[0]
    if row in RANDOM_ROWS:
        return Outcome("not applicable", "a random output, with no mask to replay")
    if row == "F.scaled_dot_product_attention":
        bound = inspect.signature(mg.nn.functional.scaled_dot_product_attention).bind(*call[0], **call[1])
        bound.apply_defaults()
        p = bound.arguments["dropout_p"]
        if p == 0.0:
            return with_math_attention(subject.theirs), lambda: None
        q, k, v = (bound.arguments[n] for n in ("query", "key", "value"))
        shape = (*np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]), q.shape[-2], k.shape[-2])
        mg.manual_seed(seed)
        return attention_with_keep(dropout_keep(shape, p), p), lambda: mg.manual_seed(seed)
    if row == "F.dropout":
        bound = inspect.signature(mg.nn.functional.dropout).bind(*call[0], **call[1])
        bound.apply_defaults()
        p, training, x = bound.arguments["p"], bound.arguments["training"], bound.arguments["input"]
        if not training or p == 0.0:
            return subject.theirs, lambda: None
        mg.manual_seed(seed)
        factor = torch.from_numpy(dropout_keep(tuple(x.shape), p)).to(x.dtype) * keep_scale(p)
        return (lambda input, *args, **kwargs: input * factor), lambda: mg.manual_seed(seed)
    return subject.theirs, lambda: None


def run_case(subject: Subject, sample: Any, seed: int) -> Outcome:
    """Both frameworks on one SampleInput: first gradients under a g that requires grad, then second derivatives."""
    tr = Translation()
    call = ((tr.fresh(sample.input), *tr.fresh(tuple(sample.args))), tr.fresh(dict(sample.kwargs)))
    how = replayed(subject, call, seed)
    if isinstance(how, Outcome):
        return how
    theirs, before_each = how

    def ours(where: str) -> tuple[Callable, list] | Outcome:
        before_each()
        return subject.ours, []

    return compare_twice(subject, tr, call, seed, theirs, ours)


def compare_twice(subject: Subject, tr: Translation, call: tuple, seed: int, theirs: Callable[..., Any],
                  ours: Callable[[str], tuple[Callable, list] | Outcome],
                  params: list[tuple[str, torch.Tensor]] = ()) -> Outcome:
    """minigrad's first and second derivatives against PyTorch's (`theirs`) on one call, in each of its modes:
    with respect to every input of the call that requires grad, and to `params` (a module's, by name).
    ours(where) gives minigrad's callable and its parameters for one mode's run (or the Outcome that ends it)."""
    wrt = [t for t in leaves(call) if t.requires_grad]
    names = [f"input {i}" for i in range(len(wrt))] + [f"parameter {n}" for n, _ in params]
    try:
        out = theirs(*call[0], **call[1])
        differentiated = [t for t in tensors(out) if t.requires_grad]
        if not differentiated or not names:
            return Outcome("not applicable", "nothing to differentiate")
        douts = [upstream(t, seed + i) for i, t in enumerate(differentiated)]
        rng = np.random.default_rng(seed + 1000)
        v = [rng.standard_normal(tuple(x.shape)).astype(x.detach().numpy().dtype) for x in wrt + [p for _, p in params]]
        expected = second_order(torch, differentiated, wrt + [p for _, p in params], douts, v, names)
    except NotApplicable as err:
        return Outcome("not applicable", str(err))
    except Exception as err:  # noqa: BLE001  (PyTorch has no second order here: nothing to compare with)
        return Outcome("not applicable", pytorch_raises(err))

    def check(where: str) -> Outcome:
        made = ours(where)
        if isinstance(made, Outcome):
            return made
        fn, our_params = made
        got = call_ours(subject, tr, call, where, ours=fn)
        if isinstance(got, Outcome):
            return Outcome("not applicable", f"refused in forward: {got.detail}") if got.kind == "refused" else got
        our_wrt = [m for t, m in tr.pairs if t.requires_grad]
        assert len(our_wrt) == len(wrt), f"{len(our_wrt)} inputs require grad, PyTorch {len(wrt)}{where}"
        outs = [o for o, t in zip(tensors(got), tensors(out)) if t.requires_grad]
        for i, o in enumerate(outs):
            assert isinstance(o, mg.Tensor) and o.requires_grad, f"output {i} does not require grad{where}"
        try:
            results = second_order(mg, outs, our_wrt + list(our_params), douts, v, names)
        except Exception as err:  # noqa: BLE001
            reason = refusal_reason(err, subject.names)
            if reason is None:
                return Outcome("failed", f"{type(err).__name__}: {str(err).split(chr(10))[0]}{where}")
            return Outcome("refused", reason)  # the test fails it unless the reason is in REFUSALS_ALLOWED
        for what, want in expected.items():
            if subject.row in TOLERANCES:
                assert_close(results[what], want, what + where, **TOLERANCES[subject.row])
            else:
                close(results[what], want, None, what + where)
        return Outcome("matched")

    return each_mode(check)


def run_module_input(info: Any, module_input: Any, seed: int) -> Outcome:
    """One ModuleInput: the first and second derivatives with respect to the forward input and the parameters."""
    name = info.module_cls.__name__
    subject = Subject(f"nn.{name}", getattr(mg.nn, name), (name, f"nn.{name}"))
    tr, ctor = Translation(), Translation()
    c, f = module_input.constructor_input, module_input.forward_input
    try:
        theirs = info.module_cls(*tr.fresh(tuple(c.args)), **tr.fresh(dict(c.kwargs))).to(torch.float64)
    except Exception as err:  # noqa: BLE001
        return Outcome("not applicable", pytorch_raises(err))
    params = list(theirs.named_parameters())
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}

    def ours(where: str) -> tuple[Callable, list] | Outcome:
        module = attempt(subject, subject.ours, ctor.ours(tuple(c.args)), ctor.ours(dict(c.kwargs)), where)
        if isinstance(module, Outcome):
            return Outcome("not applicable", f"refused in forward: {module.detail}") if module.kind == "refused" \
                else module
        module.to(np.float64).load_state_dict(state)
        assert [n for n, _ in module.named_parameters()] == [n for n, _ in params], "not PyTorch's parameters"
        return module, list(module.parameters())

    call = (tr.fresh(tuple(f.args)), tr.fresh(dict(f.kwargs)))
    return compare_twice(subject, tr, call, seed, theirs, ours, params)


def pick(n: int, cap: int) -> list[int]:
    """At most cap of range(n), evenly spaced, the first and the last among them."""
    if n <= cap:
        return list(range(n))
    return sorted({round(i * (n - 1) / (cap - 1)) for i in range(cap)})


def supports_gradgrad(subject: Subject) -> bool:
    info = subject.info
    return bool(info.supports_autograd and info.supports_gradgrad
                and torch.float64 in info.supported_backward_dtypes("cpu"))


def run_ops(op_db: list, rows: Callable[[str], bool] = lambda row: True,
            cap: int = SAMPLES_PER_ROW) -> Results:
    """Second order on the float64 samples of every subject whose OpInfo supports gradgrad (and `rows` accepts)."""
    results = Results()
    for subject in subjects(op_db):
        if not (rows(subject.row) and supports_gradgrad(subject)):
            continue
        torch.manual_seed(0)  # the samples conformance_ops draws: the same inputs as the first-order pass
        samples = list(subject.info.sample_inputs("cpu", torch.float64, requires_grad=True))
        for i in pick(len(samples), cap):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcome = run_case(subject, samples[i], sample_seed(subject.row, "gradgrad", i))
            results.record(subject.row, DTYPE, outcome, describe(samples[i]))
    return results


def run_modules(module_db: list, cap: int = SAMPLES_PER_ROW) -> Results:
    """Second order on the float64 inputs of every module of module_db that minigrad has and that supports gradgrad."""
    results = Results()
    for info in module_db:
        name = info.module_cls.__name__
        if not (hasattr(mg.nn, name) and info.supports_gradgrad):
            continue
        torch.manual_seed(0)
        inputs = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True, training=True)
        for i in pick(len(inputs), cap):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcome = run_module_input(info, inputs[i], sample_seed(f"nn.{name}", "gradgrad", i))
            results.record(f"nn.{name}", DTYPE, outcome, inputs[i].desc or f"input {i}")
    return results


# -- the report ---------------------------------------------------------------------------------------------


def table(results: Results, title: str = "second order, float64") -> str:
    """row | samples | matched | refused | n.a. | failed | the refusals' reasons (* : not in REFUSALS_ALLOWED)."""
    rows = sorted(row for row, _ in results.counts)
    reasons: dict[str, set[str]] = {}
    for (row, kind), counter in results.messages.items():
        if kind == "refused":
            reasons[row] = set(counter)
    width = max([len(title)] + [len(r) for r in rows]) + 2
    head = f"{title.ljust(width)}{'samples':>8}{'matched':>9}{'refused':>9}{'n.a.':>6}{'failed':>8}  refused because"
    lines, total = [head, "-" * len(head)], {k: 0 for k in ("matched", "refused", "not applicable", "failed")}
    for row in rows:
        c = results.counts[(row, DTYPE)]
        for k in total:
            total[k] += c[k]
        why = ", ".join(r if r in REFUSALS_ALLOWED else r + " *" for r in sorted(reasons.get(row, ())))
        lines.append(f"{row.ljust(width)}{sum(c.values()):>8}{c['matched']:>9}{c['refused']:>9}"
                     f"{c['not applicable']:>6}{c['failed']:>8}  {why}")
    lines += ["-" * len(head), f"{'total'.ljust(width)}{sum(total.values()):>8}{total['matched']:>9}"
              f"{total['refused']:>9}{total['not applicable']:>6}{total['failed']:>8}"]
    return "\n".join(lines)


def cause(detail: str) -> str:
    """A failure's cause, the same for every sample it hits: the first line, without values, modes or the sample."""
    first = detail.split(" | ")[0].split("\n")[0]
    first = re.sub(r" \[(kernels|reference)\]", "", first)
    first = re.sub(r" is wrong: .*", " is wrong", first)
    first = re.sub(r"\(shape \([\d, ]*\)\)", "(shape ...)", first)
    return first[:160]


def failures_by_cause(results: Results) -> str:
    """Each failure's cause once, with the rows and the number of cases it hits."""
    groups: dict[tuple[str, str], list] = {}
    for f in results.failures:
        op = f.row.split(".", 1)[-1].split("[")[0].strip("_").removesuffix("_")
        only = f" [{f.outcome.modes[0]} only]" if len(f.outcome.modes) == 1 else ""
        groups.setdefault((op, cause(f.outcome.detail) + only), []).append(f)
    lines = []
    for (op, why), fs in sorted(groups.items()):
        rows = sorted({f.row for f in fs})
        lines.append(f"  {op}: {why}  (x{len(fs)}; {', '.join(rows)})")
    return f"{len(results.failures)} second-order failures, by cause:\n" + ("\n".join(lines) or "  none")


def not_applicable(results: Results) -> str:
    lines = [f"  {row}: {message}  (x{n})" for (row, kind), counter in sorted(results.messages.items())
             if kind == "not applicable" for message, n in counter.most_common()]
    return "second order, not applicable:\n" + ("\n".join(lines) or "  none")


def report(results: Results) -> str:
    allowed = "\n".join(f"  - {k}: {v}" for k, v in REFUSALS_ALLOWED.items()) or "  none"
    return "\n\n".join([table(results), "second-order refusals allowed (REFUSALS_ALLOWED):\n" + allowed,
                        not_applicable(results), failures_by_cause(results)])


def run_all() -> Results:
    """op_db's and module_db's cases, in one table."""
    import conformance_nn
    import conformance_ops

    results = run_ops(conformance_ops.load_op_db())
    modules = run_modules(conformance_nn.load_module_db())
    results.counts.update(modules.counts)
    results.failures += modules.failures
    for key, counter in modules.messages.items():
        results.messages[key].update(counter)
    return results


def main() -> None:
    print(report(run_all()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
