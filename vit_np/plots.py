"""The tutorial's figures: sample images, training curves, attention maps, confusion matrix.

Each plot_* function writes one PNG to `path`, closes the figure (so a training loop leaks no
memory) and returns it, so a caller can still inspect its titles and axes.
Images may be uint8 (N, 3, 32, 32) or (N, 32, 32, 3) as loaded, or float32 normalized to [-1, 1]
as the model sees them.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: no window, no display needed
import matplotlib.pyplot as plt  # noqa: E402  (must come after choosing the backend)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from vit_np import explain  # noqa: E402
from vit_np.augment import MEAN, STD, resize_bilinear  # noqa: E402

DPI = 100
POINTS = dict(marker="o", markersize=4)  # every measurement a dot: a line through one point draws nothing


def to_display(images: np.ndarray) -> np.ndarray:
    """Images for imshow: (N, 3, H, W) or (N, H, W, 3), uint8 or normalized -> float (N, H, W, 3) in [0, 1]."""
    x = np.asarray(images)
    if x.ndim != 4 or 3 not in (x.shape[1], x.shape[-1]):
        raise ValueError(f"to_display: images must be (N, 3, H, W) or (N, H, W, 3), got shape {x.shape}")
    if x.shape[-1] != 3:
        x = x.transpose(0, 2, 3, 1)  # (N, 3, H, W) -> (N, H, W, 3)
    if x.dtype == np.uint8:
        return x / 255.0
    return np.clip(x * STD + MEAN, 0.0, 1.0)  # undo Normalize(0.5, 0.5)


def _save(fig: Figure, path: str | os.PathLike) -> Figure:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return fig


def plot_sample_images(images: np.ndarray, labels: Sequence[int], class_names: Sequence[str],
                       path: str | os.PathLike, n: int = 30, ncols: int = 6) -> Figure:
    """A grid of the first n images, each titled with its class name."""
    shown = to_display(images[:n])
    nrows = math.ceil(len(shown) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(shown):
            ax.imshow(shown[i])
            ax.set_title(class_names[int(labels[i])], fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_curves(history: Sequence[dict], path: str | os.PathLike) -> Figure:
    """Train/test loss and test accuracy, a dot per epoch; history: [{epoch, train_loss, test_loss, accuracy (%)}]."""
    for i, row in enumerate(history):
        missing = {"epoch", "train_loss", "test_loss", "accuracy"} - set(row)
        if missing:
            raise ValueError(f"plot_curves: history entry {i} lacks {sorted(missing)} (has {sorted(row)})")
        if not (0.0 <= row["accuracy"] <= 100.0 or math.isnan(row["accuracy"])):
            raise ValueError(f"plot_curves: entry {i} has accuracy {row['accuracy']}, expected a percentage")
    epochs = [row["epoch"] for row in history]
    tested = [row for row in history if not math.isnan(row["accuracy"])]  # epochs the test set was run
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, [row["train_loss"] for row in history], label="train loss", **POINTS)
    loss_ax.plot([row["epoch"] for row in tested], [row["test_loss"] for row in tested], label="test loss", **POINTS)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    loss_ax.legend()
    acc_ax.plot([row["epoch"] for row in tested], [row["accuracy"] for row in tested], color="tab:green", **POINTS)
    acc_ax.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # epochs are whole numbers
        if epochs and min(epochs) == max(epochs):
            ax.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)  # one epoch: one tick, at it
    fig.tight_layout()
    return _save(fig, path)


def plot_accuracy_vs_time(runs: dict[str, Sequence[dict]], path: str | os.PathLike,
                          target: float | None = None, budget_minutes: float | None = None,
                          threads: int | None = None) -> Figure:
    """Test accuracy against wall-clock minutes (train + eval), one line per run.

    runs: {label: history}, each history's rows with "accuracy" (%) and "elapsed_seconds"
    (as metrics.csv has them); target draws a dashed horizontal line at that accuracy,
    budget_minutes a dotted vertical line at that time; threads (the runs' thread count) is named on
    the time axis. Every test is a dot, so a one-epoch run shows too. Each run's legend entry ends with
    its last accuracy, to two decimals (77.96% must not read as 78.0% next to a 78% target), and its
    last time: runs that end at the same point stay readable, where labels on the plot would overlap.
    A row's "tta_accuracy" (the test on 9 crops of each image) is a star in the run's colour, named
    in its legend entry.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, history in runs.items():
        for i, row in enumerate(history):
            missing = {"accuracy", "elapsed_seconds"} - set(row)
            if missing:
                raise ValueError(f"plot_accuracy_vs_time: run {label!r} entry {i} lacks {sorted(missing)}")
        tested = [row for row in history if not math.isnan(float(row["accuracy"]))]  # skip untested epochs
        minutes = [float(row["elapsed_seconds"]) / 60 for row in tested]
        accuracy = [float(row["accuracy"]) for row in tested]
        crops = [row for row in tested if not math.isnan(float(row.get("tta_accuracy", math.nan)))]
        if tested:
            label = f"{label}: {accuracy[-1]:.2f}% at {minutes[-1]:.0f} min"
        if crops:
            label += f" ({float(crops[-1]['tta_accuracy']):.2f}% on 9 crops, star)"
        line, = ax.plot(minutes, accuracy, label=label, **POINTS)
        if crops:
            ax.plot([float(row["elapsed_seconds"]) / 60 for row in crops], [float(row["tta_accuracy"]) for row in crops],
                    linestyle="none", marker="*", markersize=9, color=line.get_color())
    if target is not None:
        ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=f"{target:g}%")
    if budget_minutes is not None:
        ax.axvline(budget_minutes, color="gray", linestyle=":", linewidth=1, label=f"{budget_minutes:g} min")
    on = "" if threads is None else f", {threads} thread{'s' if threads != 1 else ''}"
    ax.set(xlabel=f"wall-clock minutes (train + test{on})", ylabel="test accuracy (%)",
           title="CIFAR-10 test accuracy against time")
    ax.set_xlim(left=0)  # time from the start: one test is a dot at its minute, not alone on a 0.006-minute axis
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """metrics.csv as written by vit_np.train: one dict per epoch, numbers as floats."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


# ----------------------------------------------------------------------------------------------
# Attention maps: where the [CLS] token looks in the last block
# ----------------------------------------------------------------------------------------------


def cls_attention_map(attention: np.ndarray) -> np.ndarray:
    """One block's [CLS]-to-patch attention, mean over heads: attn[:, :, 0, 1:].mean(1);  (N, nh, T, T) -> (N, g, g)."""
    return explain.cls_attention([attention])[:, 0].mean(axis=1)  # (N, 1, nh, g, g) -> (N, g, g)


