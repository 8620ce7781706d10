"""CIFAR-10: find (or download and safely extract) the files, read them, and serve mini-batches.

The data is CIFAR-10's "python version", as its home page distributes it:

    cifar-10-python.tar.gz  ->  cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}

Each batch file is a pickled dict: b"data" uint8 (10000, 3072), the 1024 red, then green, then
blue values of each 32x32 image, and b"labels", a list of ints 0..9. Unpickling can run code,
so the files are read by an unpickler that builds nothing but numpy arrays and plain containers;
still, take CIFAR-10 only from its official source.

    images, labels = load_cifar10("data", train=True)      # uint8 (50000, 3, 32, 32), int64 (50000,)
    loader = DataLoader(images, labels, batch_size=256, shuffle=True, augment="tutorial", seed=0)
    loader.set_epoch(epoch)
    for x, y in loader: ...                                   # float32 (B, 3, 32, 32), int64 (B,)

Batch order and augmentation depend only on (seed, epoch, batch index), so a run resumed at
an epoch boundary sees exactly the batches it would have seen.
"""
from __future__ import annotations

import functools
import hashlib
import http.client
import math
import os
import pickle
import sys
import tarfile
import urllib.request
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

from vit_np.augment import TRANSFORMS, Mix, eval_transform
from vit_np.autoaugment import check_rand_augment_args

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
BATCHES_DIR = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
META_FILE = "batches.meta"
# The label_names of batches.meta, for when that file is absent.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DOWNLOAD_TIMEOUT = 15.0  # seconds without a byte before a download gives up (offline: fails at once)
# Tags that keep the random streams apart. SeedSequence pads its entropy with zeros, so
# default_rng([seed, 0]) == default_rng(seed) (minigrad's own stream): every key below is
# [seed, nonzero tag, ...] with a fixed length per tag, so no two streams coincide.
SHUFFLE_STREAM = 1
AUGMENT_STREAM = 2


class DatasetError(RuntimeError):
    """The data is missing, damaged or unsafe; the message says which file, where, and the fix."""


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


def default_data_dir() -> str:
    """Where the scripts and notebooks look for CIFAR-10 unless told: $VIT_NP_DATA_DIR, else data/."""
    return os.environ.get("VIT_NP_DATA_DIR", "data")


def load_cifar10(
    root: str | os.PathLike, train: bool = True, download: bool = False, limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One split of CIFAR-10 -> images uint8 (N, 3, 32, 32), labels int64 (N,); N = 50000 or 10000.

    root: a directory holding cifar-10-batches-py/ or cifar-10-python.tar.gz, or the
    cifar-10-batches-py directory itself. An archive is extracted beside itself; with
    download=True a missing archive is fetched first. limit: keep only the first `limit` examples.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"load_cifar10: limit must be a positive integer or None, got {limit!r}")
    folder = find_cifar10(root, download)
    names = TRAIN_FILES if train else TEST_FILES
    _require_files(folder, names, "train" if train else "test")
    images, labels, kept = [], [], 0
    for name in names:
        batch_images, batch_labels = read_batch(folder / name)
        images.append(batch_images[:None if limit is None else limit - kept])
        labels.append(batch_labels[:None if limit is None else limit - kept])
        kept += len(labels[-1])
        if kept == limit:
            break  # --limit-train 1000 reads one file, not five
    return np.concatenate(images), np.concatenate(labels)  # (N, 3, 32, 32), (N,): copies, no views


