"""Damaged, foreign and hostile files, and failing disks: one clear error naming the file, nothing lost.

minigrad.load treats every file as untrusted: each case here is a file a user could be handed (a
truncated download, a text file named .npz, an .npy header that does not parse, a header declaring
3.6 TiB in 300 bytes, a tree nested 100,000 deep) and must end in one ValueError that names the file
and what is wrong, never a traceback from inside NumPy or Python, and never a large allocation.
Module and Optimizer.load_state_dict check a whole dict before changing anything. Saves that fail
(a full disk, a read-only or vanished directory) name the path and leave the previous file intact;
a save killed midway leaves a temporary file that the next save or load removes.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim, serialization


def npy_bytes(header: str, data: bytes = b"", magic: bytes = b"\x93NUMPY\x01\x00") -> bytes:
    """An .npy entry with this header text (padded as NumPy pads it) and these data bytes."""
    head = header.encode("latin1")
    pad = (64 - (len(magic) + 2 + len(head) + 1) % 64) % 64
    head = head + b" " * pad + b"\n"
    return magic + len(head).to_bytes(2, "little") + head + data


def write_zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def good_checkpoint(path: Path) -> Path:
    mg.save({"model": {"w": np.arange(6.0).reshape(2, 3)}, "epoch": 3}, path)
    return path


def refused(path: Path, pattern: str) -> ValueError:
    with pytest.raises(ValueError, match=pattern) as info:
        mg.load(path)
    assert str(path) in str(info.value), "the message names the file"
    return info.value


# -- damaged and foreign files ----------------------------------------------------------------------


def test_a_text_file_named_npz_is_not_a_checkpoint_and_no_pickle_is_suggested(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("epoch,loss\n1,2.3\n")
    err = refused(path, r"is not a \.npz checkpoint \(a zip of \.npy arrays\)")
    assert "allow_pickle" not in str(err)


@pytest.mark.parametrize("cut", [0, 10, 100, -200, -30, -1])
def test_a_truncated_checkpoint(tmp_path, cut):
    data = good_checkpoint(tmp_path / "good.npz").read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:cut])
    refused(path, r"minigrad\.load: .*(not a \.npz checkpoint|cannot be read|damaged|malformed|ends early)")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    refused(path, "is not a .npz checkpoint")


@pytest.mark.parametrize("header", [
    "{'descr': '<f8', 'fortran_order': False, 'shape': (10, ",  # tokenize.TokenError inside NumPy
    "{'descr': '<f8', 'fortran_order': False}",  # no shape
    "{'descr': 'not a dtype', 'fortran_order': False, 'shape': (2,), }",
    "[1, 2, 3]",
    "__import__('os').system('echo hacked')",  # never evaluated: NumPy's header parser is literal-only
], ids=["unterminated", "no_shape", "bad_dtype", "a_list", "code"])
def test_a_malformed_npy_header(tmp_path, header):
    path = write_zip(tmp_path / "bad.npz", {"w.npy": npy_bytes(header, b"\0" * 16)})
    refused(path, r"entry 'w' of .* has a malformed \.npy header")


def test_a_header_that_declares_more_than_the_file_holds_allocates_nothing(tmp_path):
    """A 300-byte file that declares a (10^12,) float32 array (3.6 TiB): refused before any allocation."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"
    path = write_zip(tmp_path / "huge.npz", {"w.npy": npy_bytes(header, b"\0" * 64)})
    assert path.stat().st_size < 400
    refused(path, r"declares a float32 array of shape \(1000000000000,\) \(4,000,000,000,000 bytes\) but holds 64 "
                  r"bytes")


def test_a_zip_entry_that_claims_an_impossible_inflation(tmp_path):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }"
    path = write_zip(tmp_path / "z.npz", {"w.npy": npy_bytes(header, b"\0" * 32)}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")  # the central directory's record of the entry: its uncompressed size
    data[central + 24:central + 28] = (2**31).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    refused(path, r"(claims to inflate|cannot be read|damaged)")


def test_an_object_array_is_refused_as_it_would_need_pickle(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, w=np.array([{"a": 1}], dtype=object))
    refused(path, r"object array, which only pickle can read")


def test_a_zip_holding_something_else(tmp_path):
    path = write_zip(tmp_path / "other.npz", {"readme.txt": b"hello"})
    refused(path, r"holds 'readme\.txt', which is not a \.npy array")


@pytest.mark.parametrize("tree", [
    "[" * 100_000 + "]" * 100_000,  # RecursionError inside json
    json.dumps(json.loads("[" * 150 + "]" * 150) if False else {"__dict__": [["a", {"__array__": "missing"}]]}),
    json.dumps({"__dict__": [["a", 1]], "extra": 2}),
    json.dumps({"__weird__": 1}),
    json.dumps({"__dict__": [[1.5, 2]]}),
    "not json",
], ids=["deep", "missing_array", "two_keys", "unknown_node", "float_key", "not_json"])
def test_a_malformed_tree(tmp_path, tree):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(tree), allow_pickle=False)
    path = write_zip(tmp_path / "tree.npz", {"__tree__.npy": buf.getvalue()})
    refused(path, r"the '__tree__' entry of .* is malformed")


