"""python -m minigrad.exercises {new, check, hint, solve}: backward-pass exercises made from minigrad."""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from minigrad.exercises.catalog import EXERCISES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.exercises",
        description="Write the backward pass of every minigrad op yourself, from add to attention, "
                    "each checked against PyTorch.",
        epilog="Example: python -m minigrad.exercises new ~/backprop && pytest ~/backprop/tests -m exercise_1")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a workspace: minigrad with every backward replaced by a raise")
    new.add_argument("dir", help="a folder that does not exist yet (or is empty)")
    check = commands.add_parser("check", help="run a workspace's tests, print a progress table (exit 0: all done)")
    check.add_argument("dir")
    hint = commands.add_parser("hint", help="print the gradient formula of exercise N (one step before the code)")
    hint.add_argument("number", type=int, help=f"an exercise number, 1 to {len(EXERCISES)}")
    solve = commands.add_parser("solve", help="put minigrad's real backward back for exercise N (or 'all')")
    solve.add_argument("dir")
    solve.add_argument("number", nargs="+", help=f"exercise numbers, 1 to {len(EXERCISES)}, or 'all'")
    return parser


def hint_text(n: int) -> str:
    """Exercise n's formula, and where PyTorch writes the same gradient."""
    from minigrad.exercises.workspace import WorkspaceError

    if not 1 <= n <= len(EXERCISES):
        raise WorkspaceError(f"hint: there is no exercise {n} (they are numbered 1 to {len(EXERCISES)})")
    e = EXERCISES[n - 1]
    return "\n".join([f"Exercise {n}: {e.op} backward", f"forward:  {e.forward}", "",
                      *textwrap.wrap(f"hint: {e.hint}", 100), "", *textwrap.wrap(f"PyTorch: {e.pytorch}", 100)])


def _numbers(words: list[str]) -> list[int]:
    if words == ["all"]:
        return list(range(1, len(EXERCISES) + 1))
    try:
        return [int(w) for w in words]
    except ValueError:
        raise SystemExit(f"solve: exercise numbers must be integers from 1 to {len(EXERCISES)} or 'all', got {words}")


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
            print(hint_text(args.number))
            return 0
        ops = workspace.restore(Path(args.dir), _numbers(args.number))
        print(f"Restored minigrad's backward of: {', '.join(ops)}")
        return 0
    except workspace.WorkspaceError as err:
        print(err, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