def load_class_names(root: str | os.PathLike) -> list[str]:
    """label_names from batches.meta under root, or CIFAR10_CLASSES when there is no such file."""
    folder = _batches_dir(Path(root).expanduser())
    if folder is None or not (folder / META_FILE).is_file():
        return list(CIFAR10_CLASSES)
    names = _read_pickle(folder / META_FILE).get("label_names")
    if not isinstance(names, list) or len(names) != len(CIFAR10_CLASSES):
        raise DatasetError(_corrupt(folder / META_FILE, f"its label_names is {names!r}, expected 10 names"))
    return [n.decode("ascii") if isinstance(n, bytes) else str(n) for n in names]


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> images uint8 (n, 3, 32, 32), labels int64 (n,), checked for shape and range."""
    batch = _read_pickle(path)
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or labels is None:
        keys = ", ".join(sorted(map(str, batch)))
        raise DatasetError(_corrupt(path, f"it has no 'data' array and 'labels' list (keys: {keys})"))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(_corrupt(path, f"its data is {data.dtype} {data.shape}, expected uint8 (n, 3072)"))
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DatasetError(_corrupt(path, f"its labels are not integers ({e})")) from e
    if labels.shape != (len(data),) or (labels.size and not 0 <= labels.min() <= labels.max() <= 9):
        low, high = labels.min(initial=0), labels.max(initial=0)
        raise DatasetError(_corrupt(path, f"it has {labels.size} labels in [{low}, {high}] for {len(data)} "
                                          f"images, expected one in 0..9 each"))
    return data.reshape(-1, 3, 32, 32), labels  # (n, 3072) -> (n, 3, 32, 32): R, G, B planes, row-major


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays, lists, dicts, strings and numbers, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if name in ("_reconstruct", "_frombuffer", "scalar") and module.split(".")[:2] in (
                ["numpy", "core"], ["numpy", "_core"]):
            return super().find_class(module.replace("numpy.core", _NUMPY_CORE), name)
        if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
            return getattr(np, name)
        if (module, name) == ("_codecs", "encode"):  # how Python 3's protocol 2 pickles bytes
            return super().find_class(module, name)
        raise _ForbiddenGlobal(f"{module}.{name}")


class _ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle asked for a function or class that a CIFAR-10 file never holds."""


_NUMPY_CORE = "numpy._core" if hasattr(np, "_core") else "numpy.core"  # renamed in NumPy 2


def _read_pickle(path: Path) -> dict[str, Any]:
    """A CIFAR-10 pickle -> dict with str keys (the files have Python 2 str keys: bytes, here)."""
    try:
        with open(path, "rb") as f:
            obj = _NumpyOnlyUnpickler(f, encoding="bytes").load()
    except OSError as e:
        raise DatasetError(f"CIFAR-10 file {path} could not be read ({e}). Fix: check that it exists "
                           f"and is readable, or point --data-dir at another copy.") from e
    except _ForbiddenGlobal as e:
        raise DatasetError(f"CIFAR-10 file {path} asks to load {e}, which a CIFAR-10 file never holds, so it "
                           f"was not unpickled (unpickling can run code). Fix: delete it and take CIFAR-10 only "
                           f"from its official source, {CIFAR10_URL}.") from e
    except Exception as e:  # a damaged pickle can fail in many ways; all mean the same to a user
        raise DatasetError(_corrupt(path, f"{type(e).__name__}: {e}")) from e
    if not isinstance(obj, dict):
        raise DatasetError(_corrupt(path, f"it holds a {type(obj).__name__}, not a dict"))
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _corrupt(path: Path, detail: str) -> str:
    return (f"CIFAR-10 file {path} is truncated or corrupt: {detail}. Fix: delete {path.parent} and "
            f"extract {ARCHIVE_NAME} again, or run with --download (download=True) to fetch a fresh "
            f"copy from {CIFAR10_URL}.")


# ----------------------------------------------------------------------------------------------
# Finding the files: directory, archive, or download
# ----------------------------------------------------------------------------------------------


def find_cifar10(root: str | os.PathLike, download: bool = False) -> Path:
    """The cifar-10-batches-py directory for root: found, extracted from the archive, or downloaded."""
    root = Path(root).expanduser()
    if root.is_file() and root.name.endswith(".tar.gz"):  # the archive itself was given
        root, archive = root.parent, root
    else:
        archive = root / ARCHIVE_NAME
    folder = _batches_dir(root)
    if folder is not None:
        return folder
    if not archive.is_file():
        if not download:
            raise DatasetError(_not_found(root))
        archive = download_cifar10(root)
    extract_archive(archive, root)
    if (root / BATCHES_DIR).is_dir():
        return root / BATCHES_DIR
    raise DatasetError(f"{archive} was extracted into {root} but held no {BATCHES_DIR}/ directory, so it is "
                       f"not CIFAR-10's python version. Fix: replace it with {ARCHIVE_NAME} from {CIFAR10_URL}.")


def _batches_dir(root: Path) -> Path | None:
    """root/cifar-10-batches-py, or root itself if it holds the batch files; None if neither."""
    if (root / BATCHES_DIR).is_dir():
        return root / BATCHES_DIR
    if any((root / name).is_file() for name in (*TRAIN_FILES, *TEST_FILES, META_FILE)):
        return root
    return None


def _require_files(folder: Path, names: tuple[str, ...], split: str) -> None:
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise DatasetError(
            f"CIFAR-10 {split} split is incomplete: {', '.join(missing)} not found in {folder} (it holds: "
            f"{', '.join(present) or 'nothing'}). Fix: delete {folder} and extract {ARCHIVE_NAME} again, "
            f"or run with --download (download=True) to fetch it from {CIFAR10_URL}.")


