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
import re
import tempfile
import zipfile
from typing import Any

import numpy as np

from minigrad.tensor import Tensor

SEP = "/"  # between the keys of nested dicts in an array's entry name
TREE_KEY = "__tree__"
MAX_DEPTH = 200  # levels of nesting load accepts (save writes what a checkpoint needs: a handful)
MAX_NAME_BYTES = 60_000  # a zip entry's name holds at most 65,535 bytes, ".npy" included
MAX_INFLATION = 1100  # deflate expands a byte to at most ~1032: a larger claimed size is a lie


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
            _check_key(key, path)
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


def _check_key(key: str | int, path: str) -> None:
    """A key that the .npz entry names can carry back: no NUL (zip cuts names there), valid UTF-8, not too long."""
    text = str(key)
    where = path or "the root"
    if "\0" in text:
        raise ValueError(f"minigrad.save: the key {key!r} at {where} holds a NUL character, which a .npz entry "
                         "name cannot keep; rename it")
    try:
        size = len(text.encode("utf-8")) + len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"minigrad.save: the key {key!r} at {where} is not valid Unicode text (a lone "
                         "surrogate); rename it") from None
    if size > MAX_NAME_BYTES:
        raise ValueError(f"minigrad.save: the key {text[:40]!r}... at {where} makes an entry name of {size} bytes, "
                         f"more than a .npz entry can hold ({MAX_NAME_BYTES}); shorten it")


def _decode(node: Any, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:
    """The tree back from its JSON skeleton; anything not of save's making is a ValueError."""
    if depth > MAX_DEPTH:
        raise ValueError(f"the tree is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, list):
        return [_decode(v, arrays, depth + 1) for v in node]
    if isinstance(node, dict):
        if len(node) != 1:
            raise ValueError(f"a node with keys {sorted(node)[:5]} is not one of save's")
        (kind, value), = node.items()
        if kind == "__array__":
            if not isinstance(value, str) or value not in arrays:
                raise ValueError(f"the tree names an array {value!r} that the file does not hold")
            return arrays[value]
        if kind == "__tuple__" and isinstance(value, list):
            return tuple(_decode(v, arrays, depth + 1) for v in value)
        if kind == "__dict__" and isinstance(value, list) and all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], str | int) for p in value):
            return {key: _decode(v, arrays, depth + 1) for key, v in value}
        raise ValueError(f"a {kind!r} node is not one of save's")
    if node is None or isinstance(node, bool | int | float | str):
        return node
    raise ValueError(f"a {type(node).__name__} in the tree is not one of save's")


# -- save / load ------------------------------------------------------------------------------------


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` (a tree of dicts/lists of arrays and plain values) to `path` as .npz, atomically.

    The data goes to a temporary file in the same directory, is fsync'ed, then renamed over
    `path` (os.replace): a crash leaves the old checkpoint or the new one, never half of one, and
    the temporary file of a save that was killed is removed by the next save or load of `path`.
    A full disk, a missing directory or a denied permission is one OSError naming the path.
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, "", arrays)
    arrays[TREE_KEY] = np.array(json.dumps(tree))  # a 0-d unicode array, no pickle
    directory = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=_temporary_prefix(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _discard(tmp)
        raise OSError(err.errno, f"minigrad.save: could not write {path!r}: {err.strerror or err} "
                                 "(a file already there is unchanged)") from None
    except BaseException:
        _discard(tmp)
        raise


def _temporary_prefix(path: str) -> str:
    """.NAME.PID. : whose save a temporary file belongs to, so that a later one can tell it was killed."""
    return f".{os.path.basename(path)}.{os.getpid()}."


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove the temporary files that saves of `path` by processes no longer running left behind."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape(f".{os.path.basename(path)}.") + r"(\d+)\.\w+\.tmp$")
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = pattern.match(name)
        if match and not _process_alive(int(match.group(1))):
            _discard(os.path.join(directory, name))
            removed.append(name)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # ours: perhaps another thread's save in progress
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _discard(tmp: str | None) -> None:
    if tmp is not None:
        try:
            os.remove(tmp)
        except OSError:
            pass


def _write_npz(f: Any, arrays: dict[str, np.ndarray]) -> None:
    """What np.savez does, with pickle forbidden: one .npy file per array inside a zip."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, arr, allow_pickle=False)


def load(path: str | os.PathLike) -> Any:
    """Read a checkpoint written by `save` (or a plain np.savez file, as a flat dict of arrays).

    The file is untrusted: anything that is not such a file (damaged, foreign or hostile) is one
    ValueError naming the file and what is wrong, and every array's declared size is checked
    against the bytes the file holds before anything is allocated."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"minigrad.load: no checkpoint file at {path!r}")
    remove_stale_temporaries(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise ValueError(f"minigrad.load: {path!r} is not a .npz checkpoint (a zip of .npy arrays): "
                         f"{_reason(err)}") from None
    with archive:
        arrays = {}
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"minigrad.load: {path!r} holds {info.filename!r}, which is not a .npy array: "
                                 "not a .npz checkpoint")
            arrays[info.filename[:-4]] = _read_entry(archive, info, path)
    if TREE_KEY not in arrays:
        return arrays
    try:
        tree = arrays.pop(TREE_KEY)
        if tree.dtype.kind != "U" or tree.ndim != 0:
            raise ValueError(f"it is a {tree.dtype} array of shape {tree.shape}, not a JSON string")
        return _decode(json.loads(tree.item()), arrays)
    except RecursionError:
        reason = "it is nested too deeply"
    except (ValueError, TypeError) as err:
        reason = _reason(err)
    raise ValueError(f"minigrad.load: the {TREE_KEY!r} entry of {path!r} is malformed ({reason})")


def _reason(err: BaseException) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> np.ndarray:
    """One .npy entry, its header checked (no pickle, a size the entry really holds) before reading the data."""
    name = info.filename[:-4]
    where = f"entry {name!r} of {path!r}"
    try:
        with archive.open(info) as f:
            shape, fortran, dtype = _read_header(f, where)
            count = 1
            for n in shape:
                count *= n
            nbytes = count * dtype.itemsize
            held = info.file_size - f.tell()
            if info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_INFLATION * info.compress_size + 4096:
                raise ValueError(f"minigrad.load: {where} claims to inflate {info.compress_size:,} bytes to "
                                 f"{info.file_size:,}, more than compression can: the file is damaged or hostile")
            if nbytes != held:
                raise ValueError(f"minigrad.load: {where} declares a {dtype} array of shape {shape} ({nbytes:,} bytes) "
                                 f"but holds {held:,} bytes: the file is damaged")
            data = bytearray(f.read(nbytes))  # writable: a loaded array can be trained on
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as err:
        raise ValueError(f"minigrad.load: {where} cannot be read: {_reason(err)}") from None
    if len(data) != nbytes:
        raise ValueError(f"minigrad.load: {where} ends early: the file is damaged")
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")


def _read_header(f: Any, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        major, minor = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(
            (major, minor))
        if read is None:
            raise ValueError(f".npy format version {major}.{minor} is not supported")
        shape, fortran, dtype = read(f)
    except Exception as err:  # the header is untrusted text: tokenize, syntax and type errors alike
        raise ValueError(f"minigrad.load: {where} has a malformed .npy header ({_reason(err)})") from None
    if dtype.hasobject:
        raise ValueError(f"minigrad.load: refusing {where}: it is an object array, which only pickle can read, "
                         "and unpickling can run arbitrary code")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(f"minigrad.load: {where} declares an impossible shape {shape}")
    return tuple(shape), bool(fortran), dtype
