"""Training the ViT: the loop, evaluation, and checkpoints that resume exactly.

A run lives in one output directory:
    checkpoint.npz   model + optimizer + position in the run + RNG state (written atomically
                     at every epoch end, every `checkpoint_every` steps, and on Ctrl-C; Ctrl-C
                     saves the state after the last whole step, wherever inside a step it landed)
    best.npz         the model weights with the best test accuracy so far
    metrics.csv      one row per epoch
`--resume` reloads checkpoint.npz and continues with the same batches, the same augmentation
and the same dropout masks as an uninterrupted run would have used, so both end on the same
weights: the batch order and augmentation of (epoch, batch) are drawn from generators seeded by
(seed, epoch, batch), and minigrad's dropout generator is saved in the checkpoint.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import random as mg_random
from minigrad.nn import Module
from minigrad.nn.parallel import DataParallel
from minigrad.nn.utils import clip_grad_norm_
from minigrad.optim import Optimizer
from minigrad.optim.lr_scheduler import warmup_cosine_factor
from minigrad.kernels.memory import keep_freed_memory
from vit_np.augment import Mix
from vit_np.data import iterate_batches, training_transform

CHECKPOINT = "checkpoint.npz"
BEST = "best.npz"
METRICS = "metrics.csv"
METRIC_FIELDS = ["epoch", "train_loss", "test_loss", "accuracy", "lr", "epoch_seconds",
                 "train_images_per_second", "elapsed_seconds"]


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the last checkpoint is left intact."""


