"""examples/step_through_backprop.py runs as a learner runs it, with and without PyTorch."""
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


def run(*python_args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STEP", None)  # STEP=1 would stop in the debugger
    done = subprocess.run([sys.executable, *python_args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
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
