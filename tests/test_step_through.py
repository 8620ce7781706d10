"""examples/step_through_backprop.py runs as a learner runs it, with and without PyTorch, and every command
its docstring suggests works: --help, --step (or STEP=1), and its pdb session, driven here through stdin."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "examples/step_through_backprop.py"
COMPARED = ["q", "k", "v", "scores", "probs", "attn", "h", "pre", "act", "y",
            "Wq", "bq", "Wk", "bk", "Wv", "bv", "W1", "b1", "W2", "b2", "x"]


def run(*python_args, commands=(), **env_vars):
    """The script's stdout; `commands` are typed into pdb, one a line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_vars}
    for name in ("STEP", "PYTHONBREAKPOINT"):  # STEP=1 would stop in the debugger
        if name not in env_vars:
            env.pop(name, None)
    done = subprocess.run([sys.executable, *python_args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, input="".join(f"{c}\n" for c in commands))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def out():
    return run(SCRIPT)


def test_every_gradient_is_compared_with_pytorch(out):
    for name in COMPARED:
        assert re.search(rf"^dL/d{name} +\(.*\) +max \|ours - torch\| = \S+  OK$", out, flags=re.M), name
    assert "MISMATCH" not in out
    assert f"{len(COMPARED)} of {len(COMPARED)} gradients match PyTorch" in out


def test_it_stops_and_traces_backward_op_by_op(out):
    assert [int(n) for n in re.findall(r"^# STOP (\d+):", out, flags=re.M)] == [1, 2, 3]
    steps = re.findall(r"^ +(\d+)  (\w+) -> ", out, flags=re.M)
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    assert {"MatMul", "Exp", "Sum", "Div", "Tanh", "Permute", "Mean"} <= {op for _, op in steps}
    assert "Add -> h (3, 4) float64" in out and "(the sum of the 2 gradients sent to h)" in out


def test_without_pytorch_it_prints_ours_only():
    hide_torch = ("import runpy, sys; sys.modules['torch'] = None; "  # `import torch` now raises ImportError
                  f"runpy.run_path({SCRIPT!r}, run_name='__main__')")
    out = run("-c", hide_torch)
    assert "PyTorch is not installed" in out
    assert re.search(r"^dL/dWq \(4, 4\):$", out, flags=re.M) and "torch:" not in out


def docstring_pdb_commands():
    """The commands of the docstring's pdb session: each `(Pdb) command` line, up to its two-space comment."""
    doc = ast.get_docstring(ast.parse((ROOT / SCRIPT).read_text()))
    return [re.split(r"\s{2,}", line.strip().removeprefix("(Pdb) "))[0]
            for line in doc.splitlines() if line.strip().startswith("(Pdb) ")]


def stops(out):
    return [int(n) for n in re.findall(r"^# STOP (\d+):", out, flags=re.M)]


def test_help_explains_and_runs_nothing():
    out = run(SCRIPT, "--help")
    assert out.startswith("usage: step_through_backprop.py [-h] [--step]")
    for text in ["What it prints:", "python -m pdb examples/step_through_backprop.py", "(Pdb) b breakpoint_here",
                 "MINIGRAD_REFERENCE=1 python -m pdb my_script.py", "--step", "STEP=1"]:
        assert text in out, text
    assert stops(out) == []  # it explained itself and stopped


def test_the_docstrings_pdb_session_works():
    commands = docstring_pdb_commands()
    assert commands[:4] == ["b breakpoint_here", "c", "up", 'p t["probs"]'] and len(commands) >= 10
    out = run("-m", "pdb", SCRIPT, commands=[*commands, "q"])
    assert "*** " not in out, out  # pdb's mark of a command that failed (NameError, SyntaxError, ...)
    assert re.search(r"Breakpoint 1 at .*step_through_backprop\.py", out)
    assert re.search(r"Breakpoint 2 at .*minigrad/ops/elementwise\.py", out)  # b mg.ops.Exp.backward
    assert re.search(r"^\(Pdb\) tensor\(\[\[.*\n.*\n.*\]\], dtype=float64, grad_fn=<DivBackward0>\)$", out, flags=re.M)
    assert "((3, 3), (3, 3))" in out  # p grad.shape, out.shape inside Exp.backward
    assert stops(out) == [1, 2, 3] and "21 of 21 gradients match PyTorch" in out
    assert "Exit status: 0" in out  # it ran to the end, then q quit


@pytest.mark.parametrize("how", ["--step", "STEP=1"])
def test_step_stops_in_pdb_at_each_stop(how):
    args, env = ([SCRIPT, "--step"], {}) if how == "--step" else ([SCRIPT], {"STEP": "1"})
    out = run(*args, commands=["up", 'p t["probs"]', "c"] * 3, **env)
    assert "*** " not in out, out
    assert stops(out) == [1, 2, 3] and out.count("dtype=float64, grad_fn=<DivBackward0>)") == 3  # p t["probs"]
    assert "21 of 21 gradients match PyTorch" in out
