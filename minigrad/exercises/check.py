"""`check DIR`: run a workspace's tests once and print each exercise's progress; once all pass, the capstone."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from minigrad.exercises.catalog import EXERCISES, find_functions
from minigrad.exercises.render import NO_PYTORCH
from minigrad.exercises.workspace import WorkspaceError, check_is_workspace

DONE, FAILING, NOT_STARTED = "done", "failing", "not started"
FD_PASSES, NEEDS_TORCH = "fd passes", "needs torch"  # without PyTorch: finite differences pass / no test ran
STATUSES = (DONE, FAILING, NOT_STARTED, FD_PASSES, NEEDS_TORCH)


@dataclass(frozen=True)
class Outcome:
    exercise: int | None  # None: a workspace test that belongs to no exercise
    name: str  # e.g. "test_backward[broadcast_b]"
    passed: bool
    message: str  # the first line of the failure, "" if passed
    no_torch: bool = False  # skipped because PyTorch is not installed (render.CONFTEST)


@dataclass(frozen=True)
class Row:
    number: int
    op: str
    status: str
    passed: int
    total: int
    detail: str


def run_tests(dest: Path) -> list[Outcome]:
    """Run every test of the workspace in one pytest process and read its JUnit XML report."""
    check_is_workspace(dest)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        cmd = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "--tb=no",
               "--continue-on-collection-errors", f"--junitxml={report}", "-o", "junit_family=xunit2"]
        proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
        if proc.returncode not in (0, 1) or not report.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise WorkspaceError(f"check: pytest could not run the tests in {dest} "
                                 f"(exit code {proc.returncode}):\n{tail}")
        return parse_junit(report.read_text())


def parse_junit(xml: str) -> list[Outcome]:
    results = []
    for case in ET.fromstring(xml).iter("testcase"):
        where = f"{case.get('classname', '')} {case.get('name', '')}"
        match = re.search(r"test_exercise_(\d+)_", where)
        problems = [case.find(tag) for tag in ("failure", "error", "skipped")]
        problem = next((p for p in problems if p is not None), None)
        message = ""
        if problem is not None:
            message = (problem.get("message") or problem.text or problem.tag).strip().splitlines()[0]
            message = message.removeprefix("AssertionError: ")
            message = re.sub(r"np\.float(?:16|32|64)\(([^()]*)\)", r"\1", message)  # np.float64(0.5) -> 0.5
        number = int(match.group(1)) if match else None
        no_torch = problem is not None and problem.tag == "skipped" and message.startswith(NO_PYTORCH)
        results.append(Outcome(number, case.get("name", ""), problem is None, message, no_torch))
    return results


def _not_written(result: Outcome, n: int) -> bool:
    return result.message.startswith("NotImplementedError") and f"Exercise {n}:" in result.message


def summarize(results: list[Outcome], dest: Path) -> list[Row]:
    """One row per exercise: done (all its tests pass), not started (only its own raise fails), or failing;
    without PyTorch, fd passes (its finite-difference test passes, the rest did not run) or needs torch."""
    files = find_functions(dest / "minigrad")
    rows = []
    for n, ex in enumerate(EXERCISES, start=1):
        mine = [r for r in results if r.exercise == n]
        ran = [r for r in mine if not r.no_torch]
        failed = [r for r in ran if not r.passed]
        skipped = len(mine) - len(ran)
        if not mine:
            status, detail = FAILING, "no tests ran: is its test file missing?"
        elif failed and all(_not_written(r, n) for r in failed):
            where = files[ex.op].as_posix() if ex.op in files else "?"
            status, detail = NOT_STARTED, f"{ex.op}.backward in {where}"
        elif failed:
            worst = next(r for r in failed if not _not_written(r, n))
            status, detail = FAILING, f"{worst.name}: {worst.message}"
        elif not skipped:
            status, detail = DONE, ""
        elif ran:
            status, detail = FD_PASSES, f"its {skipped} tests against PyTorch did not run"
        else:
            status, detail = NEEDS_TORCH, "every test of this exercise compares with PyTorch"
        rows.append(Row(n, ex.op, status, len(ran) - len(failed), len(mine), detail))
    return rows


def format_table(rows: list[Row], results: list[Outcome], shown: str) -> str:
    width = max(len(r.op) for r in rows)
    lines = [f"{'#':>3}  {'op':<{width}}  {'status':<11}  {'tests':>5}  detail"]
    for r in rows:
        tests = f"{r.passed}/{r.total}"
        lines.append(f"{r.number:>3}  {r.op:<{width}}  {r.status:<11}  {tests:>5}  {r.detail}".rstrip())
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    extra = "".join(f", {counts[s]} {s}" for s in (FD_PASSES, NEEDS_TORCH) if counts[s])
    lines.append(f"\n{counts[DONE]} done, {counts[FAILING]} failing, {counts[NOT_STARTED]} not started{extra}, "
                 f"of {len(rows)} exercises.")
    for r in results:
        if r.exercise is None and not r.passed:
            lines.append(f"workspace test {r.name} failed: {r.message}")
    skipped = [r for r in results if r.no_torch]
    if skipped:
        fd = sum(r.name == "test_finite_differences" for r in results)
        lines.append(f"PyTorch is not installed ({skipped[0].message.removeprefix(NO_PYTORCH + ': ')}): "
                     f"the {len(skipped)} tests that compare with it were skipped, and only the {fd} "
                     f"finite-difference tests ran. '{FD_PASSES}': the exercise's finite differences pass; "
                     "for the full check, install PyTorch (pip install torch).")
    todo = next((r for r in rows if r.status == FAILING), None) or next(
        (r for r in rows if r.status == NOT_STARTED), None)  # fix what fails before starting anew
    if todo is not None:
        lines.append(f"Next: exercise {todo.number} ({todo.op}): pytest {shown}/tests -m exercise_{todo.number}")
    return "\n".join(lines)


def check(dest: Path, shown: str | None = None) -> int:
    """Print the progress table, and once every exercise is done run the capstone; 0 if it trained, 1 otherwise."""
    results = run_tests(Path(dest))
    rows = summarize(results, Path(dest))
    print(format_table(rows, results, shown or str(dest)))
    all_done = all(r.status == DONE for r in rows) and all(r.passed for r in results if r.exercise is None)
    if not all_done:
        return 1
    print("\nEvery backward passes its tests. The capstone: your minigrad trains the tutorial's ViT.\n")
    return capstone(Path(dest))


def capstone(dest: Path) -> int:
    """Run the workspace's capstone.py (writing it first if the workspace predates it); its exit code."""
    check_is_workspace(dest)
    script = dest / "capstone.py"
    if not script.exists():
        shutil.copyfile(Path(__file__).with_name("capstone.py"), script)
    sys.stdout.flush()  # our lines first, then the script's, which it prints as it trains
    return subprocess.run([sys.executable, script.name], cwd=dest).returncode
