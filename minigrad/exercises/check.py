"""`check DIR`: run a workspace's tests once and print each exercise's progress."""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from minigrad.exercises.catalog import EXERCISES, find_functions
from minigrad.exercises.workspace import WorkspaceError, check_is_workspace

DONE, FAILING, NOT_STARTED = "done", "failing", "not started"


@dataclass(frozen=True)
class Outcome:
    exercise: int | None  # None: a workspace test that belongs to no exercise
    name: str  # e.g. "test_backward[broadcast_b]"
    passed: bool
    message: str  # the first line of the failure, "" if passed


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
        results.append(Outcome(number, case.get("name", ""), problem is None, message))
    return results


def _not_written(result: Outcome, n: int) -> bool:
    return result.message.startswith("NotImplementedError") and f"Exercise {n}:" in result.message


def summarize(results: list[Outcome], dest: Path) -> list[Row]:
    """One row per exercise: done (all its tests pass), not started (only its own raise fails), or failing."""
    files = find_functions(dest / "minigrad")
    rows = []
    for n, ex in enumerate(EXERCISES, start=1):
        mine = [r for r in results if r.exercise == n]
        failed = [r for r in mine if not r.passed]
        if not mine:
            status, detail = FAILING, "no tests ran: is its test file missing?"
        elif not failed:
            status, detail = DONE, ""
        elif all(_not_written(r, n) for r in failed):
            where = files[ex.op].as_posix() if ex.op in files else "?"
            status, detail = NOT_STARTED, f"{ex.op}.backward in {where}"
        else:
            worst = next(r for r in failed if not _not_written(r, n))
            status, detail = FAILING, f"{worst.name}: {worst.message}"
        rows.append(Row(n, ex.op, status, len(mine) - len(failed), len(mine), detail))
    return rows


def format_table(rows: list[Row], results: list[Outcome], shown: str) -> str:
    width = max(len(r.op) for r in rows)
    lines = [f"{'#':>3}  {'op':<{width}}  {'status':<11}  {'tests':>5}  detail"]
    for r in rows:
        tests = f"{r.passed}/{r.total}"
        lines.append(f"{r.number:>3}  {r.op:<{width}}  {r.status:<11}  {tests:>5}  {r.detail}".rstrip())
    counts = {s: sum(r.status == s for r in rows) for s in (DONE, FAILING, NOT_STARTED)}
    lines.append(f"\n{counts[DONE]} done, {counts[FAILING]} failing, {counts[NOT_STARTED]} not started, "
                 f"of {len(rows)} exercises.")
    for r in results:
        if r.exercise is None and not r.passed:
            lines.append(f"workspace test {r.name} failed: {r.message}")
    todo = next((r for r in rows if r.status != DONE), None)
    if todo is not None:
        lines.append(f"Next: exercise {todo.number} ({todo.op}): pytest {shown}/tests -m exercise_{todo.number}")
    return "\n".join(lines)


def check(dest: Path, shown: str | None = None) -> int:
    """Print the progress table; 0 if every exercise is done, 1 otherwise."""
    results = run_tests(Path(dest))
    rows = summarize(results, Path(dest))
    print(format_table(rows, results, shown or str(dest)))
    all_done = all(r.status == DONE for r in rows) and all(r.passed for r in results if r.exercise is None)
    return 0 if all_done else 1
