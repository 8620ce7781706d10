"""Make a learner's workspace: minigrad copied with every op's backward replaced by a raise.

The replacement is done on the source text, located with `ast`: only the lines of each
`backward` body change (its signature and docstring stay), and each op's class docstring, which
may state the gradient, becomes the forward alone; the rest of every file, comments included,
reads exactly as in minigrad. `restore` puts a real backward back (`solve`), keeping the learner's.
"""
from __future__ import annotations

import ast
import functools
import io
import shutil
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

import minigrad
from minigrad.exercises import render
from minigrad.exercises.catalog import EXERCISES, NUMBER, exercise_test_file, find_functions, unlisted_functions


class WorkspaceError(Exception):
    """A workspace cannot be made or changed; the message says why and what to do."""


def source_package() -> Path:
    """The minigrad package these tools belong to: its ops hold the solutions."""
    return Path(minigrad.__file__).resolve().parent


def _backward_spans(source: str) -> dict[str, tuple[int, int, str]]:
    """class name -> (first, last) 0-based line range of its backward's body after any docstring, indent."""
    lines = source.splitlines(keepends=True)
    spans = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "backward":
                first = _header_end(lines, item.lineno - 1) + 1
                if ast.get_docstring(item) is not None:
                    first = item.body[0].end_lineno  # keep the docstring
                spans[node.name] = (first, item.end_lineno - 1, " " * item.body[0].col_offset)
    return spans


def _docstring_spans(source: str) -> dict[str, tuple[int, int, str]]:
    """class name -> (first, last) 0-based line range of its docstring, indent; classes without one are left out."""
    spans = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and ast.get_docstring(node) is not None:
            doc = node.body[0]
            spans[node.name] = (doc.lineno - 1, doc.end_lineno - 1, " " * doc.col_offset)
    return spans


def _header_end(lines: list[str], def_line: int) -> int:
    """The 0-based line holding the ':' that ends the `def ...(...) -> ...:` starting at def_line."""
    depth = 0
    tokens = tokenize.generate_tokens(io.StringIO("".join(lines[def_line:])).readline)
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.OP and tok.string == ":" and depth == 0:
            return def_line + tok.start[0] - 1
    raise ValueError(f"exercises: no end of the def header at line {def_line + 1}")


def exercise_body(op: str, indent: str) -> list[str]:
    """The lines that replace op's backward body: the task (what to derive, from what) as a comment,
    then the raise. The formula itself is one step further: `python -m minigrad.exercises hint N`."""
    n = NUMBER[op]
    task = f"Exercise {n}: {EXERCISES[n - 1].task} (Stuck? python -m minigrad.exercises hint {n})"
    hint = textwrap.wrap(task, width=max(40, 100 - len(indent) - 2))
    raise_line = f'raise NotImplementedError("Exercise {n}: {op} backward — see EXERCISES.md")'
    return [f"{indent}# {line}\n" for line in hint] + [f"{indent}{raise_line}\n"]


def forward_docstring(op: str, indent: str) -> list[str]:
    """The class docstring of a stubbed op: what forward computes (the catalog's), not its gradient."""
    text = EXERCISES[NUMBER[op] - 1].forward
    if len(indent) + len(text) + 6 <= 120:
        return [f'{indent}"""{text}"""\n']
    lines = textwrap.wrap(text, width=100 - len(indent), break_on_hyphens=False)
    return [f'{indent}"""{lines[0]}\n'] + [f"{indent}{line}\n" for line in lines[1:]] + [f'{indent}"""\n']


def replace_docstrings(source: str, docstrings: dict[str, list[str] | None]) -> str:
    """source with the class docstring of each class in `docstrings` replaced (None: forward_docstring)."""
    lines = source.splitlines(keepends=True)
    spans = _docstring_spans(source)
    for op, (first, last, indent) in sorted(((op, spans[op]) for op in docstrings if op in spans),
                                            key=lambda s: -s[1][0]):
        lines[first:last + 1] = docstrings[op] if docstrings[op] is not None else forward_docstring(op, indent)
    return "".join(lines)


def replace_bodies(source: str, bodies: dict[str, list[str] | None], where: str) -> str:
    """source with the backward body of each class in `bodies` replaced (None: the exercise stub)."""
    lines = source.splitlines(keepends=True)
    spans = _backward_spans(source)
    for op in bodies:
        if op not in spans:
            raise WorkspaceError(f"exercises: {where} has no class {op} with a backward method")
    for op, (first, last, indent) in sorted(((op, spans[op]) for op in bodies), key=lambda s: -s[1][0]):
        new = bodies[op] if bodies[op] is not None else exercise_body(op, indent)
        lines[first:last + 1] = new
    return "".join(lines)


def real_body(op: str) -> list[str]:
    """The lines of op's real backward body in the installed minigrad."""
    source = _reference_source(op)
    first, last, _ = _backward_spans(source)[op]
    return source.splitlines(keepends=True)[first:last + 1]


def real_docstring(op: str) -> list[str] | None:
    """The lines of op's class docstring in the installed minigrad (None if it has none)."""
    source = _reference_source(op)
    span = _docstring_spans(source).get(op)
    return None if span is None else source.splitlines(keepends=True)[span[0]:span[1] + 1]


def _reference_source(op: str) -> str:
    return (source_package().parent / _reference_files()[op]).read_text()


