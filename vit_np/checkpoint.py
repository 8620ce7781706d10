"""Reading checkpoints that come from anywhere: every entry checked before anything is built or changed.

A checkpoint file may be damaged, foreign (a plain numpy.savez, another program's .npz), a best.npz
where a checkpoint.npz belongs, or hostile (a model config that asks for a terabyte). Whatever it
holds, the caller gets one CheckpointError naming the file and the fault, never an error from deep
inside NumPy or Python:

    state = read(path)                                    # a dict, or CheckpointError
    config = model_config(state, path)                    # a ViTConfig within the size bounds
    check_arrays(entry(state, "model", dict, path), model.state_dict(), "model", path)

vit_np.train's Trainer.load_checkpoint and ViTForClassification.from_checkpoint read through here.
"""
from __future__ import annotations

import json
import math
import numbers
import os
from typing import Any

import numpy as np

import minigrad as mg
from vit_np.config import ViTConfig

# What a model config read from a file may ask for unless the caller allows a large model: beyond
# them a few hundred bytes of JSON would make us allocate gigabytes.
MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights; training holds 4x (gradients, AdamW's 2 moments)
MAX_MODULES = 20_000  # each module is a few Python objects: a million 1-wide blocks is gigabytes too
MAX_ACTIVATION_BYTES = 256 * 2**20  # one image through one block (attention maps and the MLP's hidden layer)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; str() is "<path>: <what is wrong>"."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"{self.path}: {problem}")


def read(path: str | os.PathLike) -> dict[str, Any]:
    """minigrad.load(path) as a dict; any failure to read it is a CheckpointError naming the file."""
    try:
        state = mg.load(path)
    except FileNotFoundError:
        raise CheckpointError(path, "no such file") from None
    except Exception as err:  # the file is untrusted: whatever reading it raises is the file's fault
        reason = str(err).replace(f"{os.fspath(path)!r}", "the file") or type(err).__name__
        raise CheckpointError(path, f"not a readable checkpoint ({reason})") from None
    if not isinstance(state, dict):
        raise CheckpointError(path, f"holds a {type(state).__name__}, not a checkpoint's dict of entries")
    return state


def describe(value: Any) -> str:
    """A value's kind for an error message: 'a str', 'a float32 array of shape (3, 4)'."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"a {type(value).__name__}"


def entry(tree: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str | os.PathLike,
          where: str = "") -> Any:
    """tree[key], which must exist and be of `kind` (int and float are numbers; bool is neither)."""
    name = f"{where}/{key}" if where else key
    if key not in tree:
        raise CheckpointError(path, f"has no {name!r} entry{_hint(tree) if not where else ''}")
    value = tree[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        wanted = " or ".join("an integer" if k is int else "a number" if k is numbers.Real else f"a {k.__name__}"
                             for k in kinds)
        raise CheckpointError(path, f"{name!r} is {describe(value)}, where {wanted} belongs")
    if isinstance(value, float) and not math.isfinite(value):
        raise CheckpointError(path, f"{name!r} is {value}, where a finite number belongs")
    return value


def json_entry(tree: dict[str, Any], key: str, kind: type, path: str | os.PathLike) -> Any:
    """tree[key]: a JSON string that decodes to a `kind` (dict or list)."""
    text = entry(tree, key, str, path)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise CheckpointError(path, f"{key!r} is not valid JSON ({type(err).__name__}: {str(err)[:80]})") from None
    if not isinstance(value, kind):
        raise CheckpointError(path, f"{key!r} holds {describe(value)} of JSON, where a {kind.__name__} belongs")
    return value


def _hint(tree: dict[str, Any]) -> str:
    """Why a file may lack an entry: it is a plain numpy.savez, or a best.npz given where a checkpoint belongs."""
    if tree and all(isinstance(v, np.ndarray) for v in tree.values()):
        return " (it holds only loose arrays, as numpy.savez writes: not a checkpoint of vit_np.train)"
    if {"model", "info", "epoch", "accuracy"} <= set(tree) and "optimizer" not in tree:
        return " (it holds weights only, as best.npz does; resuming needs a run's checkpoint.npz)"
    return ""


def check_arrays(saved: Any, expected: dict[str, np.ndarray], where: str, path: str | os.PathLike) -> None:
    """saved: the names of `expected`, each a finite float array of the same shape (as load_state_dict needs)."""
    if not isinstance(saved, dict):
        raise CheckpointError(path, f"{where!r} is {describe(saved)}, where a dict of arrays belongs")
    missing = [k for k in expected if k not in saved]
    unexpected = [k for k in saved if k not in expected]
    if missing or unexpected:
        parts = ([f"lacks {len(missing)} of the model's arrays ({', '.join(map(repr, missing[:3]))}"
                  f"{', ...' if len(missing) > 3 else ''})"] if missing else []) + \
                ([f"has {len(unexpected)} arrays the model does not ({', '.join(map(repr, unexpected[:3]))}"
                  f"{', ...' if len(unexpected) > 3 else ''})"] if unexpected else [])
        raise CheckpointError(path, f"{where!r} " + " and ".join(parts) + ": it was saved from another model")
    for name, ours in expected.items():
        check_array(saved[name], np.shape(ours), f"{where}/{name}", path)


def check_array(value: Any, shape: tuple[int, ...], name: str, path: str | os.PathLike) -> None:
    """A finite floating-point array of this shape."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise CheckpointError(path, f"{name!r} is {describe(value)}, where a float array of shape {shape} belongs")
    if value.shape != tuple(shape):
        raise CheckpointError(path, f"{name!r} has shape {value.shape}, where the model has {tuple(shape)}")
    if not np.isfinite(value).all():
        raise CheckpointError(path, f"{name!r} holds NaN or infinite values")


def same_kind(value: Any, like: Any) -> bool:
    """Whether a value read from a file can stand where `like` stands (an int may stand for a float)."""
    if isinstance(like, bool):
        return isinstance(value, bool)
    if isinstance(like, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(like, float):
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(like, list | tuple):
        return isinstance(value, list | tuple) and len(value) == len(like) and all(map(same_kind, value, like))
    return isinstance(value, type(like))


def check_like(saved: Any, like: dict[str, Any], where: str, path: str | os.PathLike) -> None:
    """saved: a dict with exactly the keys of `like`, each value of the same kind (see same_kind)."""
    if not isinstance(saved, dict):
        raise CheckpointError(path, f"{where!r} is {describe(saved)}, where a dict belongs")
    missing, unexpected = sorted(set(like) - set(saved)), sorted(set(saved) - set(like), key=str)
    if missing or unexpected:
        raise CheckpointError(path, f"{where!r} " + "; ".join(
            ([f"lacks {', '.join(map(repr, missing))}"] if missing else [])
            + ([f"has unknown {', '.join(map(repr, unexpected))}"] if unexpected else [])))
    for key, ours in like.items():
        if not same_kind(saved[key], ours):
            raise CheckpointError(path, f"'{where}/{key}' is {saved[key]!r:.60}, where a value like {ours!r:.60} belongs")


# -- model configs read from a file -------------------------------------------------------------------


def model_size(config: ViTConfig) -> dict[str, int]:
    """What building (and running) a ViT of this config takes, from the config alone: its parameter count
    (exact), an upper bound on its modules, and the bytes one image's activations take in one block."""
    C, I, L, nh = config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.num_attention_heads
    P, T = config.patch_size, config.num_patches + 1
    embeddings = config.num_channels * P * P * C + C + C + T * C  # patch projection, [CLS], positions
    attention = C * 3 * C + 3 * C * config.qkv_bias + C * C + C  # q, k, v and the output projection
    block = 4 * C + attention + C * I + I + I * C + C  # 2 LayerNorms, attention, MLP
    head = 2 * C * config.final_layernorm + C * config.num_classes + config.num_classes
    per_block_modules = 16 + (0 if config.use_faster_attention else 6 * nh)
    return {"parameters": embeddings + L * block + head, "modules": 10 + L * per_block_modules,
            "activation_bytes": 4 * (2 * nh * T * T + T * (4 * C + I))}  # float32 (B=1): scores + probabilities


def check_model_size(config: ViTConfig, source: str, allow_large: bool = False) -> None:
    """ValueError if the config asks for more than the bounds above (unless allow_large)."""
    if allow_large:
        return
    size = model_size(config)
    limits = {"parameters": MAX_PARAMETERS, "modules": MAX_MODULES, "activation_bytes": MAX_ACTIVATION_BYTES}
    over = [f"{size[k]:,} {k.replace('_', ' ')} (the limit is {limit:,})" for k, limit in limits.items()
            if size[k] > limit]
    if over:
        fields = ", ".join(f"{k}={getattr(config, k)}" for k in ("hidden_size", "intermediate_size",
                                                                 "num_hidden_layers", "num_attention_heads",
                                                                 "patch_size", "image_size"))
        raise ValueError(f"{source} asks for a ViT of {' and '.join(over)} ({fields}); a model this large is built "
                         "only on purpose: --allow-large-model (from_checkpoint(..., allow_large=True))")


def model_config(state: dict[str, Any], path: str | os.PathLike, allow_large: bool = False) -> ViTConfig:
    """The ViTConfig stored in a checkpoint's 'info', checked field by field and against the size bounds."""
    info = json_entry(state, "info", dict, path)
    config = entry(info, "model_config", dict, path, where="info")
    try:
        config = ViTConfig.from_dict(config)
        check_model_size(config, "its model config", allow_large)
    except (ValueError, TypeError) as err:
        raise CheckpointError(path, str(err)) from None
    return config


# -- the optimizer, schedule and random state of a run ------------------------------------------------


def optimizer_state(saved: Any, optimizer: Any, state_names: tuple[str, ...], path: str | os.PathLike) -> dict:
    """saved: a state_dict() of `optimizer` for the same parameters (same groups, same hyperparameter kinds,
    each parameter's state named `state_names`, its arrays shaped like the parameter), checked as the optimizer's
    constructor checks its hyperparameters. Returns it with integer parameter indices."""
    ours = optimizer.state_dict()
    if not isinstance(saved, dict):
        raise CheckpointError(path, f"'optimizer' is {describe(saved)}, where a dict belongs")
    groups = entry(saved, "param_groups", (list, tuple), path, where="optimizer")
    entry(saved, "state", dict, path, where="optimizer")
    if len(groups) != len(ours["param_groups"]):
        raise CheckpointError(path, f"'optimizer/param_groups' has {len(groups)} groups, this run's optimizer has "
                                    f"{len(ours['param_groups'])} (another --decay-exclusions?)")
    params = {}
    for i, (group, like) in enumerate(zip(groups, ours["param_groups"])):
        where = f"optimizer/param_groups/{i}"
        check_like(group, {**like, "params": [0] * len(like["params"])}, where, path)
        if list(group["params"]) != like["params"]:
            raise CheckpointError(path, f"'{where}/params' numbers other parameters than this run's optimizer")
        try:
            optimizer._check_hyperparameters({**like, **group})
        except ValueError as err:
            raise CheckpointError(path, f"'{where}': {err}") from None
        params.update(zip(like["params"], (p.shape for p in optimizer.param_groups[i]["params"])))
    state = {}
    for key, value in saved["state"].items():
        index = int(key) if isinstance(key, int) or isinstance(key, str) and key.isdigit() else None
        if index not in params:
            raise CheckpointError(path, f"'optimizer/state' names parameter {key!r}, which this optimizer has not")
        where = f"optimizer/state/{index}"
        if not isinstance(value, dict) or set(value) != set(state_names):
            found = sorted(map(str, value)) if isinstance(value, dict) else describe(value)
            raise CheckpointError(path, f"{where!r} holds {found}, where this optimizer keeps {list(state_names)}")
        for name in state_names:
            if name == "step":
                entry(value, name, int, path, where)
            else:
                check_array(value[name], params[index], f"{where}/{name}", path)
        state[index] = value
    return {"state": state, "param_groups": groups}


def scheduler_state(saved: Any, scheduler: Any, steps: int, path: str | os.PathLike) -> dict:
    """saved: a state_dict() of `scheduler` (the same entries, of the same kinds) that has taken `steps` steps."""
    check_like(saved, scheduler.state_dict(), "scheduler", path)
    if saved["last_epoch"] != steps:
        raise CheckpointError(path, f"'scheduler' has taken {saved['last_epoch']} steps, where the run's position "
                                    f"says {steps}")
    return saved


def rng_state(text: Any, path: str | os.PathLike) -> str:
    """A state of the bit generator behind minigrad's draws (tried on a scratch one: set_rng_state cannot fail)."""
    state = json_entry({"rng": text}, "rng", dict, path)
    scratch = type(mg.random.default_generator().bit_generator)()
    try:
        scratch.state = state
    except Exception as err:  # NumPy's own check of the state: wrong generator, missing or odd fields
        raise CheckpointError(path, f"'rng' is not a state of NumPy's {type(scratch).__name__} ({err})") from None
    return text
