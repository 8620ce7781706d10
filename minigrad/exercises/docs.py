"""EXERCISES.md, written from the catalog so that it cannot drift from the tests."""
from __future__ import annotations

from pathlib import Path

from minigrad.exercises.catalog import EXERCISES, NUMBER, exercise_test_file

_INTRO = """# minigrad exercises: write the backward pass of every op

This folder is a copy of minigrad's reference formulas (minigrad/ops and minigrad/functional,
without the fast kernels: what you write is what runs) in which the `backward` of every op raises
`NotImplementedError("Exercise N: <op> backward — see EXERCISES.md")`. The forwards are given.
Write each backward, from easy (add, mul) to hard (softmax, layer norm, conv-as-matmul,
attention); every exercise has its own tests, which compare your gradients with PyTorch's.
The last group goes one order up: its ops are backward formulas themselves (tanh's, softmax's,
log-softmax's, GELU's), so their backward is a second derivative, compared with PyTorch's double
backward. (`backward(create_graph=True)` differentiates a backward the same way, op by op.)

## How to work

1. Open the file named in the exercise and find `class <Op>(Function)`. Read its `forward`:
   what it saves (`ctx.save_for_backward(...)`, `ctx.<name> = ...`) is what `backward` gets.
2. Derive the gradient on paper (the stub says what to derive), then replace the
   `raise NotImplementedError(...)` with it.
3. Run the exercise's tests: `pytest {d}/tests -m exercise_N` (or, in the workspace folder,
   `pytest tests -m exercise_N`; one file: `pytest {d}/tests/test_exercise_04_mul.py`).
4. See your progress: `python -m minigrad.exercises check {d}` (run it from outside this folder,
   whose `minigrad` is your copy without the tools).
5. Stuck? `python -m minigrad.exercises hint N` (or `hint softmax`: the op's name) prints the formula and
   PyTorch's; `python -m minigrad.exercises solve {d} N` puts minigrad's own backward back for exercise N
   (yours is kept in `{d}/attempts/`).
6. When every exercise passes, `check` trains the tutorial's ViT with your backward passes, for a
   few seconds on generated images (`python -m minigrad.exercises capstone {d}` runs it alone;
   it is `{d}/capstone.py`).

Each exercise's tests call only its own op and run `out.backward(dout)` directly, so only that
op's backward runs: the exercises can be done in any order. The order below goes from easy to hard.
Code built from several ops needs all of their exercises: `x.T` is Permute, `chunk` is GetItem,
`conv2d` is Im2Col + Linear + Permute, the `*_composed` functions and `nn` layers use many, and
training a model needs every one but the second derivatives.

## The rules a backward follows (see minigrad/engine.py)

- `backward(ctx, grad)` receives dL/d(output), with the output's shape, and returns dL/d(input):
  one gradient per input (a tuple when there are several; `None` for an input that needs none,
  e.g. when `ctx.needs_input_grad[i]` is False, or for integer targets).
- Return gradients with the *broadcast* shape: the engine sums each one back to its input's shape
  (`engine.unbroadcast`). No op undoes broadcasting itself.
- Never modify `grad` in place: the engine may share it between inputs.
- A gradient has its input's dtype: float32 stays float32. Multiply by Python floats or
  `x.dtype.type(c)`, never by NumPy float64 scalars (they would upcast float32 arrays).

## What the tests tell you

- `test_forward`: passes from the start (the forward is given).
- `test_backward[case]`: your gradients against PyTorch's, in float64, for a random upstream
  gradient. A failure names the input, its worst element and the value PyTorch gets, e.g.
  `gradient of input 1 (shape (4,)) is wrong: worst element at index (2,) is 0.31, expected -1.25 (PyTorch)`.
- `test_backward_float32`: the first case in float32: a gradient must not become float64.
- `test_finite_differences`: the first case against (f(x + eps) - f(x - eps)) / 2 eps, without PyTorch.
  Without PyTorch installed, it is the only test that runs: the others (marked `pytorch`) are skipped,
  saying so, and `check` tells you which exercises pass their finite differences.
- `NotImplementedError: Exercise N: ...`: that backward is not written yet.

## The exercises

| # | op | file | test |
|---|---|---|---|
{table}
"""

_EXERCISE = """### Exercise {n}: {op}

- **where**: `{path}`, `class {op}(Function)`, method `backward`
- **forward**: {forward}
- **derive**: {task}
- **hint** (the formula, and what PyTorch does): `python -m minigrad.exercises hint {n}`
- **test**: `pytest {d}/tests -m exercise_{n}` (the cases are in `{d}/tests/{test}`)
"""


def exercises_md(shown: str, files: dict[str, Path]) -> str:
    """The whole EXERCISES.md; `shown` is how the workspace folder is named in commands."""
    rows = [f"| {n} | {e.op} | `{files[e.op].as_posix()}` | `-m exercise_{n}` |"
            for n, e in enumerate(EXERCISES, start=1)]
    parts = [_INTRO.format(d=shown, table="\n".join(rows))]
    group = None
    for e in EXERCISES:
        n = NUMBER[e.op]
        if e.group != group:
            group = e.group
            parts.append(f"## {group}\n")
        parts.append(_EXERCISE.format(n=n, op=e.op, path=files[e.op].as_posix(), forward=e.forward, task=e.task,
                                      d=shown, test=exercise_test_file(n)))
    return "\n".join(parts)
