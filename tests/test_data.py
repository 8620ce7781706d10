"""vit_np.data: reading CIFAR-10's python version, finding/extracting/downloading it, and batching.

Every test writes its own tiny CIFAR-10 in the canonical layout (5 train batches of 4 images,
a test batch of 6) and never touches the network: downloads are served from a file:// URL or
a patched urlopen.
"""
import hashlib
import io
import pickle
import sys
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

import cifar_fixture
from cifar_fixture import CLASSES, write_batch, write_pickle
from vit_np import data
from vit_np.data import DatasetError, DataLoader, load_cifar10

PER_BATCH, N_TEST = 4, 6


def make_cifar(root, key=bytes, seed=0):
    """root/cifar-10-batches-py/ with distinct random images -> (train images, train labels, test ...)."""
    return cifar_fixture.make_cifar(root, PER_BATCH, N_TEST, key, seed)


def make_archive(root, tmp_path):
    """cifar-10-python.tar.gz of a fresh tiny CIFAR-10, in root -> (archive path, arrays)."""
    arrays = make_cifar(tmp_path / "src")
    root.mkdir(parents=True, exist_ok=True)
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive, arrays


# ----------------------------------------------------------------------------------------------
# Reading the files
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [bytes, str], ids=["bytes_keys", "str_keys"])
def test_load_reads_both_key_styles(tmp_path, key):
    train_x, train_y, test_x, test_y = make_cifar(tmp_path, key)
    x, y = load_cifar10(tmp_path, train=True)
    assert x.dtype == np.uint8 and x.shape == (20, 3, 32, 32) and y.dtype == np.int64
    np.testing.assert_array_equal(x, train_x)
    np.testing.assert_array_equal(y, train_y)
    x, y = load_cifar10(tmp_path, train=False)
    np.testing.assert_array_equal(x, test_x)
    np.testing.assert_array_equal(y, test_y)
    assert data.load_class_names(tmp_path) == CLASSES


def test_pixel_layout_is_rgb_planes(tmp_path):
    (tmp_path / "d").mkdir()
    flat = np.zeros((1, 3072), dtype=np.uint8)
    flat[0, 1024 + 32 * 5 + 7] = 200  # green plane, row 5, column 7
    write_batch(tmp_path / "d" / "test_batch", flat, [3])
    x, _ = load_cifar10(tmp_path / "d", train=False)
    assert x[0, 1, 5, 7] == 200 and x.sum() == 200


@pytest.mark.parametrize("form", ["parent", "batches_dir"])
def test_root_may_be_parent_or_batches_dir(tmp_path, form):
    train_x, *_ = make_cifar(tmp_path)
    root = tmp_path if form == "parent" else tmp_path / "cifar-10-batches-py"
    np.testing.assert_array_equal(load_cifar10(root)[0], train_x)


@pytest.mark.parametrize("form", ["directory", "archive_path"])
def test_archive_is_extracted_and_used(tmp_path, form):
    archive, (train_x, train_y, *_) = make_archive(tmp_path / "root", tmp_path)
    x, y = load_cifar10(archive if form == "archive_path" else tmp_path / "root")
    np.testing.assert_array_equal(x, train_x)
    np.testing.assert_array_equal(y, train_y)
    assert (tmp_path / "root" / "cifar-10-batches-py" / "data_batch_5").is_file()


def test_class_names_fall_back_without_meta(tmp_path):
    make_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "batches.meta").unlink()
    assert data.load_class_names(tmp_path) == list(data.CIFAR10_CLASSES)


def test_limit_takes_the_first_examples_and_reads_only_what_it_needs(tmp_path):
    train_x, train_y, *_ = make_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"broken")  # never opened
    x, y = load_cifar10(tmp_path, limit=PER_BATCH + 1)
    np.testing.assert_array_equal(x, train_x[:PER_BATCH + 1])
    np.testing.assert_array_equal(y, train_y[:PER_BATCH + 1])
    with pytest.raises(ValueError, match="limit"):
        load_cifar10(tmp_path, limit=0)


# ----------------------------------------------------------------------------------------------
# Missing and damaged data: the message names the file and the fix
# ----------------------------------------------------------------------------------------------


def test_missing_data_says_where_it_looked_and_how_to_fix(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_cifar10(tmp_path / "nowhere")
    message = str(err.value)
    for expected in [str(tmp_path / "nowhere"), "cifar-10-batches-py", "data_batch_1", "test_batch",
                     "cifar-10-python.tar.gz", "--data-dir", "--download", data.CIFAR10_URL]:
        assert expected in message


def test_missing_file_is_named(tmp_path):
    make_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    load_cifar10(tmp_path, train=True)  # the train split is complete
    with pytest.raises(DatasetError, match=r"test_batch not found in .*cifar-10-batches-py.*--download"):
        load_cifar10(tmp_path, train=False)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:1000])


def _garbage(path):
    path.write_bytes(b"this is not a pickle at all")


def _not_a_dict(path):
    write_pickle(path, [1, 2, 3])