def _not_found(root: Path) -> str:
    files = ", ".join((*TRAIN_FILES, *TEST_FILES, META_FILE))
    return (f"CIFAR-10 was not found in {root}: looked for {root / BATCHES_DIR}/ holding {files}, for those "
            f"files directly in {root}, and for the archive {root / ARCHIVE_NAME}. Fix: point --data-dir at a "
            f"directory holding {BATCHES_DIR}/ or {ARCHIVE_NAME} (get it from {CIFAR10_URL}), or run with "
            f"--download (download=True) to fetch it there (about 170 MB).")


def download_cifar10(root: Path) -> Path:
    """Fetch cifar-10-python.tar.gz into root, check its MD5 -> the archive's path."""
    root.mkdir(parents=True, exist_ok=True)
    archive, partial = root / ARCHIVE_NAME, root / (ARCHIVE_NAME + ".part")
    try:
        with urllib.request.urlopen(CIFAR10_URL, timeout=DOWNLOAD_TIMEOUT) as response, open(partial, "wb") as out:
            _copy_with_progress(response, out, int(response.headers.get("Content-Length") or 0))
    except (OSError, ValueError, http.client.HTTPException) as e:  # URLError and timeouts are OSErrors
        partial.unlink(missing_ok=True)
        raise DatasetError(
            f"Could not download CIFAR-10 from {CIFAR10_URL} ({type(e).__name__}: {e}); this machine may be "
            f"offline. Fix: on a machine with network access download {ARCHIVE_NAME} from that address, put "
            f"it (or the extracted {BATCHES_DIR}/) in {root}, and pass --data-dir {root}.") from e
    digest = file_md5(partial)
    if digest != CIFAR10_MD5:
        partial.unlink()
        raise DatasetError(
            f"The download of {CIFAR10_URL} has MD5 {digest}, expected {CIFAR10_MD5}: it is incomplete or was "
            f"altered, so it was deleted. Fix: run with --download again, or download {ARCHIVE_NAME} yourself, "
            f"check its MD5 and put it in {root}.")
    os.replace(partial, archive)  # only a verified archive ever has the final name
    return archive


def _copy_with_progress(response: BinaryIO, out: BinaryIO, total: int) -> None:
    """Copy in 1 MiB chunks, with a tqdm bar if tqdm is installed, else a percentage on stderr."""
    try:
        from tqdm import tqdm
        bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=ARCHIVE_NAME)
    except ImportError:
        bar = None
    done = 0
    try:
        while chunk := response.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
            elif total:
                print(f"\rdownloading {ARCHIVE_NAME}: {100 * done // total}%", end="", file=sys.stderr, flush=True)
    finally:
        if bar is not None:
            bar.close()
        elif total:
            print(file=sys.stderr)


def file_md5(path: Path) -> str:
    """Hex MD5 of a file, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def extract_archive(archive: Path, target: Path) -> None:
    """Extract a .tar.gz into target, refusing any member that could land outside it or is not a plain file."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, archive, target)
            if hasattr(tarfile, "data_filter"):  # Python >= 3.12, 3.11.4, 3.10.12: a second line of defence
                tar.extractall(target, members=members, filter="data")
            else:
                tar.extractall(target, members=members)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:  # what a damaged .tar.gz raises
        raise DatasetError(f"Could not extract {archive} ({type(e).__name__}: {e}): it is truncated or not a "
                           f".tar.gz. Fix: delete it and run with --download, or download {ARCHIVE_NAME} again "
                           f"from {CIFAR10_URL}.") from e


def _check_member(member: tarfile.TarInfo, archive: Path, target: Path) -> None:
    name = member.name
    if member.issym() or member.islnk():
        reason = f"is a link to {member.linkname!r}"
    elif not (member.isfile() or member.isdir()):
        reason = "is a device, FIFO or other special file"
    elif name.startswith(("/", "\\")) or PureWindowsPath(name).drive or os.path.isabs(name):
        reason = "has an absolute path"
    elif ".." in PurePosixPath(name.replace("\\", "/")).parts:
        reason = "climbs out with '..'"
    elif not (target.resolve() / name).resolve().is_relative_to(target.resolve()):
        reason = f"would land outside {target}"
    else:
        return
    raise DatasetError(f"Refusing to extract {archive}: member {name!r} {reason}. CIFAR-10's archive holds "
                       f"only plain files under {BATCHES_DIR}/, so this file is damaged or malicious. Fix: "
                       f"delete it and download {ARCHIVE_NAME} again from {CIFAR10_URL}.")


