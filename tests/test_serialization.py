"""minigrad.save / minigrad.load: nested round trips, atomic writes, and files that must be refused."""
import os

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim, serialization
from minigrad.random import get_rng_state


def assert_same_tree(got, expected, where="checkpoint"):
    """Same nesting, same types, same keys in the same order, arrays equal with the same dtype."""
    assert type(got) is type(expected), f"{where}: {type(got).__name__}, expected {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(got) == list(expected), f"{where}: keys {list(got)}, expected {list(expected)}"
        for k in expected:
            assert_same_tree(got[k], expected[k], f"{where}[{k!r}]")
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected), f"{where}: length {len(got)}, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same_tree(g, e, f"{where}[{i}]")
    elif isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype and np.array_equal(got, expected), f"{where}: arrays differ"
    else:
        assert got == expected, f"{where}: {got!r}, expected {expected!r}"


def training_checkpoint() -> dict:
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    model(mg.randn(2, 3)).sum().backward()
    opt.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "rng": get_rng_state(),
            "misc": {"best": 0.25, "done": False, "note": None, "shape": (2, 3), "names": ["a", "b"]}}


def test_nested_round_trip(tmp_path):
    ckpt = training_checkpoint()
    mg.save(ckpt, tmp_path / "ckpt.npz")
    assert_same_tree(mg.load(tmp_path / "ckpt.npz"), ckpt)


def test_entries_are_named_by_path_and_need_no_pickle(tmp_path):
    mg.save(training_checkpoint(), tmp_path / "ckpt.npz")
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as npz:
        assert "model/0.weight" in npz.files and "optimizer/state/0/exp_avg" in npz.files
        assert all(npz[name].dtype != object for name in npz.files)  # reading any entry needs no pickle


def test_model_state_round_trip_gives_identical_outputs(tmp_path):
    model, other = nn.Linear(3, 2), nn.Linear(3, 2)
    mg.save(model.state_dict(), tmp_path / "model.npz")
    other.load_state_dict(mg.load(tmp_path / "model.npz"))
    x = mg.randn(4, 3)
    np.testing.assert_array_equal(other(x).numpy(), model(x).numpy())


def test_plain_npz_loads_as_flat_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.arange(3.0), b=np.ones(2, np.float32))
    assert_same_tree(mg.load(tmp_path / "plain.npz"), {"w": np.arange(3.0), "b": np.ones(2, np.float32)})


def test_save_replaces_whole_file_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "ckpt.npz"
    mg.save({"a": np.zeros(1000), "b": np.ones(3)}, path)
    mg.save({"c": np.arange(2)}, path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert_same_tree(mg.load(path), {"c": np.arange(2)})


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    mg.save({"epoch": 1}, path)

    def crash_half_way(f, arrays):
        f.write(b"PK half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write_npz", crash_half_way)
    with pytest.raises(OSError, match="disk full"):
        mg.save({"epoch": 2}, path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert mg.load(path) == {"epoch": 1}


def test_object_array_is_refused_on_load(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.ones(2), payload=np.array([{"code": "anything"}], dtype=object))
    with pytest.raises(ValueError, match="object array") as info:
        mg.load(path)
    assert str(path) in str(info.value) and "payload" in str(info.value)


@pytest.mark.parametrize("value", [np.array([{"a": 1}], dtype=object), {1.5: np.ones(1)}, {"f": print}])
def test_unsupported_values_are_refused_on_save(tmp_path, value):
    with pytest.raises(TypeError, match="minigrad.save"):
        mg.save({"x": value}, tmp_path / "ckpt.npz")
    assert os.listdir(tmp_path) == []


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        mg.load(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04 truncated zip"])
def test_corrupt_file_is_named(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.npz"):
        mg.load(path)


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / "cut.npz"
    mg.save(training_checkpoint(), path)
    path.write_bytes(path.read_bytes()[:-200])  # a copy cut short
    with pytest.raises(ValueError, match="cut.npz"):
        mg.load(path)
