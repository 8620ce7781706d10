"""python -m minigrad.exercises: a workspace fails every backward exercise until it is solved.

The slow tests run the workspace's tests in a subprocess (one pytest run each, cwd = the workspace
or the repo root), with PyTorch hidden from one of them; three train the capstone's ViT.
Run alone: `pytest tests/test_exercises.py`.
"""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import minigrad
from minigrad.exercises import check, workspace
from minigrad.exercises.cases import CASES
from minigrad.exercises.catalog import EXERCISES, NUMBER, find_functions, unlisted_functions

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(minigrad.__file__).resolve().parent
N_EXERCISES = 59
SECOND_ORDER = ["TanhBackward", "SoftmaxBackwardData", "LogSoftmaxBackwardData", "GeluTanhBackward"]
ROW = re.compile(r"^\s*(\d+)\s+(\w+)\s+(done|failing|not started|fd passes|needs torch)\s+(\d+)/(\d+)\s*(.*)$")
TRAINED = "Your backward passes trained this ViT: "


def cli(*args, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minigrad.exercises", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True)


def table(stdout: str) -> dict[int, tuple[str, str, str]]:
    """check's output -> {exercise: (op, status, detail)}."""
    rows = {}
    for line in stdout.splitlines():
        m = ROW.match(line)
        if m:
            rows[int(m.group(1))] = (m.group(2), m.group(3), m.group(6))
    return rows


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A new workspace that no test changes."""
    dest = tmp_path_factory.mktemp("fresh") / "ws"
    workspace.new_workspace(dest)
    return dest


# -- the catalog ----------------------------------------------------------------------------------


def test_catalog_lists_every_function_in_minigrad():
    assert unlisted_functions(PACKAGE) == [], "add these ops to minigrad/exercises/catalog.py and cases.py"
    assert set(NUMBER) == set(find_functions(PACKAGE)), "the catalog lists an op minigrad does not define"
    assert set(CASES) == set(NUMBER), "every exercise needs a test table in cases.py, and only those"
    assert len(EXERCISES) == len(NUMBER) == N_EXERCISES


def test_catalog_lists_reference_functions_not_kernels():
    """The exercises are the reference formulas: no kernel is an exercise, every reference op is."""
    files = find_functions(PACKAGE)
    assert not any("kernels" in path.parts for path in files.values())
    assert set(minigrad.kernels.registered()) <= {
        f for f in _all_functions() if f.__name__ in NUMBER}, "every op with a kernel is also an exercise"


def _all_functions() -> set:
    seen, todo = set(), [minigrad.engine.Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return seen


def test_catalog_notices_a_new_function(tmp_path):
    package = tmp_path / "minigrad"
    (package / "ops").mkdir(parents=True)
    (package / "ops" / "new_op.py").write_text(
        "from minigrad.engine import Function\n\nclass Cube(Function):\n    pass\n\nclass Helper:\n    pass\n")
    assert unlisted_functions(package) == ["Cube (minigrad/ops/new_op.py)"]


def test_catalog_runs_easy_to_hard():
    order = [e.op for e in EXERCISES]
    assert order[:4] == ["Add", "Sub", "Neg", "Mul"]
    assert order.index("MatMul") < order.index("Softmax") < order.index("LayerNorm") < order.index("Im2Col")
    assert order[-len(SECOND_ORDER) - 1:] == ["ScaledDotProductAttention", *SECOND_ORDER]  # then one order up


@pytest.mark.parametrize("op", SECOND_ORDER)
def test_second_derivative_ops_are_what_create_graph_differentiates(op):
    """Each op of the last group is a first-order backward as one op: its value is autograd.grad's gradient of the
    first-order op (tanh, softmax, ...), and its backward gives the second derivatives create_graph=True gives."""
    import numpy as np

    import minigrad.functional as F
    from minigrad.functional import backward_ops
    from minigrad.testing import assert_close

    first, as_one_op, reads = {
        "TanhBackward": (minigrad.tanh, backward_ops.tanh_backward, "output"),
        "SoftmaxBackwardData": (lambda x: F.softmax(x, dim=0), backward_ops.softmax_backward_data, "output"),
        "LogSoftmaxBackwardData": (lambda x: F.log_softmax(x, dim=-1), backward_ops.log_softmax_backward_data,
                                   "output"),
        "GeluTanhBackward": (lambda x: F.gelu(x, approximate="tanh"), backward_ops.gelu_backward, "input"),
    }[op]
    rng = np.random.default_rng(0)
    x, g = (minigrad.tensor(rng.standard_normal((3, 5)), requires_grad=True) for _ in range(2))
    u = minigrad.tensor(rng.standard_normal((3, 5)))
    y = first(x)
    (dx,) = minigrad.autograd.grad(y, x, g, create_graph=True)  # the engine records the formula's primitive ops
    dx_op = as_one_op(g, y if reads == "output" else x, **({"dim": 0} if op == "SoftmaxBackwardData" else {}))
    assert dx_op.grad_fn.name() == f"{op}Backward0"  # PyTorch's TanhBackwardBackward0, ...
    assert_close(dx_op.detach().numpy(), dx.detach().numpy(), f"{op}: the first derivative", rtol=1e-12, atol=1e-12)
    expected = minigrad.autograd.grad((dx * u).sum(), [x, g], retain_graph=True)  # y's graph is used again
    got = minigrad.autograd.grad((dx_op * u).sum(), [x, g])  # through y = first(x) where the op reads y
    for name, a, b in zip(("x", "g"), got, expected):
        assert_close(a.numpy(), b.numpy(), f"{op}: d<dx, u>/d{name}", rtol=1e-10, atol=1e-12)


# -- new: the source rewrite ------------------------------------------------------------------------


def _without_backward_bodies(source: str) -> str:
    """The module's AST with every backward body and every op's class docstring emptied: what must not change."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "backward":
            node.body = [ast.Pass()]
        if isinstance(node, ast.ClassDef) and node.name in NUMBER and ast.get_docstring(node) is not None:
            node.body = node.body[1:]
    return ast.dump(tree)


def _class_docstring(source: str, op: str) -> str | None:
    classes = (node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ClassDef))
    return next(ast.get_docstring(node) for node in classes if node.name == op)