@functools.cache
def _reference_files() -> dict[str, Path]:
    return find_functions(source_package())


def _ops_by_file(package: Path) -> dict[Path, list[str]]:
    missing = unlisted_functions(package)
    if missing:
        raise WorkspaceError("exercises: these ops have no exercise; add them to minigrad/exercises/catalog.py "
                             f"(and cases.py): {', '.join(missing)}")
    found = find_functions(package)
    gone = [e.op for e in EXERCISES if e.op not in found]
    if gone:
        raise WorkspaceError(f"exercises: the catalog lists ops that minigrad no longer defines: {', '.join(gone)}")
    by_file: dict[Path, list[str]] = {}
    for op, rel in found.items():
        by_file.setdefault(rel, []).append(op)
    return by_file


def new_workspace(dest: Path, shown_as: str | None = None) -> None:
    """Copy minigrad's reference path into dest/minigrad with every backward stubbed (no kernels: what
    the learner writes is what runs), plus tests and EXERCISES.md."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise WorkspaceError(f"new: {dest} already exists and is not an empty folder; nothing was written. "
                             "Choose a new folder (or delete this one yourself).")
    package = source_package()
    by_file = _ops_by_file(package)
    shutil.copytree(package, dest / "minigrad", ignore=_ignore_tools_and_kernels(package))
    for rel, ops in by_file.items():
        path = dest / rel
        stubbed = replace_bodies(path.read_text(), dict.fromkeys(ops), str(rel))
        path.write_text(replace_docstrings(stubbed, dict.fromkeys(ops)))
    render.write_workspace_files(dest, shown_as or str(dest), package, find_functions(package))


def _ignore_tools_and_kernels(package: Path):
    def ignore(directory: str, names: list[str]) -> list[str]:
        skipped = [n for n in names if n == "__pycache__" or n.endswith(".pyc")]
        if Path(directory).resolve() == package:
            # The exercise tools (they know the solutions) and the kernels (they would run instead of
            # the learner's backward) stay out; render writes a small stand-in for each.
            skipped += [n for n in names if n in ("exercises", "kernels")]
        return skipped
    return ignore


def check_is_workspace(dest: Path) -> None:
    if not (dest / "pytest.ini").is_file() or not (dest / "minigrad").is_dir() or not (dest / "tests").is_dir():
        raise WorkspaceError(f"{dest} is not an exercises workspace (no pytest.ini, minigrad/ and tests/ in it); "
                             "make one with: python -m minigrad.exercises new DIR")


@dataclass(frozen=True)
class Restored:
    number: int
    op: str
    kept: Path | None  # where the learner's backward went, relative to the workspace (None: nothing of theirs)


def restore(dest: Path, numbers: list[int]) -> list[Restored]:
    """Put minigrad's real backward (and class docstring) back for the given exercises. A backward the
    learner wrote is first copied to dest/attempts/, never lost."""
    dest = Path(dest)
    check_is_workspace(dest)
    found = _reference_files()
    for n in numbers:
        if not 1 <= n <= len(EXERCISES):
            raise WorkspaceError(f"solve: there is no exercise {n} (they are numbered 1 to {len(EXERCISES)})")
    restored = []
    for n in numbers:
        op = EXERCISES[n - 1].op
        path = dest / found[op]
        try:
            source = path.read_text()
            kept = _keep_learners_backward(dest, n, source, found[op])
            source = replace_bodies(source, {op: real_body(op)}, str(found[op]))
        except SyntaxError as err:
            raise WorkspaceError(f"solve: cannot read {path} (line {err.lineno}: {err.msg}); fix it first") from None
        docstring = real_docstring(op)
        if docstring is not None:
            source = replace_docstrings(source, {op: docstring})
        path.write_text(source)
        restored.append(Restored(n, op, kept))
    return restored


def _keep_learners_backward(dest: Path, n: int, source: str, rel: Path) -> Path | None:
    """Copy the learner's backward of exercise n to attempts/ (a new file each time), unless it is still the
    stub or already minigrad's; returns the copy's path relative to dest."""
    op = EXERCISES[n - 1].op
    first, last, indent = _backward_spans(source)[op]
    lines = source.splitlines(keepends=True)
    body = lines[first:last + 1]
    if [line.strip() for line in body] in ([line.strip() for line in exercise_body(op, indent)],
                                           [line.strip() for line in real_body(op)]):
        return None
    method = next(item for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ClassDef) and node.name == op
                  for item in node.body if isinstance(item, ast.FunctionDef) and item.name == "backward")
    start = min([method.lineno] + [d.lineno for d in method.decorator_list]) - 1
    name = exercise_test_file(n).removeprefix("test_").removesuffix(".py")  # exercise_04_mul
    attempts = dest / "attempts"
    attempts.mkdir(exist_ok=True)
    kept, count = attempts / f"{name}.py", 1
    while kept.exists():
        count += 1
        kept = attempts / f"{name}_{count}.py"
    header = (f"# Your backward of {op} (exercise {n}), from {rel.as_posix()}, class {op}, as it was when\n"
              "# `python -m minigrad.exercises solve` put minigrad's own back. To try yours again, paste it\n"
              "# over that one.\n")
    kept.write_text(header + textwrap.dedent("".join(lines[start:last + 1])))
    return kept.relative_to(dest)