def _bad_shape(path):
    write_pickle(path, {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})


def _bad_labels(path):
    write_pickle(path, {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]})


def _text_labels(path):
    write_pickle(path, {b"data": np.zeros((2, 3072), np.uint8), b"labels": ["cat", "dog"]})


@pytest.mark.parametrize("damage", [_truncate, _garbage, _not_a_dict, _bad_shape, _bad_labels, _text_labels])
def test_damaged_file_is_named_with_the_fix(tmp_path, damage):
    make_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    damage(bad)
    with pytest.raises(DatasetError) as err:
        load_cifar10(tmp_path)
    assert str(bad) in str(err.value) and "truncated or corrupt" in str(err.value)
    assert "--download" in str(err.value)


class _RunsCode:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_pickles_that_would_run_code_are_refused(tmp_path):
    (tmp_path / "d").mkdir()
    write_pickle(tmp_path / "d" / "test_batch", {b"data": _RunsCode(), b"labels": []})
    with pytest.raises(DatasetError, match=r"asks to load __builtin__\.eval.*official source"):
        load_cifar10(tmp_path / "d", train=False)


# ----------------------------------------------------------------------------------------------
# Download (never over the network) and safe extraction
# ----------------------------------------------------------------------------------------------


def serve(monkeypatch, archive, md5=None):
    """Point the download at a local file instead of the dataset's home page."""
    monkeypatch.setattr(data, "CIFAR10_URL", archive.as_uri())
    monkeypatch.setattr(data, "CIFAR10_MD5", md5 or hashlib.md5(archive.read_bytes()).hexdigest())


def test_download_fetches_verifies_and_extracts(tmp_path, monkeypatch):
    archive, (train_x, *_) = make_archive(tmp_path / "served", tmp_path)
    serve(monkeypatch, archive)
    x, _ = load_cifar10(tmp_path / "new", download=True)
    np.testing.assert_array_equal(x, train_x)
    assert (tmp_path / "new" / "cifar-10-python.tar.gz").read_bytes() == archive.read_bytes()


def test_download_shows_a_percentage_without_tqdm(tmp_path, monkeypatch, capsys):
    archive, _ = make_archive(tmp_path / "served", tmp_path)
    serve(monkeypatch, archive)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `from tqdm import tqdm` now raises ImportError
    load_cifar10(tmp_path / "new", download=True)
    assert "100%" in capsys.readouterr().err


def test_download_with_wrong_md5_is_refused_and_deleted(tmp_path, monkeypatch):
    archive, _ = make_archive(tmp_path / "served", tmp_path)
    serve(monkeypatch, archive, md5="0" * 32)
    with pytest.raises(DatasetError) as err:
        load_cifar10(tmp_path / "new", download=True)
    assert "0" * 32 in str(err.value) and hashlib.md5(archive.read_bytes()).hexdigest() in str(err.value)
    assert list((tmp_path / "new").iterdir()) == []


def test_offline_download_fails_fast_with_a_fix(tmp_path, monkeypatch):
    calls = []

    def offline(url, timeout=None):
        calls.append(timeout)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError) as err:
        load_cifar10(tmp_path, download=True)
    assert calls and 0 < calls[0] <= 60  # a timeout is always set
    for expected in [data.CIFAR10_URL, "Name or service not known", "--data-dir", str(tmp_path)]:
        assert expected in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_existing_data_is_used_without_downloading(tmp_path, monkeypatch):
    make_cifar(tmp_path)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("tried to download"))
    assert load_cifar10(tmp_path, download=True)[0].shape == (20, 3, 32, 32)


def _member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


MALICIOUS = {
    "dot_dot": lambda tmp: _member("../evil"),
    "nested_dot_dot": lambda tmp: _member("cifar-10-batches-py/../../evil"),
    "absolute": lambda tmp: _member(str(tmp / "evil")),
    "symlink": lambda tmp: _member("cifar-10-batches-py/evil", tarfile.SYMTYPE, "/etc/passwd"),
    "hardlink": lambda tmp: _member("cifar-10-batches-py/evil", tarfile.LNKTYPE, "/etc/passwd"),
    "device": lambda tmp: _member("cifar-10-batches-py/evil", tarfile.CHRTYPE),
}


@pytest.mark.parametrize("kind", MALICIOUS)
def test_extraction_refuses_members_that_escape(tmp_path, kind):
    root = tmp_path / "root"
    root.mkdir()
    member = MALICIOUS[kind](tmp_path)
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.addfile(_member("cifar-10-batches-py/", tarfile.DIRTYPE))
        tar.addfile(member, io.BytesIO(b"x" * member.size))
    with pytest.raises(DatasetError) as err:
        load_cifar10(root)
    assert "Refusing to extract" in str(err.value) and repr(member.name) in str(err.value)
    assert not (tmp_path / "evil").exists()
    assert not (root / "cifar-10-batches-py").exists()  # nothing at all was extracted


def test_truncated_archive_is_named(tmp_path):
    archive, _ = make_archive(tmp_path / "root", tmp_path)
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"Could not extract .*cifar-10-python\.tar\.gz"):
        load_cifar10(tmp_path / "root")