def test_new_stubs_every_backward_and_changes_nothing_else(fresh):
    ops = find_functions(PACKAGE)
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        if "exercises" in rel.parts or "kernels" in rel.parts:
            continue
        ours, original = (fresh / rel).read_text(), path.read_text()
        if not any(rel == ops[op] for op in ops):
            assert ours == original, f"{rel} has no op, so it must be copied unchanged"
            continue
        same = _without_backward_bodies(ours) == _without_backward_bodies(original)
        assert same, f"{rel}: something other than backward bodies changed"
        for op in (op for op, r in ops.items() if r == rel):
            n = NUMBER[op]
            expected = f'raise NotImplementedError("Exercise {n}: {op} backward — see EXERCISES.md")'
            body = ours.split(f"class {op}(Function)")[1].split("def backward")[1].split("\n\n")[0]
            code = [line.strip() for line in body.splitlines()[1:] if not line.strip().startswith("#")]
            assert code == [expected], f"{op}.backward should only raise, got {code}"
            comment = " ".join(line.strip().removeprefix("# ") for line in body.splitlines() if line.strip().startswith("#"))
            assert comment == f"Exercise {n}: {EXERCISES[n - 1].task} (Stuck? python -m minigrad.exercises hint {n})"
            assert EXERCISES[n - 1].hint not in comment, f"{op}'s stub gives the formula away"
            if _class_docstring(original, op) is not None:  # it may state the gradient: the forward instead
                assert " ".join(_class_docstring(ours, op).split()) == " ".join(EXERCISES[n - 1].forward.split()), op


def test_stubbed_bodies_are_the_reference_bodies(fresh):
    """What `new` removes, and `solve` puts back, is each reference Function's own backward body."""
    ops = find_functions(PACKAGE)
    for op, rel in ops.items():
        original = workspace._backward_spans((PACKAGE.parent / rel).read_text())[op]
        stubbed = workspace._backward_spans((fresh / rel).read_text())[op]
        assert original[2] == stubbed[2]  # the same indent: the same method of the same class
        assert "".join(workspace.real_body(op)) == "".join(
            (PACKAGE.parent / rel).read_text().splitlines(keepends=True)[original[0]:original[1] + 1])