def upsample_bilinear(maps: np.ndarray, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    """interpolate(mode="bilinear", align_corners=False) of 2-D maps;  (N, g, g) -> float32 (N, *size)."""
    return resize_bilinear(maps[:, None], size)[:, 0]  # (N, 1, g, g) -> (N, 1, *size) -> (N, *size)


def plot_attention(images: np.ndarray, attention: np.ndarray, labels: Sequence[int], preds: Sequence[int],
                   class_names: Sequence[str], path: str | os.PathLike, n: int = 10) -> Figure:
    """The tutorial's figure: each image beside itself overlaid with its [CLS] attention, titled GT | Pred.

    attention: (N, g, g) maps, or the last block's raw (N, heads, T, T) attention probabilities.
    Titles are green when the prediction is right, red when it is wrong.
    """
    attention = np.asarray(attention[:n], dtype=np.float32)
    maps = cls_attention_map(attention) if attention.ndim == 4 else attention  # (n, g, g)
    shown = to_display(images[:n])  # (n, H, W, 3)
    height, width = shown.shape[1:3]
    maps = upsample_bilinear(maps, (height, width))  # (n, g, g) -> (n, H, W)
    ncols, nrows = 5, math.ceil(len(shown) / 5)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 2.4 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(shown):
            ax.axis("off")
            continue
        ax.imshow(np.concatenate([shown[i], shown[i]], axis=1))  # (H, 2W, 3): plain | to be overlaid
        right_half = (width - 0.5, 2 * width - 0.5, height - 0.5, -0.5)  # (left, right, bottom, top) in pixels
        ax.imshow(maps[i], extent=right_half, alpha=0.5, cmap="jet")
        ax.set(xlim=(-0.5, 2 * width - 0.5), ylim=(height - 0.5, -0.5))  # imshow zoomed to the overlay
        truth, guess = class_names[int(labels[i])], class_names[int(preds[i])]
        ax.set_title(f"GT: {truth} | Pred: {guess}", color="green" if labels[i] == preds[i] else "red")
    fig.tight_layout()
    return _save(fig, path)


# ----------------------------------------------------------------------------------------------
# Confusion matrix
# ----------------------------------------------------------------------------------------------


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[t, p] = #examples of class t predicted as p;  (N,), (N,) -> int64 (C, C)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"confusion_matrix: y_true {y_true.shape} and y_pred {y_pred.shape} must be one 1-D shape")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and not 0 <= y.min() <= y.max() < num_classes:
            raise ValueError(f"confusion_matrix: {name} must be in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def plot_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str],
                          path: str | os.PathLike) -> Figure:
    """Counts written in each cell, coloured by the row-normalized rate (each true class sums to 1)."""
    counts = confusion_matrix(y_true, y_pred, len(class_names))  # (C, C)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)  # recall on the diagonal
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="fraction of the true class")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, labels=class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, labels=class_names)
    ax.set(xlabel="predicted class", ylabel="true class",
           title=f"Confusion matrix (accuracy {np.trace(counts) / max(counts.sum(), 1):.1%})")
    for t in ticks:
        for p in ticks:
            ax.text(p, t, str(counts[t, p]), ha="center", va="center", fontsize=8,
                    color="white" if rates[t, p] > 0.5 else "black")
    fig.tight_layout()
    return _save(fig, path)