def test_a_tree_nested_within_the_limit_round_trips(tmp_path):
    obj = {"x": np.ones(2)}
    for _ in range(50):
        obj = [obj]
    mg.save(obj, tmp_path / "nested.npz")
    back = mg.load(tmp_path / "nested.npz")
    for _ in range(50):
        back = back[0]
    np.testing.assert_array_equal(back["x"], np.ones(2))


def test_a_plain_np_savez_file_loads_as_a_flat_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.arange(3.0), b=np.ones(2, np.float32))
    back = mg.load(tmp_path / "plain.npz")
    assert set(back) == {"w", "b"} and back["b"].dtype == np.float32
    back["w"] += 1  # writable, as any loaded array


# -- what save writes, load reads ----------------------------------------------------------------


@pytest.mark.parametrize("key, pattern", [
    ("a\0b", "NUL character"), ("\udc80", "not valid Unicode"), ("k" * 70_000, "shorten it"),
], ids=["nul", "surrogate", "too_long"])
def test_save_refuses_a_key_load_could_not_read_back(tmp_path, key, pattern):
    with pytest.raises(ValueError, match=pattern):
        mg.save({key: np.ones(2)}, tmp_path / "k.npz")
    assert not list(tmp_path.iterdir()), "a refused save leaves nothing behind"


@pytest.mark.parametrize("obj", [
    {"": np.ones(2)}, {"a/b": np.ones(2)}, {"x.npy": np.ones(1)}, {"é": np.ones(1)}, {"..": np.ones(1)},
    {"c": np.ones(2, complex)}, {"s": np.array(["a", "bc"])}, {"d": np.array(["2020-01-01"], "datetime64[D]")},
    {"r": np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])}, {"e": np.zeros((0, 3))}, {"f": np.asfortranarray(np.ones((2, 3)))},
    {"n": float("nan"), "i": 2**80, "t": (1, [2, {"y": np.ones(1)}]), 3: None},
], ids=lambda o: repr(o)[:20])
def test_what_save_accepts_load_reads_back(tmp_path, obj):
    mg.save(obj, tmp_path / "x.npz")
    back = mg.load(tmp_path / "x.npz")
    assert repr(back) == repr(obj)


# -- all-or-nothing loads ------------------------------------------------------------------------


def model_and_optimizer():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    model(mg.randn(5, 3)).sum().backward()
    opt.step()
    return model, opt


@pytest.mark.parametrize("bad", [
    lambda sd: sd.update({"2.bias": np.ones(3)}),
    lambda sd: sd.update({"2.bias": np.array(["a", "b"])}),
    lambda sd: sd.update({"2.bias": {"nested": 1}}),
    lambda sd: sd.update({"2.bias": np.ones(2, complex)}),
], ids=["shape", "strings", "dict", "complex"])
def test_module_load_state_dict_is_all_or_nothing(bad):
    model, _ = model_and_optimizer()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    sd = {k: v + 1 for k, v in before.items()}
    bad(sd)
    with pytest.raises(RuntimeError, match=r"Error\(s\) in loading state_dict for Sequential:\n\t.*2\.bias"):
        model.load_state_dict(sd)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a refused load")


@pytest.mark.parametrize("bad, pattern", [
    (lambda sd: sd["state"][3].update(exp_avg=np.ones(7)), r"state 'exp_avg' of parameter 3 has shape \(7,\)"),
    (lambda sd: sd["state"].update({5: {"step": 1}}), r"the state names parameter 5"),
    (lambda sd: sd["param_groups"][0].update(lr="fast"), r"group 0's 'lr' is 'fast'"),
    (lambda sd: sd["param_groups"][0].update(lr=-1.0), r"group 0: AdamW: lr must be >= 0"),
    (lambda sd: sd["param_groups"][0].update(params=[0, 1, 2]), r"group 0 has 3 parameters in the state dict"),
    (lambda sd: sd["state"][0].update(exp_avg="x"), r"state 'exp_avg' of parameter 0 is a str"),
    (lambda sd: sd.pop("state"), r"expected a dict with 'state' and 'param_groups'"),
    (lambda sd: sd["state"].update({"x": {}}), r"state key 'x' is not a parameter index"),
], ids=["moment_shape", "unknown_index", "lr_type", "lr_negative", "group_size", "moment_type", "no_state",
        "bad_key"])