@dataclass
class TrainConfig:
    epochs: int = 15  # passes over the training set
    batch_size: int = 256  # images per optimizer step
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW decoupled weight decay
    seed: int = 0  # seeds the model init, batch order, augmentation and dropout
    eval_batch_size: int = 500  # images per forward pass when evaluating
    checkpoint_every: int = 0  # also checkpoint every N steps inside an epoch (0: epoch ends only)
    augment: bool | str = True  # True/"tutorial": flip + random resized crop; "crop-flip": padded crop + flip
    workers: int = 1  # threads that share each batch (data parallel); the gradient is the same
    # The longer recipes' extras; the defaults are the tutorial's (constant lr, plain cross-entropy).
    lr_schedule: str = "constant"  # "constant", or "warmup-cosine": linear warmup, then a half cosine
    warmup_epochs: float = 0.0  # length of the linear warmup (warmup-cosine)
    min_lr_ratio: float = 0.0  # warmup-cosine ends at lr * min_lr_ratio
    label_smoothing: float = 0.0  # cross-entropy against (1 - s) * one_hot + s / classes
    grad_clip: float = 0.0  # clip the gradient's global 2-norm to this before each step (0: off)
    mix_prob: float = 0.0  # chance that a batch is mixed by MixUp / CutMix (0: never; see vit_np.augment.Mix)
    mixup_alpha: float = 0.8  # MixUp's lam ~ Beta(alpha, alpha)
    cutmix_alpha: float = 1.0  # CutMix's lam ~ Beta(alpha, alpha)
    mix_switch_prob: float = 0.5  # chance that a mixed batch uses CutMix rather than MixUp

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size", "workers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(f"TrainConfig: {name} must be a positive integer, got {getattr(self, name)!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig: lr must be > 0, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"TrainConfig: weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.checkpoint_every < 0:
            raise ValueError(f"TrainConfig: checkpoint_every must be >= 0, got {self.checkpoint_every!r}")
        training_transform(self.augment)  # a ValueError naming the choices
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"TrainConfig: lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"TrainConfig: warmup_epochs must be in [0, epochs={self.epochs}], got {self.warmup_epochs!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"TrainConfig: min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"TrainConfig: label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if not self.grad_clip >= 0:
            raise ValueError(f"TrainConfig: grad_clip must be >= 0 (0: off), got {self.grad_clip!r}")
        if not 0 <= self.mix_prob <= 1:
            raise ValueError(f"TrainConfig: mix_prob must be in [0, 1], got {self.mix_prob!r}")
        if self.mix_prob:
            self.mix(10)  # a ValueError naming a bad alpha or switch probability

    def mix(self, num_classes: int) -> Mix | None:
        """The batch mixing these settings ask for, or None."""
        if not self.mix_prob:
            return None
        try:
            return Mix(num_classes, self.mixup_alpha, self.cutmix_alpha, self.mix_prob, self.mix_switch_prob)
        except ValueError as err:
            raise ValueError(f"TrainConfig: {err}") from None

    def lr_factor(self, step: int, steps_per_epoch: int) -> float:
        """The learning rate of optimizer step `step` (0-based, over the whole run) as a multiple of lr."""
        if self.lr_schedule == "constant":
            return 1.0
        warmup = round(self.warmup_epochs * steps_per_epoch)
        return warmup_cosine_factor(step, warmup, self.epochs * steps_per_epoch, self.min_lr_ratio)


LR_SCHEDULES = ("constant", "warmup-cosine")


def param_groups(model: Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups that decay only the weight matrices: biases, LayerNorm weights, the [CLS] token and
    the position embeddings get weight_decay 0 (shrinking them towards 0 has no regularizing meaning).

    A parameter decays when it has 2 or more dimensions and is not an embedding; names follow the model's.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        embedding = name.endswith(("cls_token", "position_embeddings"))
        (decay if p.ndim >= 2 and not embedding else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@dataclass
class Position:
    """Where a run is: inside `epoch` (0-based), after `batch` steps, with running sums."""

    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0  # sum over the epoch's steps so far of loss * batch size
    seen: int = 0  # training images seen this epoch
    seconds: float = 0.0  # training seconds spent this epoch


def batch_loss(model: Module, x: np.ndarray, y: np.ndarray, label_smoothing: float = 0.0) -> mg.Tensor:
    """Mean cross-entropy of the model on one batch: (B, 3, H, W), (B,) -> ()."""
    logits, _ = model(mg.Tensor(x))  # (B, classes)
    return F.cross_entropy(logits, y, label_smoothing=label_smoothing)


def _logits(model: Module, x: np.ndarray) -> np.ndarray:
    return model(mg.Tensor(x))[0].data  # (B, classes)


def evaluate(model: Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 500,
             workers: int = 1) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy (%) and predictions over a whole split, in eval mode."""
    was_training = model.training
    model.eval()
    parallel = DataParallel(model, workers)
    loss_sum, preds = 0.0, []
    with mg.no_grad():
        for x, y in iterate_batches(images, labels, batch_size):
            logits = parallel.predict(_logits, x)  # (B, classes)
            loss_sum += F.cross_entropy(mg.Tensor(logits), y).item() * len(y)
            preds.append(logits.argmax(axis=1))
    parallel.close()
    model.train(was_training)
    preds = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
    accuracy = 100.0 * float((preds == labels).mean()) if len(labels) else 0.0
    return loss_sum / max(len(labels), 1), accuracy, preds


class Trainer:
    """Runs epochs of AdamW on a model, evaluates after each, and checkpoints."""

    def __init__(self, model: Module, optimizer: Optimizer, train_data: tuple[np.ndarray, np.ndarray],
                 test_data: tuple[np.ndarray, np.ndarray], config: TrainConfig, out_dir: str | os.PathLike,
                 run_info: dict[str, Any] | None = None, progress: Callable | None = None):
        self.model, self.optimizer, self.config = model, optimizer, config
        self.train_images, self.train_labels = train_data
        self.test_images, self.test_labels = test_data
        self.out_dir = Path(out_dir)
        self.run_info = run_info or {}  # e.g. the model config, stored in checkpoints
        self.progress = progress  # a tqdm-like factory, or None for no progress bar
        self.position = Position()
        self.history: list[dict[str, float]] = []
        self.best_accuracy = -1.0
        self.elapsed = 0.0  # seconds of training + evaluation over the whole run
        self._last_step_state: dict[str, Any] | None = None  # checkpoint_state() after the last whole step
        self.steps_per_epoch = math.ceil(len(self.train_labels) / config.batch_size)
        config_of_model = getattr(model, "config", None)  # a ViT knows its classes; else count the labels
        self.num_classes = config_of_model.num_classes if config_of_model else int(self.train_labels.max()) + 1
        self.parallel = DataParallel(model, config.workers)  # workers=1: a plain forward + backward
        # The schedule scales each group's lr as the optimizer arrived (so build it with the base lr,
        # and load a checkpoint into it after this: the checkpoint holds the scheduled lr).
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.loss_fn = functools.partial(batch_loss, label_smoothing=config.label_smoothing)
        keep_freed_memory()  # each step reuses the last step's freed pages: ~30% faster (see there)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, on_epoch_end: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        """Train until `config.epochs`; on Ctrl-C save the state after the last whole step and re-raise."""
        self._last_step_state = self.checkpoint_state()
        try:
            while self.position.epoch < self.config.epochs:
                started = time.perf_counter()
                self._train_epoch()
                row = self._end_epoch(time.perf_counter() - started)
                if on_epoch_end is not None:
                    on_epoch_end(row)
        except KeyboardInterrupt:
            # Not the live state: Ctrl-C may have landed after the forward pass drew dropout masks,
            # or halfway through the optimizer's updates; resuming from that would not be exact.
            self.save_checkpoint(self._last_step_state)
            raise
        return self.history

    def _train_epoch(self) -> None:
        pos, cfg = self.position, self.config
        self.model.train()
        batches = iterate_batches(self.train_images, self.train_labels, cfg.batch_size, shuffle=True,
                                  augment=cfg.augment, seed=cfg.seed, epoch=pos.epoch, start_batch=pos.batch,
                                  mix=cfg.mix(self.num_classes))
        bar = self._progress_bar(pos)
        last = time.perf_counter()
        for x, y in batches:
            loss = self.train_step(x, y)
            now = time.perf_counter()
            dt, last = now - last, now  # the step and loading + augmenting its batch
            pos.batch += 1
            pos.loss_sum += loss * len(y)
            pos.seen += len(y)
            pos.seconds += dt
            self.elapsed += dt
            self._last_step_state = self.checkpoint_state()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{pos.loss_sum / pos.seen:.4f}", img_s=f"{len(y) / dt:.0f}")
            if cfg.checkpoint_every and pos.batch % cfg.checkpoint_every == 0 and pos.batch < self.steps_per_epoch:
                self.save_checkpoint(self._last_step_state)
        if bar is not None:
            bar.close()

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One AdamW step on a batch (lr from the schedule, gradient clipped if asked); returns the mean loss."""
        factor = self.config.lr_factor(self.position.epoch * self.steps_per_epoch + self.position.batch,
                                       self.steps_per_epoch)
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base_lr * factor
        self.optimizer.zero_grad()
        value = self.parallel.forward_backward(self.loss_fn, x, y)  # fills every parameter's .grad
        if not math.isfinite(value):
            checkpoint = self.out_dir / CHECKPOINT
            kept = f"{checkpoint} still holds the last good state" if checkpoint.is_file() else "no checkpoint yet"
            raise TrainingError(
                f"the training loss became {value} at epoch {self.position.epoch + 1}, step "
                f"{self.position.batch + 1}; stopping without saving ({kept}). Try a lower --lr."
            )
        if self.config.grad_clip:
            clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return value

    def _end_epoch(self, seconds: float) -> dict[str, float]:
        pos = self.position
        t0 = time.perf_counter()
        test_loss, accuracy, _ = evaluate(self.model, self.test_images, self.test_labels,
                                          self.config.eval_batch_size, self.config.workers)
        self.elapsed += time.perf_counter() - t0
        row = {
            "epoch": pos.epoch + 1,
            "train_loss": pos.loss_sum / max(pos.seen, 1),
            "test_loss": test_loss,
            "accuracy": accuracy,
            "lr": self.optimizer.param_groups[0]["lr"],
            "epoch_seconds": pos.seconds + (time.perf_counter() - t0),
            "train_images_per_second": pos.seen / max(pos.seconds, 1e-9),
            "elapsed_seconds": self.elapsed,
        }
        self.history.append(row)
        self.position = Position(epoch=pos.epoch + 1)
        if accuracy > self.best_accuracy:
            self.best_accuracy = accuracy
            mg.save({"model": self.model.state_dict(), "info": json.dumps(self.run_info), "epoch": row["epoch"],
                     "accuracy": accuracy}, self.out_dir / BEST)
        self._last_step_state = self.checkpoint_state()
        self.save_checkpoint(self._last_step_state)
        self.write_metrics()
        return row

    # -- persistence ---------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here, as a tree of copies that minigrad.save can write."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "position": dataclasses.asdict(self.position),
            "rng": mg_random.get_rng_state(),  # minigrad's generator: dropout masks
            "history": json.dumps(self.history),
            "best_accuracy": self.best_accuracy,
            "elapsed": self.elapsed,
            "train_config": json.dumps(dataclasses.asdict(self.config)),
            "info": json.dumps(self.run_info),
        }

    def save_checkpoint(self, state: dict[str, Any] | None = None) -> Path:
        """Write `state` (default: checkpoint_state() now) to checkpoint.npz, atomically."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / CHECKPOINT
        mg.save(state if state is not None else self.checkpoint_state(), path)
        return path

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> None:
        """Restore model, optimizer, position and RNG from a checkpoint written by save_checkpoint."""
        path = Path(path) if path is not None else self.out_dir / CHECKPOINT
        state = mg.load(path)
        saved = json.loads(state["train_config"])
        defaults = dataclasses.asdict(TrainConfig())  # for fields older checkpoints lack
        fields = ["batch_size", "seed", "augment", "workers", "lr_schedule", "warmup_epochs", "min_lr_ratio",
                  "label_smoothing", "grad_clip", "mix_prob", "mixup_alpha", "cutmix_alpha", "mix_switch_prob"]
        if self.config.lr_schedule != "constant":
            fields.append("epochs")  # the schedule's length: more epochs would change every lr so far
        checks = [(field, saved.get(field, defaults[field]), getattr(self.config, field)) for field in fields]
        saved_model = json.loads(state["info"]).get("model_config", {})
        checks += [(k, saved_model[k], v) for k, v in self.run_info.get("model_config", {}).items() if k in saved_model]
        for field, theirs, ours in checks:
            if theirs != ours:
                raise ValueError(f"--resume: the checkpoint {path} was made with {field}={theirs!r}, "
                                 f"this run has {field}={ours!r}; they must match "
                                 "for the run to continue exactly")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.position = Position(**state["position"])
        mg_random.set_rng_state(state["rng"])
        self.history = json.loads(state["history"])
        self.best_accuracy = float(state["best_accuracy"])
        self.elapsed = float(state["elapsed"])

    def write_metrics(self) -> None:
        """Rewrite metrics.csv from the history (so a resumed run never duplicates rows)."""
        tmp = self.out_dir / (METRICS + ".tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
            writer.writeheader()
            for row in self.history:
                writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        os.replace(tmp, self.out_dir / METRICS)

    def _progress_bar(self, pos: Position) -> Any:
        if self.progress is None:
            return None
        return self.progress(total=self.steps_per_epoch, initial=pos.batch, leave=False, file=sys.stderr,
                             desc=f"Epoch {pos.epoch + 1}/{self.config.epochs}", unit="step")
