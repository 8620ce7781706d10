"""The learner-code acceptance suite: which scripts, from which source, and how each ends on minigrad.

Each script ends as one of
  match  - ran on both frameworks; printed output and final values agree within the dtype's tolerance;
  stop   - minigrad raised (type and message recorded; `refusal` says whether it was a refusal: a `raise`
           in minigrad or a missing attribute / argument at the learner's call, not an error from inside NumPy);
  differ - minigrad printed or left a different value (or printed differently before it stopped).

`python tests/learner_code/suite.py` (or `python tests/test_learner_code.py`) prints the counts by source.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare  # noqa: E402
import harness  # noqa: E402

PYTORCH_EXAMPLES = "PyTorch: Learning PyTorch with Examples"
PYTORCH_TENSORS = "PyTorch: Tensors tutorial"
PYTORCH_AUTOGRAD = "PyTorch: autograd tutorials"
MAKEMORE = "Karpathy: makemore parts 1-5"


@dataclass(frozen=True)
class Script:
    path: str  # under tests/learner_code/
    source: str
    dtype: str = "float32"  # the tolerance for its printed numbers and Python floats
    tolerance: tuple[float, float] | None = None  # (rtol, atol) in place of TOLERANCE[dtype], with why
    why: str = ""
    not_compared: tuple[str, ...] = ()  # ends of value paths left out of the comparison, for the reason in why

    def tolerances(self) -> dict[str, tuple[float, float]]:
        return {**compare.TOLERANCE, **({self.dtype: self.tolerance} if self.tolerance else {})}


SCRIPTS = [
    Script("pytorch_tutorials/polynomial_tensor.py", PYTORCH_EXAMPLES),
    Script("pytorch_tutorials/polynomial_autograd.py", PYTORCH_EXAMPLES),
    Script("pytorch_tutorials/polynomial_custom_function.py", PYTORCH_EXAMPLES),
    Script("pytorch_tutorials/polynomial_nn.py", PYTORCH_EXAMPLES),
    Script("pytorch_tutorials/polynomial_optim.py", PYTORCH_EXAMPLES, tolerance=(0.1, 0.03),
           why="RMSprop at lr 1e-3 steps about lr whatever the gradient, so after step ~1400 it circles the "
               "minimum: the loss wanders in 8.8-9.5, a and c by 1e-3, d by 3e-4 (0.01-0.02 in y_pred at "
               "|x| = pi) with the rounding (PyTorch's own float32 and float64 runs part there too); the last "
               "step's gradients, sums of 2000 residuals that cancel near the minimum, follow the wander",
           not_compared=("weight.grad", "bias.grad")),
    Script("pytorch_tutorials/polynomial_module.py", PYTORCH_EXAMPLES),
    Script("pytorch_tutorials/dynamic_net.py", PYTORCH_EXAMPLES),
    Script("pytorch_tutorials/tensors_1_initializing.py", PYTORCH_TENSORS),
    Script("pytorch_tutorials/tensors_2_attributes.py", PYTORCH_TENSORS),
    Script("pytorch_tutorials/tensors_3_operations.py", PYTORCH_TENSORS),
    Script("pytorch_tutorials/tensors_4_numpy_bridge.py", PYTORCH_TENSORS),
    Script("pytorch_tutorials/autograd_gentle_intro.py", PYTORCH_AUTOGRAD),
    Script("pytorch_tutorials/autograd_basics.py", PYTORCH_AUTOGRAD),
    Script("pytorch_tutorials/double_backward_1_inputs_outputs.py", PYTORCH_AUTOGRAD, dtype="float64"),
    Script("pytorch_tutorials/double_backward_2_intermediate_results.py", PYTORCH_AUTOGRAD, dtype="float64"),
    Script("pytorch_tutorials/double_backward_3_not_tracked.py", PYTORCH_AUTOGRAD, dtype="float64"),
    Script("makemore/part1_bigram_counts.py", MAKEMORE),
    Script("makemore/part1_neural_bigram.py", MAKEMORE),
    Script("makemore/part2_mlp_explore.py", MAKEMORE),
    Script("makemore/part2_mlp_train.py", MAKEMORE, tolerance=(1e-2, 1e-3),
           why="2000 float32 SGD steps on minibatches: each framework sums in its own order, and the roundings "
               "compound (the weights part by up to 1e-4 while every printed loss still agrees to its digits)"),
    Script("makemore/part3_batchnorm.py", MAKEMORE),
    Script("makemore/part3_pytorchify.py", MAKEMORE),
    Script("makemore/part4_backprop_ninja.py", MAKEMORE),
    Script("makemore/part4_manual_training.py", MAKEMORE),
    Script("makemore/part5_wavenet.py", MAKEMORE),
]


@dataclass
class Outcome:
    script: Script
    kind: str  # "match" | "stop" | "differ"
    detail: str = ""  # why it differs, or the stop's "Type: message"
    refusal: bool = True
    cosmetic: set = field(default_factory=set)  # compare.COSMETIC rewrites that fired
    seconds: tuple = (0.0, 0.0)  # PyTorch's run, minigrad's


def outcome(script: Script) -> Outcome:
    import torch

    import minigrad

    path = HERE / script.path
    theirs = harness.run(path, torch)
    if theirs.error is not None:
        raise AssertionError(f"{script.path} fails on PyTorch itself:\n{theirs.trace}")
    ours = harness.run(path, minigrad)
    seconds = (theirs.seconds, ours.seconds)
    tolerance = script.tolerances()
    printed, cosmetic = compare.compare_output(ours.stdout, theirs.stdout, tolerance[script.dtype],
                                               prefix=ours.error is not None)
    if printed:
        return Outcome(script, "differ", printed, cosmetic=cosmetic, seconds=seconds)
    if ours.error is not None:
        message = f"{type(ours.error).__name__}: {ours.error}"
        where = f" (line {ours.error_line})" if ours.error_line else ""
        return Outcome(script, "stop", message + where, ours.refusal, cosmetic, seconds)
    values = compare.compare_namespaces(ours.namespace, theirs.namespace, tolerance, script.dtype,
                                        script.not_compared)
    return Outcome(script, "differ" if values else "match", values or "", cosmetic=cosmetic, seconds=seconds)


def report(outcomes: list[Outcome]) -> str:
    lines = []
    for source in dict.fromkeys(s.source for s in SCRIPTS):
        mine = [o for o in outcomes if o.script.source == source]
        counts = {k: sum(o.kind == k for o in mine) for k in ("match", "stop", "differ")}
        lines.append(f"{source}: run and match {counts['match']}, stop {counts['stop']}, differ {counts['differ']}")
        for o in mine:
            note = "" if o.refusal else "  [NOT A REFUSAL: an error from inside NumPy/minigrad]"
            shown = f"  {o.kind:6s} {Path(o.script.path).name:34s} {o.detail}{note}"
            lines.append(shown + f"  [{o.seconds[0]:.1f} s / {o.seconds[1]:.1f} s]")
            if o.cosmetic:
                lines.append(f"         {'':34s} shown differently: {', '.join(sorted(o.cosmetic))}")
    return "\n".join(lines)


def main(names: list[str]) -> None:
    chosen = [s for s in SCRIPTS if not names or any(n in s.path for n in names)]
    outcomes = [outcome(s) for s in chosen]
    print(report(outcomes))
    print("times: [PyTorch's run / minigrad's run]")


if __name__ == "__main__":
    main(sys.argv[1:])
