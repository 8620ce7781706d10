"""A tiny CIFAR-10 written in the canonical "python version" layout, for tests that need files on disk.

    root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}

Each batch file is a protocol-2 pickle of {b"data": uint8 (n, 3072) in R, G, B planes,
b"labels": [int], ...}, as CIFAR-10 ships them. Import with `from cifar_fixture import make_cifar`
(tests/conftest.py puts this folder on sys.path).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

CLASSES = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"]


def write_pickle(path: Path, obj: object) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def write_batch(path: Path, images: np.ndarray, labels: np.ndarray, key: type = bytes) -> None:
    """A batch file as CIFAR-10 writes it: data (n, 3072) uint8 in R, G, B planes, labels a list."""
    k = (lambda s: s.encode()) if key is bytes else (lambda s: s)
    write_pickle(path, {k("batch_label"): k("a batch"), k("labels"): [int(v) for v in labels],
                        k("data"): images.reshape(len(images), -1), k("filenames"): [k("x.png")] * len(images)})


def make_cifar(root: Path, per_batch: int = 4, n_test: int = 6, key: type = bytes, seed: int = 0):
    """root/cifar-10-batches-py/ with random images -> (train images, train labels, test images, test labels).

    Train images are uint8 (5 * per_batch, 3, 32, 32), split in order over data_batch_1..5.
    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    n_train = 5 * per_batch
    images = rng.integers(0, 256, (n_train + n_test, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n_train + n_test)
    for i in range(5):
        part = slice(i * per_batch, (i + 1) * per_batch)
        write_batch(folder / f"data_batch_{i + 1}", images[part], labels[part], key)
    write_batch(folder / "test_batch", images[n_train:], labels[n_train:], key)
    k = (lambda s: s.encode()) if key is bytes else (lambda s: s)
    write_pickle(folder / "batches.meta", {k("label_names"): [k(c) for c in CLASSES], k("num_vis"): 3072})
    return images[:n_train], labels[:n_train], images[n_train:], labels[n_train:]
