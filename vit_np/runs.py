"""A run's output directory: nothing in it is replaced by accident, and a resume sees the run's own data.

    previous = run_files(out_dir)            # the files of a run already there, or []
    moved_to = move_aside(out_dir, names)    # --overwrite: out_dir/replaced-1/ (then replaced-2, ...)
    fingerprint(images, labels)              # 'blake2b:9f2c...', compared on --resume instead of --data-dir

RunConfig declares examples/train_cifar.py's own flags (--data-dir, --limit-train, --out-dir, ...) with
setting(), as TrainConfig and ViTConfig declare theirs: each says whether a resumed run must keep it.
"""
from __future__ import annotations

import argparse
import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import minigrad as mg
from vit_np.checkpoint import MAX_PARAMETERS
from vit_np.data import default_data_dir
from vit_np.settings import FREE, setting

CHECKPOINT = "checkpoint.npz"
BEST = "best.npz"
METRICS = "metrics.csv"
RUN_FILES = (CHECKPOINT, BEST, METRICS)  # what a run cannot recompute: a fresh run must not replace them
REPLACED = "replaced-"  # --overwrite moves a run's files into out_dir/replaced-<n>/


class RunLock:
    """`with RunLock(out_dir):` holds an exclusive flock on the out-dir itself while a run trains there, so that
    a second run started in the same out-dir at the same moment is refused instead of writing over the first.
    No file is made; the OS releases the lock when the process ends, however it ends. Without flock, no lock."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.out_dir = Path(out_dir)
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # not POSIX
            return self
        try:
            fd = os.open(self.out_dir, os.O_RDONLY)
        except OSError:  # the out-dir is gone, or cannot be opened: the first save says so
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunInUse(f"--out-dir {self.out_dir} is in use by another run; wait for it to end, or choose "
                           "another --out-dir") from None
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing it releases the lock
            self.fd = None


class RunInUse(RuntimeError):
    """Another process is training in this out-dir."""


def run_files(out_dir: str | os.PathLike) -> list[str]:
    """The names of RUN_FILES present in out_dir."""
    return [name for name in RUN_FILES if (Path(out_dir) / name).exists()]


def move_aside(out_dir: str | os.PathLike, names: list[str]) -> Path | None:
    """Move the files `names` of out_dir (those present) into a new out_dir/replaced-<n>/, n the first free
    number; None if none is present. Each move is a rename, so a file is whole in one place or the other."""
    out_dir = Path(out_dir)
    present = [name for name in names if (out_dir / name).exists()]
    if not present:
        return None
    n = 1
    while True:
        target = out_dir / f"{REPLACED}{n}"
        try:
            target.mkdir()  # fails if it exists: two runs never share one
            break
        except FileExistsError:
            n += 1
    for name in present:
        os.replace(out_dir / name, target / name)
    return target


def fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """A digest of the images and labels themselves (with their shapes and dtypes): the same data, however found."""
    digest = hashlib.blake2b(digest_size=12)
    for array in (images, labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(memoryview(array).cast("B"))
    return "blake2b:" + digest.hexdigest()


def os_error_cause(err: OSError, directory: Path) -> str:
    """The cause of a failed write in a few words: 'No space left on device', 'the directory ... is gone'."""
    if err.errno == errno.ENOENT and not directory.is_dir():
        return f"the directory {directory} is gone"
    return os.strerror(err.errno) if err.errno else str(err) or type(err).__name__  # not strerror: it may be reworded


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse names the flag in its error)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


@dataclass
class RunConfig:
    """examples/train_cifar.py's settings beyond TrainConfig and ViTConfig, declared as theirs are: --resume
    refuses a change to a MATCH one. The data is compared by a fingerprint of the images and labels
    loaded (vit_np.runs.fingerprint), so --data-dir may move but the data may not change."""

    data_dir: str = setting(default_data_dir(), "holds cifar-10-batches-py/ or cifar-10-python.tar.gz (default: "
                            "$VIT_NP_DATA_DIR, else data); may change on --resume if the data is the same", resume=FREE)
    limit_train: int | None = setting(None, "use the first N training images", type=positive_int, metavar="N")
    limit_test: int | None = setting(None, "use the first N test images", type=positive_int, metavar="N")
    download: bool = setting(True, "fetch CIFAR-10 from its home page if it is not in --data-dir", resume=FREE)
    out_dir: str = setting("runs/cifar10", "checkpoints, metrics.csv and figures go here", resume=FREE)
    resume: bool = setting(False, "continue the run in --out-dir from its checkpoint.npz; every setting that changes "
                           "what the run sees or computes must be the run's (the error names any that is not)",
                           resume=FREE)
    overwrite: bool = setting(False, "start a fresh run in an --out-dir that holds one: its checkpoint.npz, best.npz, "
                              "metrics.csv and figures are moved into --out-dir/replaced-N/ (nothing is deleted)",
                              resume=FREE)
    threads: int = setting(mg.get_num_threads(), "threads the kernels use (minigrad.set_num_threads); any count "
                           "gives the same numbers", type=positive_int, resume=FREE)
    eval_only: bool = setting(False, "evaluate --checkpoint and draw its figures (the model settings are read from "
                              "the checkpoint)", resume=FREE)
    checkpoint: str | None = setting(None, "weights for --eval-only (default: --out-dir/best.npz)", type=str,
                                     metavar="PATH", resume=FREE)
    allow_large_model: bool = setting(False, f"let --eval-only build the model a checkpoint asks for even beyond "
                                      f"{MAX_PARAMETERS:,} parameters (vit_np.checkpoint's bounds)", resume=FREE)
    progress: bool = setting(True, "a progress bar (--no-progress: none, e.g. in logs)", resume=FREE)
