"""The text files of a workspace, written from the catalog: tests, pytest.ini, conftest, EXERCISES.md, capstone.py."""
from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

from minigrad.exercises import docs
from minigrad.exercises.cases import CASES, Cases
from minigrad.exercises.catalog import EXERCISES, NUMBER, exercise_test_file

_TESTS = '''

@pytest.mark.pytorch
@pytest.mark.parametrize("case", CASES)
def test_forward(case):
    """Given: the forward is already written, so this passes before you start."""
    inputs, ours, theirs = CASES[case]
    check_forward(ours, theirs, inputs, LOW)


@pytest.mark.pytorch
@pytest.mark.parametrize("case", CASES)
def test_backward(case):
    inputs, ours, theirs = CASES[case]
    check_backward(ours, theirs, inputs, LOW)


@pytest.mark.pytorch
def test_backward_float32():
    """float32 inputs get float32 gradients: nothing may upcast to float64."""
    inputs, ours, theirs = CASES[FIRST]
    check_backward(ours, theirs, inputs, LOW, dtype=np.float32)
'''

_FINITE_DIFFERENCES = '''

def test_finite_differences():
    """The same gradient checked without PyTorch: central differences of the forward, in float64."""
    inputs, ours, _ = CASES[FIRST]
    check_finite_differences(ours, inputs, LOW)
'''


def _imports(op: str, module: str, code: str, finite_differences: bool) -> str:
    """The imports the cases' code uses, and the harness's checks."""
    lines = ["from __future__ import annotations", "", "import numpy as np", "import pytest"]
    torch_imports = ["import torch"] if re.search(r"\btorch\.", code) else []
    torch_imports += ["import torch.nn.functional as TF"] if re.search(r"\bTF\.", code) else []
    if torch_imports:
        names = " = ".join(line.split()[-1] for line in torch_imports)  # torch, TF
        lines += ["", "try:", *(f"    {line}" for line in torch_imports),
                  "except ImportError:  # without PyTorch, conftest.py skips the tests marked pytorch, saying so",
                  f"    {names} = None"]
    lines.append("")
    lines += ["import minigrad as mg"] if re.search(r"\bmg\.", code) else []
    lines += ["import minigrad.functional as F"] if re.search(r"(?<![\w.])F\.", code) else []
    if re.search(rf"\b{op}\b", code):
        lines.append(f"from {module} import {op}")
    if "dropout_mask(" in code:
        lines.append("from minigrad.functional.dropout import dropout_mask")
    checks = "check_backward, check_finite_differences, check_forward" if finite_differences \
        else "check_backward, check_forward"
    lines.append(f"from minigrad.testing import {checks}")
    return "\n".join(lines)


def _case_rows(spec: Cases) -> list[str]:
    rows = []
    for name, (inputs, ours, theirs) in spec.cases.items():
        row = f'    "{name}": ({inputs}, {ours}, {theirs}),'
        if len(row) > 110:  # one element per line
            row = f'    "{name}": (\n        {inputs},\n        {ours},\n        {theirs},\n    ),'
        rows.append(row)
    return rows


def _cases_block(op: str, spec: Cases) -> str:
    rows = _case_rows(spec)
    return (f"# name: (inputs, minigrad (its only backward is {op}'s), PyTorch)\n"
            "CASES = {\n" + "\n".join(rows) + "\n}\nFIRST = next(iter(CASES))  # also checked in float32"
            + (" and by finite differences" if spec.finite_differences else "") + "\n")


def test_file(n: int, path: Path) -> str:
    """The test module of exercise n, whose op lives in `path` (e.g. minigrad/ops/elementwise.py)."""
    ex, spec = EXERCISES[n - 1], CASES[EXERCISES[n - 1].op]
    low = f"LOW = {spec.low}  # inputs are {spec.low} + |N(0, 1)|: away from 0" if spec.low is not None \
        else "LOW = None  # inputs are N(0, 1)"
    setup = spec.setup.strip()
    setup = f"\n\n{setup}\n\n\n" if "def " in setup else f"{setup}\n\n" if setup else "\n"
    body = (f"pytestmark = pytest.mark.exercise_{n}\n{low}\n{setup}{_cases_block(ex.op, spec)}"
            + _TESTS + (_FINITE_DIFFERENCES if spec.finite_differences else ""))
    module = ".".join(path.with_suffix("").parts)
    code = spec.setup + "\n".join(_case_rows(spec))  # what the imports are for
    task = textwrap.fill(ex.task, 96, initial_indent="derive:   ", subsequent_indent=" " * 10)
    doc = (f'"""Exercise {n}: {ex.op} backward, in {path.as_posix()}.\n\nforward:  {ex.forward}\n{task}\n\n'
           f"Run: pytest tests -m exercise_{n}   (in the workspace folder)\n"
           f"Stuck? python -m minigrad.exercises hint {n}\n\"\"\"\n")
    return doc + _imports(ex.op, module, code, spec.finite_differences) + "\n\n" + body