def test_optimizer_load_state_dict_is_all_or_nothing(bad, pattern):
    _, opt = model_and_optimizer()
    good = opt.state_dict()
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.5
    bad(sd)
    with pytest.raises(ValueError, match=pattern):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == good["param_groups"]
    for k, state in good["state"].items():
        for name, v in state.items():
            np.testing.assert_array_equal(after["state"][k][name], v)


# -- failing disks, killed saves -------------------------------------------------------------------


def test_a_save_into_a_vanished_or_read_only_directory_names_the_path(tmp_path):
    with pytest.raises(OSError, match=r"minigrad\.save: could not write .*gone.*ckpt\.npz"):
        mg.save({"w": np.ones(2)}, tmp_path / "gone" / "ckpt.npz")
    if os.geteuid() == 0:  # root writes anywhere: a read-only mount is the full-disk test's
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    good_checkpoint(ro / "ckpt.npz")
    ro.chmod(0o500)
    try:
        with pytest.raises(OSError, match=r"could not write .*Permission denied"):
            mg.save({"w": np.zeros(2)}, ro / "ckpt.npz")
        assert mg.load(ro / "ckpt.npz")["epoch"] == 3
    finally:
        ro.chmod(0o700)


def _mount_tiny_tmpfs(where: Path) -> bool:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def test_a_full_disk_leaves_the_previous_checkpoint_intact(tmp_path):
    disk = tmp_path / "disk"
    if os.geteuid() != 0 or not _mount_tiny_tmpfs(disk):
        pytest.fail("this test mounts a 64 KiB tmpfs and needs root; run the suite as root (CI does)")
    try:
        mg.save({"w": np.ones(1000)}, disk / "ckpt.npz")  # 8 KB: fits
        with pytest.raises(OSError, match=r"minigrad\.save: could not write .*ckpt\.npz.*No space left on device.*"
                                          r"unchanged"):
            mg.save({"w": np.ones(100_000)}, disk / "ckpt.npz")  # 800 KB: does not
        np.testing.assert_array_equal(mg.load(disk / "ckpt.npz")["w"], np.ones(1000))
        assert [p.name for p in disk.iterdir()] == ["ckpt.npz"], "the partial temporary file was removed"
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_killed_save_leaves_a_temporary_that_the_next_save_or_load_removes(tmp_path):
    path = tmp_path / "ckpt.npz"
    good_checkpoint(path)
    code = ("import numpy as np, os, minigrad as mg, minigrad.serialization as s\n"
            "def die(*a, **k): os._exit(9)\n"  # killed while the data is written, after the file was made
            "s._write_npz = lambda f, arrays: (f.write(b'x' * 100000), f.flush(), die())\n"
            f"mg.save({{'w': np.zeros(10)}}, {str(path)!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    left = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and os.path.getsize(tmp_path / left[0]) == 100000
    assert mg.load(path)["epoch"] == 3  # the old checkpoint is intact ...
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # ... and load removed the leftover
    (tmp_path / left[0]).write_bytes(b"x")  # a leftover again: the next save removes it too
    mg.save({"w": np.ones(2)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]


def test_a_temporary_of_a_live_process_is_left_alone(tmp_path):
    path = tmp_path / "ckpt.npz"
    mine = tmp_path / f".ckpt.npz.{os.getpid()}.abc123.tmp"  # another thread of ours may be writing it
    mine.write_bytes(b"x")
    mg.save({"w": np.ones(2)}, path)
    assert mine.exists()
    assert serialization.remove_stale_temporaries(path) == []


# -- arrays where nn.functional wants tensors -----------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda F, a: F.linear(a, mg.ones(4, 3)), lambda F, a: F.softmax(a, dim=-1), lambda F, a: F.log_softmax(a, -1),
    lambda F, a: F.layer_norm(a, (3,)), lambda F, a: F.cross_entropy(a, mg.tensor([0, 1])), lambda F, a: F.gelu(a),
    lambda F, a: F.scaled_dot_product_attention(a, a, a), lambda F, a: F.dropout(a), lambda F, a: F.mse_loss(a, a),
    lambda F, a: nn.LayerNorm(3)(a), lambda F, a: nn.Linear(3, 4)(a), lambda F, a: F.tanh(a),
    lambda F, a: F.sigmoid(a),
], ids=["linear", "softmax", "log_softmax", "layer_norm", "cross_entropy", "gelu", "attention", "dropout", "mse_loss",
        "LayerNorm", "Linear", "tanh", "sigmoid"])
def test_nn_functional_given_an_array_refuses_it_in_pytorchs_words(call):
    import torch

    with pytest.raises(TypeError, match=r"\(\): argument '(input|query)' \(position 1\) must be Tensor, not "
                                        r"numpy\.ndarray"):
        call(nn.functional, np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"linear\(\): argument 'input' \(position 1\) must be Tensor, not "
                                        r"numpy\.ndarray"):  # PyTorch's words
        torch.nn.functional.linear(np.ones((2, 3)), torch.ones(4, 3))
