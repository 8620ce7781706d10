"""save/load: checkpoints as .npz files that can never run code when loaded.

A checkpoint is a tree: dicts (str or int keys), lists and tuples, with NumPy arrays and plain
Python values (int, float, bool, str, None) at the leaves, e.g.
    {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "rng": "..."}
Each array is stored as its own .npz entry named by its path, "model/encoder.blocks.0.mlp.dense_1.weight"
or "optimizer/state/3/exp_avg"; the tree's shape and its small Python values are stored as one
JSON string (a NumPy unicode array) under "__tree__". Loading uses allow_pickle=False, so a file
holding an object array (which would need pickle, and could run code) is refused.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from minigrad.tensor import Tensor

SEP = "/"  # between the keys of nested dicts in an array's entry name
TREE_KEY = "__tree__"


# -- tree <-> (JSON skeleton, flat arrays) -------------------------------------------------------


def _encode(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """The JSON skeleton of `obj`; its arrays are moved into `arrays` under their paths."""
    if isinstance(obj, Tensor):
        obj = obj._data
    if isinstance(obj, np.ndarray | np.generic):
        arr = np.asarray(obj)
        if arr.dtype.hasobject:
            raise TypeError(f"minigrad.save: {path or 'the root'} is an object array, which needs pickle; "
                            "store numbers or strings (a str array has dtype <U...)")
        if path in arrays or path == TREE_KEY:
            raise ValueError(f"minigrad.save: two entries would both be stored as {path!r}; rename a key")
        arrays[path] = arr
        return {"__array__": path}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise TypeError(f"minigrad.save: dict keys must be str or int, got {key!r} at {path or 'the root'}")
            items.append([key, _encode(value, f"{path}{SEP}{key}" if path else str(key), arrays)])
        return {"__dict__": items}  # a list of pairs keeps int keys int (JSON objects would not)
    if isinstance(obj, list | tuple):
        encoded = [_encode(v, f"{path}{SEP}{i}" if path else str(i), arrays) for i, v in enumerate(obj)]
        return encoded if isinstance(obj, list) else {"__tuple__": encoded}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(
        f"minigrad.save: cannot store {type(obj).__name__} at {path or 'the root'}; use arrays, "
        "numbers, strings, None, and dicts/lists/tuples of them"
    )


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if isinstance(node, dict):
        (kind, value), = node.items()
        if kind == "__array__":
            return arrays[value]
        if kind == "__tuple__":
            return tuple(_decode(v, arrays) for v in value)
        return {key: _decode(v, arrays) for key, v in value}  # "__dict__"
    return node


# -- save / load ------------------------------------------------------------------------------------


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` (a tree of dicts/lists of arrays and plain values) to `path` as .npz, atomically.

    The data goes to a temporary file in the same directory, is fsync'ed, then renamed over
    `path` (os.replace): a crash leaves the old checkpoint or the new one, never half of one.
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, "", arrays)
    arrays[TREE_KEY] = np.array(json.dumps(tree))  # a 0-d unicode array, no pickle
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _write_npz(f: Any, arrays: dict[str, np.ndarray]) -> None:
    """What np.savez does, with pickle forbidden: one .npy file per array inside a zip."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, arr, allow_pickle=False)


def load(path: str | os.PathLike) -> Any:
    """Read a checkpoint written by `save` (or a plain np.savez file, as a flat dict of arrays)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"minigrad.load: no checkpoint file at {path!r}")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:  # ValueError: "needs pickle"
        raise ValueError(f"minigrad.load: {path!r} is not a readable .npz checkpoint ({err})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"minigrad.load: {path!r} holds a single .npy array, not a .npz checkpoint")
    with npz:
        arrays = {name: _read_entry(npz, name, path) for name in npz.files}
    if TREE_KEY not in arrays:
        return arrays
    try:
        return _decode(json.loads(arrays.pop(TREE_KEY).item()), arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"minigrad.load: the {TREE_KEY!r} entry of {path!r} is malformed ({err!r})") from None


def _read_entry(npz: np.lib.npyio.NpzFile, name: str, path: str) -> np.ndarray:
    try:
        return npz[name]
    except ValueError as err:
        if "pickle" in str(err):
            raise ValueError(
                f"minigrad.load: refusing {path!r}: entry {name!r} is an object array, which only "
                "pickle can read, and unpickling can run arbitrary code"
            ) from None
        raise ValueError(f"minigrad.load: entry {name!r} of {path!r} is corrupt ({err})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"minigrad.load: entry {name!r} of {path!r} is corrupt ({err})") from None