# ----------------------------------------------------------------------------------------------
# Looking inside a trained model (vit_np.explain gives the maps)
# ----------------------------------------------------------------------------------------------


def _overlay(ax, image: np.ndarray, amap: np.ndarray | None, title: str, color: str = "black") -> None:
    """One image (H, W, 3) in [0, 1], with a (g, g) map upsampled over it if given."""
    ax.imshow(image)
    if amap is not None:
        up = upsample_bilinear(np.asarray(amap, dtype=np.float32)[None], image.shape[:2])[0]
        ax.imshow(up, alpha=0.55, cmap="jet")
    ax.set_title(title, fontsize=9, color=color)
    ax.axis("off")


def plot_attention_per_head(image: np.ndarray, maps: np.ndarray, path: str | os.PathLike,
                            title: str = "") -> Figure:
    """[CLS] attention of one image for every block (rows) and head (columns); maps: (L, nh, g, g)."""
    layers, heads = maps.shape[:2]
    shown = to_display(image[None])[0]
    fig, axes = plt.subplots(layers, heads + 1, figsize=(1.9 * (heads + 1), 1.9 * layers), squeeze=False)
    for layer in range(layers):
        _overlay(axes[layer, 0], shown, None, f"block {layer + 1}")
        for head in range(heads):
            _overlay(axes[layer, head + 1], shown, maps[layer, head], f"head {head + 1}")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_attention_views(images: np.ndarray, views: dict[str, np.ndarray], labels: Sequence[int],
                         preds: Sequence[int], class_names: Sequence[str], path: str | os.PathLike) -> Figure:
    """One row per image: the image, then each named view (N, g, g) over it; titled GT | Pred."""
    shown = to_display(images)
    fig, axes = plt.subplots(len(shown), len(views) + 1, figsize=(2.2 * (len(views) + 1), 2.3 * len(shown)),
                             squeeze=False)
    for i, image in enumerate(shown):
        right = labels[i] == preds[i]
        _overlay(axes[i, 0], image, None, f"{class_names[int(labels[i])]} | {class_names[int(preds[i])]}",
                 "green" if right else "red")
        for j, (name, maps) in enumerate(views.items()):
            _overlay(axes[i, j + 1], image, maps[i], name)
    fig.tight_layout()
    return _save(fig, path)