def test_workspace_has_no_kernels(fresh):
    """No kernel may run instead of the learner's backward: the workspace's kernels package is empty."""
    kernels = fresh / "minigrad" / "kernels"
    assert sorted(p.name for p in kernels.iterdir()) == ["__init__.py"]
    text = (kernels / "__init__.py").read_text()
    assert "replaces" not in text and "def registered()" in text


def test_new_copies_no_exercise_tools_and_no_caches(fresh):
    assert not list((fresh / "minigrad").rglob("__pycache__"))
    assert sorted(p.name for p in (fresh / "minigrad" / "exercises").iterdir()) == ["__init__.py", "__main__.py"]
    assert "catalog" not in (fresh / "minigrad" / "exercises" / "__main__.py").read_text()


def test_exercises_md_lists_every_exercise_in_order(fresh):
    text, files = (fresh / "EXERCISES.md").read_text(), find_functions(PACKAGE)
    headings = re.findall(r"^### Exercise (\d+): (\w+)$", text, flags=re.M)
    assert headings == [(str(i + 1), e.op) for i, e in enumerate(EXERCISES)]
    for e in EXERCISES:
        section = text.split(f"### Exercise {NUMBER[e.op]}: {e.op}\n")[1].split("###")[0]
        assert f"pytest {fresh}/tests -m exercise_{NUMBER[e.op]}`" in section
        assert e.task in section and str(files[e.op]) in section
        assert f"python -m minigrad.exercises hint {NUMBER[e.op]}" in section


def test_the_formula_comes_only_from_hint_and_solve(fresh):
    """EXERCISES.md and the stubs say what to derive; neither the formula nor PyTorch's version of it."""
    text = (fresh / "EXERCISES.md").read_text()
    for e in EXERCISES:
        assert e.hint not in text and e.pytorch not in text, f"EXERCISES.md gives {e.op}'s gradient away"
        words = re.findall(r"grad\w*|d\w*/d\w+|derivative", e.forward)
        assert not words, f"{e.op}'s forward (its stub's docstring) speaks of its gradient: {words}"
    assert "output * (grad - (grad * output).sum(dim, keepdim))" not in text  # softmax's, in PyTorch's words
    files = find_functions(PACKAGE)
    given_away = {"MatMul": "grad_a = grad @ b^T", "Linear": "dL/dW = g^T x", "Pow": "d/da = b a^(b-1)",
                  "PowScalar": "d/da = c a^(c-1)", "Std": "dy/da = (a - mean) / ((N - correction) y)",
                  "CumSum": "dL/da_j = grad_j + ... + grad_n", "Norm": "dy/da = a / y"}
    for op, formula in given_away.items():
        assert formula in (PACKAGE.parent / files[op]).read_text(), f"minigrad's {op} no longer says {formula!r}"
        assert formula not in (fresh / files[op]).read_text(), f"the stub of {op} still says {formula!r}"
    for op, formula in {"InterpolateLinear": "Ry^T @ grad @ Rx", "CrossEntropy": "softmax - target"}.items():
        assert formula not in (fresh / files[op]).read_text(), f"{files[op]} gives {op}'s gradient away"


def test_cli_help_and_errors_speak_plainly(tmp_path):
    helped = cli("--help")
    assert helped.returncode == 0 and all(word in helped.stdout for word in ("new", "check", "solve"))
    (tmp_path / "notes.txt").write_text("mine")
    refused = cli("new", tmp_path)
    assert refused.returncode == 2 and "is not an empty folder; nothing was written" in refused.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert "is not an exercises workspace" in cli("check", tmp_path).stderr
    assert cli("check", tmp_path).returncode == 2


