"""One declaration per hyperparameter: a dataclass field carries its default, its help text, its
choices and whether a resumed run must keep it; the command line is generated from the fields.

    epochs: int = setting(15, "passes over the training set", resume=MATCH)

`add_flags(parser, TrainConfig)` adds `--epochs` (type, default, help, choices from the field;
`--x/--no-x` for a bool), `from_flags(args, TrainConfig)` builds the config back from the parsed
flags, and `resume_mismatches(saved, current)` names the fields a checkpoint disagrees on.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any, Callable

MATCH = "match"  # a resumed run must have the checkpoint's value (else it would not continue the same run)
FREE = "free"  # may change on resume (e.g. how often to checkpoint)
SCHEDULED = "scheduled"  # must match when the learning rate follows a schedule (its length depends on it)


def setting(default: Any, help: str, resume: str = MATCH, choices: tuple | None = None,
            flag: bool = True, type: Callable[[str], Any] | None = None, metavar: str | None = None) -> Any:
    """A dataclass field with what the command line and --resume need to know about it.

    type: parses the flag's text (default: the type of `default`); metavar: the flag's value in --help."""
    if resume not in (MATCH, FREE, SCHEDULED):
        raise ValueError(f"setting: resume must be MATCH, FREE or SCHEDULED, got {resume!r}")
    return dataclasses.field(default=default, metadata={"help": help, "resume": resume, "choices": choices,
                                                        "flag": flag, "type": type, "metavar": metavar})


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def add_flags(parser: argparse._ActionsContainer, cls: type, defaults: dict[str, Any] | None = None) -> None:
    """One flag per field of the dataclass cls (those with flag=True); `defaults` overrides field defaults."""
    defaults = defaults or {}
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("flag", False):
            continue
        default = defaults.get(f.name, f.default)
        if isinstance(f.default, bool):
            parser.add_argument(flag_name(f.name), action=argparse.BooleanOptionalAction, default=default,
                                help=meta["help"])
        else:
            parser.add_argument(flag_name(f.name), type=meta.get("type") or type(f.default), default=default,
                                help=meta["help"], choices=meta["choices"], metavar=meta.get("metavar"))


def from_flags(args: argparse.Namespace, cls: type) -> Any:
    """The dataclass cls built from the parsed flags (fields without a flag keep their defaults); a ValueError
    of its checks ("TrainConfig: seed must be ...") also names the flag that set the field."""
    flags = [f.name for f in dataclasses.fields(cls) if f.metadata.get("flag", False)]
    try:
        return cls(**{name: getattr(args, name) for name in flags})
    except ValueError as err:
        field = re.match(r"\w+: (\w+)", str(err))
        if field and field.group(1) in flags:
            raise ValueError(f"{err} (flag {flag_name(field.group(1))})") from None
        raise


def resume_mismatches(saved: dict[str, Any], current: Any, scheduled: bool) -> list[tuple[str, Any, Any]]:
    """(field, checkpoint's value, this run's value) for every field a resumed run must keep but does not.

    saved: the checkpoint's fields (a field it lacks, from an older checkpoint, counts as its default).
    scheduled: whether SCHEDULED fields must match (the run follows a learning-rate schedule)."""
    out = []
    for f in dataclasses.fields(current):
        rule = f.metadata.get("resume", MATCH)
        if rule == FREE or (rule == SCHEDULED and not scheduled):
            continue
        theirs, ours = saved.get(f.name, f.default), getattr(current, f.name)
        if theirs != ours:
            out.append((f.name, theirs, ours))
    return out


def field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}
