"""python -m minigrad.exercises {new, check, hint, solve, capstone}: backward-pass exercises made from minigrad."""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from minigrad.exercises.catalog import EXERCISES, exercise_number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.exercises",
        description="Write the backward pass of every minigrad op yourself, from add to attention, then "
                    "four second derivatives, each checked against PyTorch.",
        epilog="Example: python -m minigrad.exercises new ~/backprop && pytest ~/backprop/tests -m exercise_1")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a workspace: minigrad with every backward replaced by a raise")
    new.add_argument("dir", help="a folder that does not exist yet (or is empty)")
    check = commands.add_parser("check", help="run a workspace's tests, print a progress table; once all pass, "
                                              "the capstone (exit 0: all done)")
    check.add_argument("dir")
    hint = commands.add_parser("hint", help="print the gradient formula of exercise N (one step before the code)")
    hint.add_argument("exercise", help=f"an exercise number, 1 to {len(EXERCISES)}, or an op name (softmax)")
    solve = commands.add_parser("solve", help="put minigrad's real backward back for exercise N (or 'all'); "
                                              "yours is kept in DIR/attempts/")
    solve.add_argument("dir")
    solve.add_argument("exercise", nargs="+", help=f"exercise numbers, 1 to {len(EXERCISES)}, op names, or 'all'")
    capstone = commands.add_parser("capstone", help="train the tutorial's ViT with your backward passes "
                                                    "(a few seconds; exit 0: it learned)")
    capstone.add_argument("dir")
    return parser


def hint_text(exercise: int | str) -> str:
    """The formula of an exercise (its number or op name), and where PyTorch writes the same gradient."""
    n = _numbers([str(exercise)], "hint")[0]
    e = EXERCISES[n - 1]
    return "\n".join([f"Exercise {n}: {e.op} backward", f"forward:  {e.forward}", "",
                      *textwrap.wrap(f"hint: {e.hint}", 100), "", *textwrap.wrap(f"PyTorch: {e.pytorch}", 100)])


def _numbers(words: list[str], command: str) -> list[int]:
    """Exercise numbers from the command line: numbers, op names (any case) or 'all'."""
    from minigrad.exercises.workspace import WorkspaceError

    if words == ["all"]:
        return list(range(1, len(EXERCISES) + 1))
    try:
        return [exercise_number(w) for w in words]
    except ValueError as err:
        raise WorkspaceError(f"{command}: {err}") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from minigrad.exercises import check, workspace  # after parsing: --help stays instant

    try:
        if args.command == "new":
            workspace.new_workspace(Path(args.dir), shown_as=args.dir)
            print(f"Made {args.dir}: {len(EXERCISES)} exercises, easy to hard. "
                  f"Read {Path(args.dir) / 'EXERCISES.md'}, then: pytest {args.dir}/tests -m exercise_1")
            return 0
        if args.command == "check":
            return check.check(Path(args.dir), shown=args.dir)
        if args.command == "hint":
            print(hint_text(args.exercise))
            return 0
        if args.command == "capstone":
            return check.capstone(Path(args.dir))
        restored = workspace.restore(Path(args.dir), _numbers(args.exercise, "solve"))
        print(f"Restored minigrad's backward of: {', '.join(r.op for r in restored)}")
        for r in restored:
            if r.kept is not None:
                print(f"Your {r.op} (exercise {r.number}) is kept in {Path(args.dir) / r.kept}")
        return 0
    except workspace.WorkspaceError as err:
        print(err, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