def pytest_ini() -> str:
    markers = "\n".join(f"    exercise_{i + 1}: {e.op} backward" for i, e in enumerate(EXERCISES))
    return ("# An exercises workspace (python -m minigrad.exercises new). One exercise: pytest tests -m exercise_N\n"
            "[pytest]\ntestpaths = tests\n"
            "# the workspace first on sys.path: `import minigrad` is the copy you edit\n"
            f"pythonpath = . tests\naddopts = -ra --strict-markers\nmarkers =\n"
            "    pytorch: compares with PyTorch (skipped, saying so, where PyTorch is not installed)\n"
            f"{markers}\n")


NO_PYTORCH = "needs PyTorch, which is not installed"  # the start of a skipped test's reason; check.py reads it

CONFTEST = '''"""These tests must run the workspace's minigrad (the copy you edit), never another one.

pytest.ini (`pythonpath = . tests`) puts the workspace first on sys.path; this checks it worked.
Without PyTorch, the tests marked `pytorch` are skipped, saying so: test_finite_differences still runs.
"""
from pathlib import Path

import pytest

import minigrad

WORKSPACE = Path(__file__).resolve().parents[1]
if Path(minigrad.__file__).resolve().parent != WORKSPACE / "minigrad":
    raise ImportError(
        f"the exercise tests must import {WORKSPACE / 'minigrad'}, but `import minigrad` found "
        f"{Path(minigrad.__file__).parent}: run pytest on {WORKSPACE / 'tests'}, "
        f"so that {WORKSPACE / 'pytest.ini'} applies"
    )

try:
    import torch  # noqa: F401  (the oracle of the tests marked pytorch)
    NO_TORCH = None
except ImportError as err:
    NO_TORCH = f"{NO_PYTORCH}: {err}"


def pytest_collection_modifyitems(config, items):
    if NO_TORCH is not None:
        for item in items:
            if "pytorch" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=NO_TORCH))
'''.replace("{NO_PYTORCH}", NO_PYTORCH)

TEST_WORKSPACE = '''"""The workspace is wired right: the tests import the minigrad in this folder."""
from pathlib import Path

import minigrad


def test_imports_the_workspace_minigrad():
    assert Path(minigrad.__file__).resolve().parent == Path(__file__).resolve().parents[1] / "minigrad"
'''

STUB = '''"""The exercise tools are not part of a workspace: they come with minigrad itself."""
import sys

sys.exit("minigrad.exercises: this is the workspace's copy of minigrad, without the tools. Run them with the "
         "minigrad you installed, from outside this folder:\\n"
         "  python -m minigrad.exercises check {dest}")
'''

KERNELS = '''"""No kernels in an exercises workspace: every op runs its reference Function, whose backward you write.

(In minigrad itself this package holds faster implementations of some ops, which would run instead.)
"""


def registered() -> dict:
    """Every reference Function that has a kernel -> its kernel: none here."""
    return {}


def get_num_threads() -> int:
    """Every op runs in the calling thread here."""
    return 1


def set_num_threads(n: int) -> None:
    """Accepted and ignored: a workspace runs its reference ops in the calling thread."""
'''


def write_workspace_files(dest: Path, shown: str, source: Path, files: dict[str, Path]) -> None:
    """Everything of the workspace but the stubbed minigrad copy itself."""
    stub = dest / "minigrad" / "exercises"
    stub.mkdir()
    (stub / "__init__.py").write_text('"""See __main__.py: the exercise tools are not part of a workspace."""\n')
    (stub / "__main__.py").write_text(STUB.format(dest=dest.resolve()))
    (dest / "minigrad" / "kernels").mkdir()
    (dest / "minigrad" / "kernels" / "__init__.py").write_text(KERNELS)
    tests = dest / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text(CONFTEST)
    (tests / "test_workspace.py").write_text(TEST_WORKSPACE)
    for op, n in NUMBER.items():
        (tests / exercise_test_file(n)).write_text(test_file(n, files[op]))
    (dest / "pytest.ini").write_text(pytest_ini())
    (dest / "EXERCISES.md").write_text(docs.exercises_md(shown, {op: files[op] for op in NUMBER}))
    shutil.copyfile(Path(__file__).with_name("capstone.py"), dest / "capstone.py")
