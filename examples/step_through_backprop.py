"""Step through backprop: one attention head and one MLP on 3 tokens, every gradient printed.

    python examples/step_through_backprop.py           # read the printout top to bottom
    python examples/step_through_backprop.py --step    # pdb stops at each STOP (or STEP=1): up, p t["probs"], c
    python -m pdb examples/step_through_backprop.py    # your own breakpoints: the session below

What it prints: the forward pass (x, q, k, scores, probs, attn, h, y and the loss L), then
backward op by op as minigrad.trace() sees it (which op, which gradient reaches which tensor),
then dL/d of every tensor and weight, next to PyTorch's when PyTorch is installed (the script
fails if they differ). It marks three places, # STOP 1-3, each a call of breakpoint_here(), where
--step or a pdb breakpoint stops.

The model is tiny, so every number fits on screen: T = 3 tokens of C = 4 features, one
attention head of size 4, an MLP 4 -> 8 -> 4, float64, seed 0:

    q, k, v = x Wq^T + bq, x Wk^T + bk, x Wv^T + bv       (3, 4) each
    probs = softmax(q k^T / sqrt(4))                      (3, 3): row t = how much token t reads each token
    h = x + probs v                                       skip connection around attention
    y = h + gelu(h W1^T + b1) W2^T + b2                   skip connection around the MLP
    L = mean((y - target)^2)

It uses the composed ops (softmax_composed, gelu_composed, x @ W.T + b), so backward visits each
primitive op (MatMul, Exp, Sum, Div, Tanh, ...) and minigrad.trace() prints every one of them.
Everything runs inside `minigrad.reference()`: each op is the Function in minigrad/ops that you
read, never a faster kernel, so the code you step into is the code you read. In your own script,
`MINIGRAD_REFERENCE=1 python -m pdb my_script.py` does the same for the whole process.

A pdb session (tests/test_step_through.py runs these very commands):

    (Pdb) b breakpoint_here           stop at each STOP
    (Pdb) c                           STOP 1: the forward pass is done
    (Pdb) up                          into walk_through(), whose dict t holds every tensor
    (Pdb) p t["probs"]                a (3, 3) tensor; grad_fn=<DivBackward0> names the op that made it
    (Pdb) b mg.ops.Exp.backward       a breakpoint in one formula: the backward of exp
    (Pdb) c                           STOP 2: backward comes next
    (Pdb) c                           backward stops in Exp.backward (the ops before it are traced above)
    (Pdb) n                           run one line: out = exp(a), which forward saved
    (Pdb) p grad.shape, out.shape     dL/d out arrives; it returns grad * out = dL/d a
    (Pdb) w                           the stack: engine._visit called it, from t["L"].backward()
    (Pdb) c                           STOP 3: the gradients
    (Pdb) up
    (Pdb) p t["probs"].grad           dL/dprobs, kept by retain_grad()
    (Pdb) c                           to the end; pdb then restarts the script (q quits)

Things to find in the printout (answers in the math above):
  1. dL/dh equals dL/dattn. Why? And why does dL/dx differ from both?
  2. dL/dbk is exactly zero: adding bk to every key adds q.bk to a whole row of scores. What does softmax do with that?
  3. The trace says `pre` gets "the sum of the 5 gradients": find the 5 places gelu_composed uses its input.
  4. Each bias gets "grad (3, 4), summed to (4,)": which line of engine.py does that sum?
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

import minigrad as mg
import minigrad.functional as F

try:
    import torch
except ImportError:  # the walk-through works without PyTorch; it just has nothing to compare with
    torch = None

T, C, HIDDEN = 3, 4, 8  # tokens, features (= head size), MLP width
PARAMS = ["Wq", "bq", "Wk", "bk", "Wv", "bv", "W1", "b1", "W2", "b2"]
INTERMEDIATES = ["q", "k", "v", "scores", "probs", "attn", "h", "pre", "act", "y"]  # tensors made by ops
np.set_printoptions(precision=4, suppress=True, linewidth=110)


def breakpoint_here(stop: int, what: str, step: bool = False) -> None:
    """In pdb: `b breakpoint_here`, then `c`; at each stop type `up` to see the variables."""
    print(f"\n# STOP {stop}: {what}\n")
    if step:
        breakpoint()  # you are inside breakpoint_here: type `up` to reach the caller's variables


def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    """x, target and every weight, as float64 arrays (PyTorch's layout: W is (out, in))."""
    rng = np.random.default_rng(seed)
    shapes = {"x": (T, C), "target": (T, C), "Wq": (C, C), "bq": (C,), "Wk": (C, C), "bk": (C,),
              "Wv": (C, C), "bv": (C,), "W1": (HIDDEN, C), "b1": (HIDDEN,), "W2": (C, HIDDEN), "b2": (C,)}
    return {name: rng.standard_normal(shape) * (0.5 if name[0] in "Wb" else 1.0) for name, shape in shapes.items()}


def forward(t: dict, softmax, gelu) -> dict:
    """The model, written once for both frameworks: `t` holds tensors, `softmax`/`gelu` are the ops."""
    t["q"] = t["x"] @ t["Wq"].T + t["bq"]  # (3, 4) @ (4, 4) -> (3, 4)
    t["k"] = t["x"] @ t["Wk"].T + t["bk"]  # (3, 4)
    t["v"] = t["x"] @ t["Wv"].T + t["bv"]  # (3, 4)
    t["scores"] = (t["q"] @ t["k"].T) / math.sqrt(C)  # (3, 4) @ (4, 3) -> (3, 3)
    t["probs"] = softmax(t["scores"])  # (3, 3), each row sums to 1
    t["attn"] = t["probs"] @ t["v"]  # (3, 3) @ (3, 4) -> (3, 4)
    t["h"] = t["x"] + t["attn"]  # skip connection: h gets gradient from two paths
    t["pre"] = t["h"] @ t["W1"].T + t["b1"]  # (3, 4) -> (3, 8)
    t["act"] = gelu(t["pre"])  # (3, 8)
    t["y"] = t["h"] + t["act"] @ t["W2"].T + t["b2"]  # (3, 8) -> (3, 4), plus the skip
    t["L"] = ((t["y"] - t["target"]) ** 2).mean()  # a scalar
    return t


def ours(arrays: dict[str, np.ndarray]) -> dict[str, mg.Tensor]:
    t = {name: mg.Tensor(a, requires_grad=name != "target") for name, a in arrays.items()}
    t = forward(t, lambda s: F.softmax_composed(s, dim=-1), F.gelu_composed)
    for name in INTERMEDIATES:
        t[name].retain_grad()  # keep dL/d(name) after backward, for printing
    return t


def theirs(arrays: dict[str, np.ndarray]) -> dict | None:
    if torch is None:
        return None
    t = {name: torch.tensor(a, requires_grad=name != "target") for name, a in arrays.items()}
    t = forward(t, lambda s: torch.softmax(s, dim=-1),
                lambda s: torch.nn.functional.gelu(s, approximate="tanh"))
    for name in INTERMEDIATES:
        t[name].retain_grad()
    t["L"].backward()
    return t


def show_forward(t: dict[str, mg.Tensor]) -> None:
    for name in ["x", "q", "k", "scores", "probs", "attn", "h", "y"]:
        print(f"{name} {t[name].shape}:\n{t[name].numpy()}")
    print(f"L = {t['L'].item():.6f}")


def compare(name: str, got: np.ndarray, ref: dict | None) -> bool:
    """Print dL/d(name) from minigrad (and PyTorch); True if they agree."""
    if ref is None:
        print(f"dL/d{name} {got.shape}:\n{got}")
        return True
    expected = ref[name].grad.numpy()
    diff = float(np.abs(got - expected).max())
    ok = diff <= 1e-10 * (1.0 + float(np.abs(expected).max()))
    print(f"dL/d{name:<6} {str(got.shape):<7} max |ours - torch| = {diff:.1e}  {'OK' if ok else 'MISMATCH'}")
    for who, a in (("ours ", got), ("torch", expected)):
        print(f"  {who}: " + np.array2string(a, prefix=f"  {who}: "))  # prefix: indent the rows under it
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step", action="store_true", help="stop in pdb at each STOP (as STEP=1 does)")
    step = parser.parse_args(argv).step or bool(os.environ.get("STEP"))
    with mg.reference():  # every op runs its reference formulas (minigrad/ops), not a kernel
        return walk_through(step)


def walk_through(step: bool = False) -> int:
    arrays = make_inputs(seed=0)
    t = ours(arrays)
    breakpoint_here(1, "the forward pass is done; every tensor below remembers the op that made it", step)
    show_forward(t)

    breakpoint_here(2, "backward, one op at a time: from L back to x and the weights", step)
    names = {name: t[name] for name in [*PARAMS, "x", "target", *INTERMEDIATES, "L"]}
    with mg.trace(names=names):
        t["L"].backward()

    breakpoint_here(3, "the gradients, intermediate tensors first, then weights and the input", step)
    ref = theirs(arrays)
    if ref is None:
        print("PyTorch is not installed: showing minigrad's gradients only\n")
    results = [compare(name, t[name].grad.numpy(), ref) for name in [*INTERMEDIATES, *PARAMS, "x"]]
    if ref is not None:
        print(f"\n{sum(results)} of {len(results)} gradients match PyTorch")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
