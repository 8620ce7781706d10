"""The conformance report: the tables of counts, the refusals, the deliberate differences.

    python tests/conformance.py                       # or python tests/conformance_report.py
                                                      # (then the second-order table: conformance_gradgrad)
    python -m pytest tests/test_conformance.py -q -s  # the same report, after the tests

Counts are cases: OpInfo samples, module inputs, optimizer inputs (x implementation flags), and each
runner returns them as Results.
"""
from __future__ import annotations

import collections
import sys
from pathlib import Path
from typing import NamedTuple

from conformance import Outcome

Counts = dict[tuple[str, str], collections.Counter]


class Failure(NamedTuple):
    row: str
    dtype: str
    case: str  # the sample, module input or optimizer input, in one line
    outcome: Outcome

    def __str__(self) -> str:
        return f"{self.row} {self.dtype} {self.case}: {self.outcome.detail}"


class Results:
    """What the runs below return: counts per (row, dtype), the failures, and the other outcomes' messages."""

    def __init__(self) -> None:
        self.counts: Counts = {}
        self.failures: list[Failure] = []
        self.messages: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)

    def record(self, row: str, dtype: str, outcome: Outcome, case: str) -> None:
        self.counts.setdefault((row, dtype), collections.Counter())[outcome.kind] += 1
        if outcome.kind == "failed":
            self.failures.append(Failure(row, dtype, case, outcome))
        elif outcome.kind != "matched":
            self.messages[(row, outcome.kind)][outcome.detail] += 1


# What minigrad deliberately does differently. The cases they touch are refused with a message, or,
# where minigrad cannot even be handed the argument (a torch.bfloat16), are not applicable.
DELIBERATE_DIFFERENCES = {
    "no float promotion between tensors": "two tensors of different float dtypes are an error (TypeError naming "
                                          "the op and both dtypes), never a silent upcast",
    "real dtypes only": "float32 / float64, integers and bool; no complex or bfloat16 (NumPy has neither); "
                        "float16 data is computed in float32",
    "CPU only": "device= must be the CPU; .numpy() is a NumPy array",
    "layout is NumPy's": "memory_format= is accepted and ignored: minigrad has no strides of its own to choose",
    "in-place ops on some views": "an in-place op on a view of a tensor in the graph made by reshape, permute, "
                                  "transpose or expand is refused (a view by indexing writes back, as PyTorch's)",
    "one optimizer implementation": "foreach= and fused= only pick PyTorch's implementation: accepted, ignored; "
                                    "differentiable=True and capturable=True are refused",
    "optimizer step count is an int": "state['step'] is a Python int (PyTorch: a 0-d float32 tensor)",
}

# Cases where minigrad's reference formulas match PyTorch and one of its kernels does not, in a kernel
# file owned by another developer: reported to them, listed here so that everything else must pass.
# Each must keep failing in the kernels mode only (the test says so once it passes: then delete it).
KNOWN_KERNEL_MISMATCHES: dict = {}  # (row, dtype, sample) -> why; none today: the kernels give the reference's answers


def split_known(failures: list) -> tuple[list, list]:
    """(known kernel mismatches, every other failure)."""
    known = [f for f in failures if (f.row, f.dtype, f.case) in KNOWN_KERNEL_MISMATCHES and f.outcome.modes == ("kernels",)]
    return known, [f for f in failures if f not in known]


def table(counts: Counts, title: str) -> str:
    """title | float64 matched / refused / n.a. | float32 matched / refused / n.a. (| failed, if any)."""
    rows = sorted({row for row, _ in counts})
    dtypes = sorted({d for _, d in counts}, reverse=True)
    failed_column = any(c["failed"] for c in counts.values())
    width = max([len(title)] + [len(r) for r in rows]) + 2
    cell = lambda c: f"{c['matched']:>12} / {c['refused']:>3} / {c['not applicable']:>3}"  # noqa: E731
    head = title.ljust(width) + "".join(f"{d + ' m / r / n.a.':>24}" for d in dtypes) + ("  failed" if failed_column else "")
    lines = [head, "-" * len(head)]
    totals = {d: collections.Counter() for d in dtypes}
    for row in rows:
        cs = [counts.get((row, d), collections.Counter()) for d in dtypes]
        for d, c in zip(dtypes, cs):
            totals[d].update(c)
        failed = sum(c["failed"] for c in cs)
        lines.append(row.ljust(width) + "".join(cell(c) for c in cs) + (f"  {failed}" if failed else ""))
    failed = sum(t["failed"] for t in totals.values())
    lines += ["-" * len(head), "total".ljust(width) + "".join(cell(totals[d]) for d in dtypes)
              + (f"  {failed}" if failed_column else "")]
    return "\n".join(lines)


def messages_section(messages: dict, kind: str) -> str:
    """Each row's distinct messages of one kind ("refused", "not applicable"), with how often each came."""
    lines = []
    for (row, k), counter in sorted(messages.items()):
        if k == kind:
            lines += [f"  {row}: {message}  (x{n})" for message, n in counter.most_common()]
    return "\n".join(lines) or "  none"


def report(results: dict[str, Results], uncovered: dict[str, list[str]]) -> str:
    """The tables, then the refusals' messages, the reasons for "not applicable", the deliberate differences,
    what no database covers, and any failure."""
    messages = {key: counter for r in results.values() for key, counter in r.messages.items()}
    known, others = split_known([f for r in results.values() for f in r.failures])
    parts = [table(r.counts, title) for title, r in results.items()]
    parts.append("refusals (minigrad's message):\n" + messages_section(messages, "refused"))
    parts.append("not applicable:\n" + messages_section(messages, "not applicable"))
    parts.append("deliberate differences:\n" + "\n".join(f"  - {k}: {v}" for k, v in DELIBERATE_DIFFERENCES.items()))
    parts.append("exposed under PyTorch's name, but in none of its databases:\n"
                 + "\n".join(f"  {where}: {', '.join(names)}" for where, names in uncovered.items()))
    if known:
        parts.append("known kernel mismatches (reported to the kernel's owner):\n"
                     + "\n".join(f"  {f}\n    why: {KNOWN_KERNEL_MISMATCHES[(f.row, f.dtype, f.case)]}" for f in known))
    if others:
        parts.append(f"{len(others)} failures:\n" + "\n".join(f"  {f}" for f in others))
    return "\n\n".join(parts)


def main() -> None:
    import conformance_gradgrad
    import conformance_nn
    import conformance_ops

    op_db = conformance_ops.load_op_db()
    results = {"op (op_db)": conformance_ops.run_ops(op_db),
               "module (module_db)": conformance_nn.run_modules(conformance_nn.load_module_db()),
               "optimizer (optim_db)": conformance_nn.run_optimizers(conformance_nn.load_optim_db())}
    module_rows = {row for row, _ in results["module (module_db)"].counts}
    print(report(results, conformance_ops.uncovered(conformance_ops.subjects(op_db), module_rows)))
    print("\n" + conformance_gradgrad.report(conformance_gradgrad.run_all()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