def test_solve_refuses_an_unknown_exercise(fresh):
    result = cli("solve", fresh, N_EXERCISES + 1)
    assert result.returncode == 2
    assert f"there is no exercise {N_EXERCISES + 1} (they are numbered 1 to {N_EXERCISES})" in result.stderr
    result = cli("solve", fresh, "softmx")
    assert result.returncode == 2 and "there is no exercise named 'softmx'; did you mean Softmax" in result.stderr


def test_solve_keeps_the_learners_backward_and_says_where(tmp_path):
    dest = tmp_path / "ws"
    workspace.new_workspace(dest)
    ops_file = dest / "minigrad" / "ops" / "elementwise.py"
    stub = 'raise NotImplementedError("Exercise 4: Mul backward — see EXERCISES.md")'
    for kept, slip in (("exercise_04_mul.py", "return grad * b, grad * b"),
                       ("exercise_04_mul_2.py", "return grad * a, grad * a")):  # a second attempt: a new file
        ops_file.write_text(ops_file.read_text().replace(stub, f"a, b = ctx.saved_tensors\n        {slip}"))
        result = cli("solve", dest, "mul")
        assert result.returncode == 0, result.stderr
        assert f"Your Mul (exercise 4) is kept in {dest / 'attempts' / kept}" in result.stdout
        copy = (dest / "attempts" / kept).read_text()
        assert slip in copy and "def backward(ctx" in copy and "minigrad/ops/elementwise.py" in copy
        ast.parse(copy)  # a def a learner can paste back
        assert slip not in ops_file.read_text() and "".join(workspace.real_body("Mul")) in ops_file.read_text()
        ops_file.write_text(workspace.replace_bodies(ops_file.read_text(), {"Mul": None}, "elementwise.py"))
    result = cli("solve", dest, "2", "mul", "MUL")  # untouched stubs, then minigrad's own: nothing to keep
    assert result.returncode == 0 and "kept" not in result.stdout, result.stdout
    assert sorted(p.name for p in (dest / "attempts").iterdir()) == ["exercise_04_mul.py", "exercise_04_mul_2.py"]


def test_hint_prints_the_formula_one_step_after_the_stub():
    for n in (4, NUMBER["LayerNorm"]):
        result = cli("hint", n)
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.split())
        assert EXERCISES[n - 1].hint in text and f"Exercise {n}: {EXERCISES[n - 1].op} backward" in text
        assert EXERCISES[n - 1].pytorch in text
    refused = cli("hint", 0)
    assert refused.returncode == 2 and "there is no exercise 0" in refused.stderr


def test_hint_by_op_name_in_any_case():
    by_number = cli("hint", NUMBER["Softmax"]).stdout
    assert f"Exercise {NUMBER['Softmax']}: Softmax backward" in by_number
    for name in ("softmax", "Softmax", "SOFTMAX"):
        assert cli("hint", name).stdout == by_number
    assert cli("hint", "layer_norm").stdout == cli("hint", NUMBER["LayerNorm"]).stdout
    assert cli("hint", "scaleddotproductattention").stdout == cli("hint", NUMBER["ScaledDotProductAttention"]).stdout
    assert cli("hint", "tanh_backward").stdout == cli("hint", NUMBER["TanhBackward"]).stdout
    assert cli("hint", "tanh").stdout == cli("hint", NUMBER["Tanh"]).stdout  # the first-order one
    refused = cli("hint", "softmx")
    assert refused.returncode == 2 and "did you mean Softmax" in refused.stderr
    assert cli("hint", "banana").returncode == 2


# -- running the workspace's tests (subprocesses) ---------------------------------------------------


def test_fresh_workspace_fails_every_backward_exercise_but_no_forward(fresh):
    results = check.run_tests(fresh)
    for n, e in enumerate(EXERCISES, start=1):
        mine = [r for r in results if r.exercise == n]
        forward = [r for r in mine if r.name.startswith("test_forward")]
        backward = [r for r in mine if not r.name.startswith("test_forward")]
        assert len(forward) == len(CASES[e.op].cases) and all(r.passed for r in forward), (e.op, forward)
        assert len(backward) >= 2 and not any(r.passed for r in backward), (e.op, backward)
        for r in backward:
            assert r.message == f"NotImplementedError: Exercise {n}: {e.op} backward — see EXERCISES.md", r
    others = [(r.name, r.passed) for r in results if r.exercise is None]
    assert others == [("test_imports_the_workspace_minigrad", True)]
    assert {row.status for row in check.summarize(results, fresh)} == {check.NOT_STARTED}


