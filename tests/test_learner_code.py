"""Learners' PyTorch code runs on minigrad: the tutorials' and lectures' own code, only the imports bound.

Each script in tests/learner_code/ runs on PyTorch and on minigrad from the same random draws
(learner_code/harness.py) and must print the same and leave the same values (learner_code/compare.py),
or stop where EXPECTED_STOPS says, with minigrad's refusal. `python tests/test_learner_code.py [name ...]`
prints the outcomes by source.
"""
from __future__ import annotations

import re
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent / "learner_code"))
import compare  # noqa: E402
import harness  # noqa: E402
import suite  # noqa: E402

# script -> (exception type, pattern its message matches, the cause: the minigrad function it needs).
# A script listed here must stop with that refusal; one that runs and matches must leave the table.
EXPECTED_STOPS: dict[str, tuple[str, str, str]] = {
    "pytorch_tutorials/double_backward_2_intermediate_results.py": (
        "NotImplementedError", r"Sinh\.forward returned 3 outputs; minigrad's custom Functions return one Tensor",
        "a custom autograd.Function with several outputs (the tutorial returns its intermediates as outputs)"),
}

# script -> (pattern its difference matches, the cause). A listed script must differ there, and only there.
KNOWN_DIFFERS: dict[str, tuple[str, str]] = {
    "makemore/part4_backprop_ninja.py": (
        r"line 22 of PyTorch's \('hpreact +\| exact: False.*minigrad printed 'hpreact\|exact:True",
        "the lecture's exact column: minigrad's tanh backward is the lecture's own formula (1 - h**2) * dh, so "
        "its gradient equals the hand-derived one bit for bit, where PyTorch's fused kernel rounds once "
        "differently (by 9e-10); every other row agrees with PyTorch's"),
}


def test_the_stop_table_names_only_scripts_of_the_suite():
    assert set(EXPECTED_STOPS) | set(KNOWN_DIFFERS) <= {s.path for s in suite.SCRIPTS}
    assert all((suite.HERE / s.path).is_file() for s in suite.SCRIPTS)


@pytest.mark.parametrize("script", suite.SCRIPTS, ids=[Path(s.path).stem for s in suite.SCRIPTS])
def test_learner_script_runs_and_matches_or_stops_as_listed(script):
    result = suite.outcome(script)
    if script.path in KNOWN_DIFFERS:
        pattern, cause = KNOWN_DIFFERS[script.path]
        assert result.kind == "differ", f"{script.path} now matches: take it out of KNOWN_DIFFERS ({cause})"
        assert re.search(pattern, result.detail), f"{script.path} differs elsewhere than listed: {result.detail}"
        return
    assert result.kind != "differ", f"{script.path} differs from PyTorch: {result.detail}"
    expected = EXPECTED_STOPS.get(script.path)
    if expected is None:
        assert result.kind == "match", f"{script.path} stopped on minigrad: {result.detail}"
        return
    kind, pattern, cause = expected
    assert result.kind == "stop", f"{script.path} now runs and matches: take it out of EXPECTED_STOPS ({cause})"
    assert result.refusal, f"{script.path}: not a refusal but an error from inside NumPy/minigrad: {result.detail}"
    assert result.detail.startswith(kind + ":") and re.search(pattern, result.detail), (
        f"{script.path} stops otherwise than listed ({cause}): {result.detail}")


# -- the harness can fail: its pieces checked on their own ----------------------------------------------------------


def test_both_frameworks_draw_the_same_values():
    import torch

    import minigrad

    drawn = []
    for real in (torch, minigrad):
        fw = harness.bind(real)
        fw.manual_seed(3)
        layer = fw.nn.Linear(4, 2)
        drawn.append([fw.randn(2, 3), fw.rand(4), fw.randint(0, 10, (5,)), layer.weight, layer.bias])
    for ours, theirs in zip(drawn[1], drawn[0]):
        assert compare.dtype_name(ours) == compare.dtype_name(theirs)
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


def test_multinomial_draws_follow_the_probabilities():
    rng = np.random.default_rng(0)
    draws = harness._multinomial(rng, np.array([0.1, 0.0, 0.9]), 2000, replacement=True)
    assert set(np.unique(draws)) == {0, 2} and abs((draws == 2).mean() - 0.9) < 0.03
    once = harness._multinomial(rng, np.array([[1.0, 1.0, 1.0]]), 3, replacement=False)
    assert sorted(once[0]) == [0, 1, 2]


@pytest.mark.parametrize("ours, theirs, same", [
    ("99 1234.5678\n", "99 1234.5679\n", True),  # within float32's rtol
    ("99 1234.5678\n", "99 1299.0\n", False),
    ("100 1.0\n", "99 1.0\n", False),  # integers print exactly
    ("tensor(2.45)\n", "tensor(2.4544)\n", True),  # half a unit in the last printed digit
    ("tensor(2.47)\n", "tensor(2.4544)\n", False),
    ("tensor([1., 2.], dtype=float32)\n", "tensor([1.0000, 2.0000])\n", True),  # cosmetic: default dtype
    ("tensor([1., 2.], dtype=float64)\n", "tensor([1., 2.])\n", False),  # a dtype PyTorch would show
    ("(32, 3) int64\n", "torch.Size([32, 3]) torch.int64\n", True),
    ("<MeanBackward0 object at 0x1>\n", "<MulBackward0 object at 0x2>\n", False),
    ("emma\n", "emmy\n", False),
])
def test_printed_output_is_compared_by_text_and_numbers(ours, theirs, same):
    problem, _ = compare.compare_output(ours, theirs, compare.TOLERANCE["float32"])
    assert (problem is None) == same, problem


def test_a_stopped_run_is_compared_up_to_its_stop():
    assert compare.compare_output("1 2.0\n", "1 2.0\n2 3.0\n", (0, 0), prefix=True)[0] is None
    assert compare.compare_output("1 2.5\n", "1 2.0\n2 3.0\n", (0, 0), prefix=True)[0] is not None


def test_only_a_raise_in_minigrad_or_at_the_learners_call_is_a_refusal(tmp_path):
    script = tmp_path / "learner.py"
    frame = lambda file, line: traceback.FrameSummary(file, 1, "f", line=line)  # noqa: E731
    stack = lambda *frames: traceback.StackSummary.from_list(frames)  # noqa: E731
    assert harness.is_refusal(stack(frame(str(script), "x.t()")), script)
    assert harness.is_refusal(stack(frame("/a/minigrad/ops/x.py", "raise RuntimeError('x: no')")), script)
    assert not harness.is_refusal(stack(frame("/a/minigrad/ops/x.py", "return np.add(a, b)")), script)
    assert not harness.is_refusal(stack(frame("/a/numpy/core/x.py", "raise ValueError('shapes')")), script)


def test_final_values_are_compared_with_the_dtypes_tolerance():
    import torch

    import minigrad

    ns_theirs = {"w": torch.tensor([1.0, 2.0]), "n": 3, "name": "emma"}
    ok = {"w": minigrad.tensor([1.0, 2.0 + 1e-6]), "n": 3, "name": "emma"}
    off = {"w": minigrad.tensor([1.0, 2.1]), "n": 3, "name": "emma"}
    assert compare.compare_namespaces(ok, ns_theirs, compare.TOLERANCE, "float32") is None
    assert "w" in compare.compare_namespaces(off, ns_theirs, compare.TOLERANCE, "float32")
    assert "name" in compare.compare_namespaces({**ok, "name": "emmy"}, ns_theirs, compare.TOLERANCE, "float32")


if __name__ == "__main__":
    suite.main(sys.argv[1:])