# ----------------------------------------------------------------------------------------------
# Batching: each example once per epoch, order fixed by (seed, epoch)
# ----------------------------------------------------------------------------------------------


def epoch_batches(images, labels, batch_size, epoch=0, start=0, **kwargs):
    """The batches DataLoader yields in `epoch`, from batch `start` on."""
    loader = DataLoader(images, labels, batch_size, **kwargs)
    loader.set_epoch(epoch)
    return loader.batches(start)


def ids_dataset(n=10):
    """Images whose every pixel is their index, labels = index: batches reveal the order."""
    images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 3, 32, 32)).copy()
    return images, np.arange(n, dtype=np.int64)


def order(epoch=0, seed=0, shuffle=True, batch_size=4, drop_last=False, n=10):
    images, labels = ids_dataset(n)
    batches = epoch_batches(images, labels, batch_size, epoch, shuffle=shuffle, seed=seed, drop_last=drop_last)
    return [y.tolist() for _, y in batches]


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_example_once_per_epoch(shuffle):
    seen = sum(order(shuffle=shuffle), [])
    assert sorted(seen) == list(range(10))
    if not shuffle:
        assert seen == list(range(10))


def test_batch_contents_match_labels():
    images, labels = ids_dataset()
    for x, y in DataLoader(images, labels, 4, shuffle=True, seed=3):
        assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (len(y), 3, 32, 32)
        expected = (y[:, None, None, None].astype(np.float32) / 255 - 0.5) / 0.5
        np.testing.assert_array_equal(x, np.broadcast_to(expected, x.shape))


def test_shuffle_is_reproducible_and_changes_with_epoch_and_seed():
    assert order(epoch=2, seed=7) == order(epoch=2, seed=7)
    assert order(epoch=2, seed=7, n=100) != order(epoch=3, seed=7, n=100)
    assert order(epoch=2, seed=7, n=100) != order(epoch=2, seed=8, n=100)


def test_shuffle_stream_is_not_the_model_stream():
    # default_rng([seed, 0]) == default_rng(seed): the stream tag keeps them apart.
    assert not np.array_equal(data.epoch_permutation(100, 5, 0), np.random.default_rng(5).permutation(100))


@pytest.mark.parametrize("drop_last, sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_drop_last(drop_last, sizes):
    images, labels = ids_dataset()
    loader = DataLoader(images, labels, batch_size=4, shuffle=True, drop_last=drop_last)
    assert [len(y) for _, y in loader] == sizes and len(loader) == len(sizes)


def test_resumed_loader_repeats_the_epoch_exactly():
    images, labels = ids_dataset(50)
    images = images * 5 + np.arange(32, dtype=np.uint8)  # some texture, so crops differ
    first = DataLoader(images, labels, batch_size=16, shuffle=True, augment=True, seed=1)
    for epoch in range(3):
        first.set_epoch(epoch)
        batches = list(first)
    resumed = DataLoader(images, labels, batch_size=16, shuffle=True, augment=True, seed=1)
    resumed.set_epoch(2)
    for (x, y), (x2, y2) in zip(batches, resumed, strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("start_batch", [0, 1, 3, 5])
def test_start_batch_yields_exactly_the_rest_of_the_epoch(start_batch):
    images, labels = ids_dataset(20)
    images = images * 7 + np.arange(32, dtype=np.uint8)  # texture, so augmentations differ
    args = dict(batch_size=6, shuffle=True, augment=True, seed=4, epoch=2)
    full = list(epoch_batches(images, labels, **args))
    rest = list(epoch_batches(images, labels, **args, start=start_batch))
    assert len(rest) == max(len(full) - start_batch, 0)
    for (x, y), (x2, y2) in zip(full[start_batch:], rest, strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)


def test_augmentation_is_drawn_afresh_per_epoch_and_per_batch():
    texture = np.random.default_rng(0).integers(0, 256, (1, 3, 32, 32), dtype=np.uint8)
    images, labels = np.repeat(texture, 8, axis=0), np.zeros(8, dtype=np.int64)  # 8 copies of one image

    def batches(epoch):
        return [x for x, _ in epoch_batches(images, labels, 4, epoch, augment=True, seed=0)]

    (a0, a1), (b0, _) = batches(0), batches(1)
    assert not np.array_equal(a0, a1)  # same images, next batch: new flips and crops
    assert not np.array_equal(a0, b0)  # same batch, next epoch: new flips and crops
    np.testing.assert_array_equal(a0, batches(0)[0])


@pytest.mark.parametrize("kwargs, field", [(dict(batch_size=0), "batch_size"), (dict(seed=-1), "seed"),
                                           (dict(epoch=-1), "epoch")])
def test_bad_batching_arguments_are_named(kwargs, field):
    images, labels = ids_dataset()
    args = dict(batch_size=4) | kwargs
    with pytest.raises(ValueError, match=f"DataLoader: {field} must be an integer"):
        next(epoch_batches(images, labels, **args))