def test_learner_command_from_the_repo_root_runs_the_workspace_minigrad(fresh):
    """From the repo root, `import minigrad` alone would find the real (solved) one: pytest.ini must win."""
    result = subprocess.run([sys.executable, "-m", "pytest", str(fresh / "tests"), "-m", "exercise_4", "-q",
                             "-p", "no:cacheprovider", "--tb=line"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "NotImplementedError: Exercise 4: Mul backward" in result.stdout
    assert re.search(r"\b7 failed, 5 passed\b", result.stdout), result.stdout


def test_real_solutions_pass_every_exercise(tmp_path):
    dest = tmp_path / "ws"
    assert cli("new", dest).returncode == 0
    solved = cli("solve", dest, "all")
    assert solved.returncode == 0, solved.stderr
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent)
        if "exercises" not in rel.parts and "kernels" not in rel.parts:
            assert (dest / rel).read_text() == path.read_text(), f"{rel} differs from minigrad after solve all"
    result = cli("check", dest)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {n: row[1] for n, row in table(result.stdout).items()} == {n: "done" for n in range(1, N_EXERCISES + 1)}
    assert f"{N_EXERCISES} done, 0 failing, 0 not started, of {N_EXERCISES} exercises." in result.stdout
    # every exercise passes: check goes on to the capstone, which the reference formulas pass
    trained = re.search(TRAINED + r"loss (\S+) -> (\S+) in (\d+) steps, test accuracy (\d+)%", result.stdout)
    assert trained, result.stdout + result.stderr
    first, last, accuracy = float(trained.group(1)), float(trained.group(2)), int(trained.group(4))
    assert first > 2.0 and last < 0.5 and accuracy >= 80, trained.group(0)  # from about log(10) = 2.30


def test_solving_some_exercises_makes_exactly_those_pass(tmp_path):
    dest = tmp_path / "ws"
    workspace.new_workspace(dest)
    solved = [NUMBER[op] for op in ("Add", "Sum", "GetItem", "MatMul", "CrossEntropy", "Im2Col",
                                    "ScaledDotProductAttention")]
    assert cli("solve", dest, *solved).returncode == 0
    ops_file = dest / "minigrad" / "ops" / "elementwise.py"  # a learner's Mul with a slip: grad_b = grad * b
    stub = 'raise NotImplementedError("Exercise 4: Mul backward — see EXERCISES.md")'
    slip = "a, b = ctx.saved_tensors\n        return grad * b, grad * b"
    ops_file.write_text(ops_file.read_text().replace(stub, slip))
    result = cli("check", dest)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = table(result.stdout)
    assert len(rows) == N_EXERCISES
    for n, (op, status, detail) in rows.items():
        expected = "done" if n in solved else "failing" if op == "Mul" else "not started"
        assert status == expected, (n, op, status, detail)
    assert re.match(r"test_backward\[same_shape\]: gradient of input 1 \(shape \(3, 4\)\) is wrong: worst element "
                    r"at index \(\d+, \d+\) is -?[\d.e-]+, expected -?[\d.e-]+ \(PyTorch\)", rows[4][2]), rows[4][2]
    assert f"{len(solved)} done, 1 failing, {N_EXERCISES - len(solved) - 1} not started" in result.stdout
    assert "Next: exercise 4 (Mul)" in result.stdout  # the failing one, before the first not started (2)
    assert "ViT" not in result.stdout  # no capstone before every exercise passes


def test_without_pytorch_check_says_so_and_finite_differences_still_run(tmp_path):
    """Simulate a learner without PyTorch: a sitecustomize that makes `import torch` fail, in check's
    process and in the pytest it starts."""
    hide = tmp_path / "no_torch"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n\n\nclass NoTorch:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(f\"No module named {name!r}\", name=name)\n\n\n"
        "sys.meta_path.insert(0, NoTorch())\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])}
    hidden = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert "No module named 'torch'" in hidden.stderr
    dest = tmp_path / "ws"
    workspace.new_workspace(dest)
    solved = [NUMBER[op] for op in ("Add", "Softmax", "Cast")]
    assert cli("solve", dest, *solved).returncode == 0
    ops_file = dest / "minigrad" / "ops" / "elementwise.py"  # Mul with a slip: finite differences catch it
    stub = 'raise NotImplementedError("Exercise 4: Mul backward — see EXERCISES.md")'
    slip = "a, b = ctx.saved_tensors\n        return grad * b, grad * b"
    ops_file.write_text(ops_file.read_text().replace(stub, slip))
    result = cli("check", dest, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = table(result.stdout)
    assert len(rows) == N_EXERCISES, result.stdout + result.stderr
    for n, (op, status, detail) in rows.items():
        expected = {"Add": "fd passes", "Softmax": "fd passes", "Cast": "needs torch", "Mul": "failing"}
        assert status == expected.get(op, "not started"), (n, op, status, detail)
    assert rows[4][2].startswith("test_finite_differences: ") and "gradient" in rows[4][2], rows[4][2]
    assert "PyTorch is not installed (No module named 'torch'): the " in result.stdout
    assert f"and only the {N_EXERCISES - 1} finite-difference tests ran" in result.stdout  # all but Cast's
    assert (f"0 done, 1 failing, {N_EXERCISES - 4} not started, 2 fd passes, 1 needs torch, of {N_EXERCISES} "
            "exercises.") in result.stdout
    assert "Next: exercise 4 (Mul)" in result.stdout
    with_torch = cli("check", dest)  # the same workspace with PyTorch: the fd-only exercises are done
    assert {op: status for op, status, _ in table(with_torch.stdout).values() if op in ("Add", "Softmax", "Cast")} \
        == {"Add": "done", "Softmax": "done", "Cast": "done"}, with_torch.stdout
    assert "PyTorch is not installed" not in with_torch.stdout


def test_capstone_needs_every_backward_and_notices_a_wrong_one(tmp_path):
    dest = tmp_path / "ws"
    workspace.new_workspace(dest)
    assert (dest / "capstone.py").read_text() == (PACKAGE / "exercises" / "capstone.py").read_text()
    result = cli("capstone", dest)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Not yet: training reached a backward that is not written (Exercise " in result.stdout
    assert cli("solve", dest, "all").returncode == 0
    loss_file = dest / find_functions(PACKAGE)["CrossEntropy"]  # a sign slip: gradient ascent on the loss
    body = workspace.real_body("CrossEntropy")
    indent = body[0][:len(body[0]) - len(body[0].lstrip())]
    loss_file.write_text(workspace.replace_bodies(loss_file.read_text(), {"CrossEntropy": [
        f"{indent}grad = -grad  # a slip\n", *body]}, "loss"))
    result = cli("capstone", dest)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "This ViT did not learn: " in result.stdout and TRAINED not in result.stdout


def test_a_solved_workspace_passes_from_an_installed_package(tmp_path):
    """pip install minigrad (not editable) into a folder, then new, solve all and check from outside
    any checkout: the workspace's checks are minigrad.testing, so nothing needs the repo's tests/."""
    site = tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
                            "--target", str(site), str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*args):
        return subprocess.run([sys.executable, *map(str, args)], cwd=tmp_path, env=env, capture_output=True, text=True)

    where = run("-c", "import minigrad; print(minigrad.__file__)").stdout.strip()
    assert Path(where).is_relative_to(site) and not (site / "tests").exists()
    dest = tmp_path / "ws"
    assert run("-m", "minigrad.exercises", "new", dest).returncode == 0
    assert run("-m", "minigrad.exercises", "solve", dest, "all").returncode == 0
    result = run("-m", "minigrad.exercises", "check", dest)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{N_EXERCISES} done, 0 failing, 0 not started" in result.stdout