# ----------------------------------------------------------------------------------------------
# Mini-batches
# ----------------------------------------------------------------------------------------------


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the n examples in epoch `epoch`: a permutation drawn from rng [seed, SHUFFLE_STREAM, epoch]."""
    return np.random.default_rng([seed, SHUFFLE_STREAM, epoch]).permutation(n)


def augment_rng(seed: int, epoch: int, batch_index: int) -> np.random.Generator:
    """The generator that draws the flips and crops of one batch: rng [seed, AUGMENT_STREAM, epoch, batch]."""
    return np.random.default_rng([seed, AUGMENT_STREAM, epoch, batch_index])


def training_transform(augment: bool | str, randaugment_num_ops: int = 2, randaugment_magnitude: int = 9,
                       ) -> Callable[[np.ndarray, np.random.Generator], np.ndarray] | None:
    """The transform an `augment` setting names: True or "tutorial" (flip + random resized crop),
    "crop-flip" (RandomCrop(32, padding=4) + flip), "crop-flip-trivial" / "crop-flip-randaugment"
    (then TrivialAugmentWide / RandAugment(randaugment_num_ops, randaugment_magnitude)), False or
    "none" (None: normalize only)."""
    if augment is False or augment == "none":
        return None
    name = "tutorial" if augment is True else augment
    if name not in TRANSFORMS:
        raise ValueError(f"augment must be True, False, 'none' or one of {sorted(TRANSFORMS)}, got {augment!r}")
    if name == "crop-flip-randaugment":
        check_rand_augment_args(randaugment_num_ops, randaugment_magnitude)
        return functools.partial(TRANSFORMS[name], num_ops=randaugment_num_ops, magnitude=randaugment_magnitude)
    return TRANSFORMS[name]


def _check_batching(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int, epoch: int) -> None:
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"DataLoader: images must be uint8 (N, 3, H, W), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"DataLoader: labels must have shape ({len(images)},), got {labels.shape}")
    for name, value, low in (("batch_size", batch_size, 1), ("seed", seed, 0), ("epoch", epoch, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"DataLoader: {name} must be an integer >= {low}, got {value!r}")


class DataLoader:
    """Mini-batches of one split, re-shuffled each epoch: set_epoch(e), then iterate.

    Yields x float32 (B, 3, 32, 32) in [-1, 1] and y int64 (B,), each example once per epoch, in
    an order set by (seed, epoch). augment names a training transform (True or "tutorial": flip +
    random resized crop; "crop-flip": the padded random crop + flip; "crop-flip-trivial" /
    "crop-flip-randaugment": plus TrivialAugmentWide / RandAugment(randaugment_num_ops,
    randaugment_magnitude)); False or "none" normalizes only. mix (a vit_np.augment.Mix) blends
    the augmented images with MixUp / CutMix, and y is then the class probabilities, float32
    (B, classes). Batch b of an epoch draws its augmentation from the generator [seed,
    AUGMENT_STREAM, epoch, b], so `batches(start=k)` (a run resumed mid-epoch) yields exactly the
    batches k, k+1, ... an uninterrupted epoch would have. The last batch is smaller unless
    drop_last=True drops it.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool = False,
                 augment: bool | str = False, seed: int = 0, drop_last: bool = False, mix: Mix | None = None,
                 randaugment_num_ops: int = 2, randaugment_magnitude: int = 9):
        _check_batching(images, labels, batch_size, seed, 0)
        # an unknown name or a bad RandAugment setting fails here, not at the first batch
        self.transform = training_transform(augment, randaugment_num_ops, randaugment_magnitude)
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.seed, self.drop_last, self.mix = batch_size, shuffle, seed, drop_last, mix
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order and augmentation the next iteration produces (as PyTorch's samplers)."""
        _check_batching(self.images, self.labels, self.batch_size, self.seed, epoch)
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.batches()

    def batches(self, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """This epoch's batches from batch `start` on (0: all of them)."""
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
            raise ValueError(f"DataLoader.batches: start must be an integer >= 0, got {start!r}")
        n = len(self.images)
        order = epoch_permutation(n, self.seed, self.epoch) if self.shuffle else np.arange(n)
        for b in range(start, len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]  # (B,)
            rng = augment_rng(self.seed, self.epoch, b)
            x = self.transform(self.images[idx], rng) if self.transform else eval_transform(self.images[idx])
            yield self.mix(x, self.labels[idx], rng) if self.mix is not None else (x, self.labels[idx])
