"""Training the ViT: the tutorial's loop, evaluation, and checkpoints that resume exactly.

One step is the tutorial's, line for line:

    optimizer.zero_grad()
    logits, _ = model(x)
    loss = criterion(logits, y)
    loss.backward()
    clip_grad_norm_(...)            # only with grad_clip
    optimizer.step()
    scheduler.step()                # the learning rate of the next step

A run lives in one output directory:
    checkpoint.npz   model + optimizer + schedule + position in the run + dropout RNG + the settings and
                     a fingerprint of the data (written atomically at every epoch end, every
                     `checkpoint_every` steps, and on Ctrl-C; Ctrl-C saves the state after the last whole
                     step, wherever inside a step it landed)
    best.npz         the model weights with the best test accuracy so far
    metrics.csv      one row per epoch (with test_crops=9, a tta_accuracy column: the last epoch's
                     test on 9 crops of each image)
A resumed run continues with the same batches, augmentation and dropout masks as an uninterrupted
one, and the kernels give the same bits on any number of threads, so both end on the same weights.
Resuming checks the whole checkpoint before it changes anything (vit_np.checkpoint): a damaged or
foreign file, or one made with other settings or other data, is refused and the Trainer is untouched.

When the disk or the OS refuses a write (full disk, read-only or vanished directory, no permission),
the file it was to replace is left whole. A save inside the run (every `checkpoint_every` steps, at an
epoch end) prints one warning line and training goes on: the next save tries again. The saves at the
end of the last epoch and on Ctrl-C raise CheckpointWriteError: the run stops, and the message says
what the checkpoint still holds.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import numbers
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.nn.utils import clip_grad_norm_
from minigrad.optim.lr_scheduler import LambdaLR, warmup_cosine
from minigrad import random as mg_random
from vit_np import autoaugment, checkpoint
from vit_np.augment import Mix, shifted_crops
from vit_np.config import ViTConfig
from vit_np.data import DataLoader, training_transform
from vit_np.model import PatchDropout
from vit_np.runs import BEST, CHECKPOINT, METRICS, RunInUse, RunLock, fingerprint, os_error_cause
from vit_np.settings import FREE, SCHEDULED, resume_mismatches, setting

METRIC_FIELDS = ["epoch", "train_loss", "test_loss", "accuracy", "lr", "epoch_seconds",
                 "train_images_per_second", "elapsed_seconds"]
TTA_FIELD = "tta_accuracy"  # the last epoch's test on 9 crops (test_crops=9); nan in the other rows
AUGMENTATIONS = ("tutorial", "crop-flip", "crop-flip-trivial", "crop-flip-randaugment", "none")
LR_SCHEDULES = ("constant", "warmup-cosine")


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the last checkpoint is left intact."""


class CheckpointWriteError(TrainingError):
    """The disk or the OS refused to write a checkpoint; the file it was to replace is intact."""


@dataclass
class TrainConfig:
    """Every setting of a training run, each declared once (examples/train_cifar.py makes a flag of
    each). The defaults are the tutorial's recipe; the longer recipes override some of them."""

    epochs: int = setting(15, "passes over the training set", resume=SCHEDULED)
    batch_size: int = setting(256, "images per optimizer step")
    lr: float = setting(1e-3, "AdamW learning rate (the peak, under a schedule)")
    weight_decay: float = setting(1e-2, "AdamW decoupled weight decay")
    decay_exclusions: bool = setting(False, "no weight decay on biases, LayerNorm weights, [CLS] and position embeddings")
    seed: int = setting(0, "seeds the model init, batch order, augmentation and dropout")
    augment: str = setting("tutorial", "training augmentation: the tutorial's flip + random resized crop, "
                           "RandomCrop(32, padding=4) + flip, and that plus TrivialAugmentWide or RandAugment",
                           choices=AUGMENTATIONS)
    randaugment_num_ops: int = setting(2, "RandAugment's num_ops: ops applied in turn to each image "
                                       "(augment crop-flip-randaugment only)")
    randaugment_magnitude: int = setting(9, "RandAugment's magnitude bin, 0-30: how strong each op is "
                                         "(augment crop-flip-randaugment only)")
    lr_schedule: str = setting("constant", "learning rate over the run (set at every step)", choices=LR_SCHEDULES)
    warmup_epochs: float = setting(0.0, "length of the linear warmup (warmup-cosine)")
    min_lr_ratio: float = setting(0.0, "warmup-cosine ends at lr x this")
    label_smoothing: float = setting(0.0, "cross-entropy against (1 - s) one_hot + s / classes")
    grad_clip: float = setting(0.0, "clip the gradient's global 2-norm to this before each step (0: off)")
    mix_prob: float = setting(0.0, "chance that a batch is mixed by MixUp or CutMix (0: never)")
    mixup_alpha: float = setting(0.8, "MixUp's lam ~ Beta(alpha, alpha)")
    cutmix_alpha: float = setting(1.0, "CutMix's lam ~ Beta(alpha, alpha)")
    mix_switch_prob: float = setting(0.5, "chance that a mixed batch uses CutMix rather than MixUp")
    unmixed_epochs: int = setting(0, "mix no batch in the first N epochs (mix_prob applies from epoch N + 1 on)")
    full_patch_epochs: int = setting(0, "train the last N epochs on every patch (the model's PatchDropout "
                                     "off), as the test sees them")
    patch_drop_ramp: float = setting(0.0, "PatchDropout's rate falls linearly by this over the epochs that drop "
                                     "patches, from the model's patch_drop_rate + ramp / 2 to its rate - ramp / 2 "
                                     "(the same patches on average; 0: the rate stays)")
    eval_batch_size: int = setting(500, "images per forward pass when evaluating", resume=FREE)
    test_crops: int = setting(1, "after the last epoch, also test each image as the mean logits of 9 crops "
                              "(a 3 x 3 grid of the padded random crops, shifted 0 or 2 pixels each way; "
                              "vit_np.augment.shifted_crops), recorded as tta_accuracy (1: off)", choices=(1, 9),
                              resume=FREE)
    eval_every: int = setting(1, "evaluate on the test set every N epochs, and after the last", resume=FREE)
    checkpoint_every: int = setting(50, "also checkpoint every N steps inside an epoch (0: epoch ends only)",
                                    resume=FREE)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size", "eval_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"TrainConfig: {name} must be a positive integer, got {value!r}")
        if not _is_int(self.seed) or self.seed < 0:  # NumPy's generators take no negative seed
            raise ValueError(f"TrainConfig: seed must be an integer >= 0, got {self.seed!r}")
        rules = [("lr", self.lr > 0, "> 0"), ("weight_decay", self.weight_decay >= 0, ">= 0"),
                 ("checkpoint_every", self.checkpoint_every >= 0, ">= 0 (0: epoch ends only)"),
                 ("warmup_epochs", 0 <= self.warmup_epochs <= self.epochs, f"in [0, epochs={self.epochs}]"),
                 ("min_lr_ratio", 0 <= self.min_lr_ratio <= 1, "in [0, 1]"),
                 ("label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)"),
                 ("grad_clip", self.grad_clip >= 0, ">= 0 (0: off)"), ("mix_prob", 0 <= self.mix_prob <= 1, "in [0, 1]"),
                 ("patch_drop_ramp", 0 <= self.patch_drop_ramp < 1, "in [0, 1)"),
                 ("test_crops", _is_int(self.test_crops) and self.test_crops in (1, 9), "1 (off) or 9"),
                 ("randaugment_num_ops", _is_int(self.randaugment_num_ops) and self.randaugment_num_ops >= 0,
                  "an integer >= 0"),
                 ("randaugment_magnitude", _is_int(self.randaugment_magnitude)
                  and 0 <= self.randaugment_magnitude <= autoaugment.NUM_BINS - 1,
                  f"an integer in [0, {autoaugment.NUM_BINS - 1}]"),
                 *((name, _is_int(getattr(self, name)) and 0 <= getattr(self, name) <= self.epochs,
                    f"an integer in [0, epochs={self.epochs}]")
                   for name in ("full_patch_epochs", "unmixed_epochs"))]
        for name, ok, rule in rules:
            if not ok:
                raise ValueError(f"TrainConfig: {name} must be {rule}, got {getattr(self, name)!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"TrainConfig: lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        try:
            training_transform(self.augment, self.randaugment_num_ops, self.randaugment_magnitude)
            self.mix(10)
        except ValueError as err:
            raise ValueError(f"TrainConfig: {err}") from None
        for name in ("randaugment_num_ops", "randaugment_magnitude"):
            default = self.__dataclass_fields__[name].default
            if self.augment != "crop-flip-randaugment" and getattr(self, name) != default:
                raise ValueError(f"TrainConfig: {name}={getattr(self, name)!r} applies only to augment="
                                 f"'crop-flip-randaugment', not augment={self.augment!r}")

    def patch_drop_rate(self, rate: float, epoch: int) -> float:
        """PatchDropout's rate in `epoch` (from 0) for a model built with `rate`: rate + ramp / 2 in the
        first epoch, falling linearly to rate - ramp / 2 in the last one that drops patches."""
        dropping = self.epochs - self.full_patch_epochs
        return rate + self.patch_drop_ramp * (0.5 - epoch / (dropping - 1)) if dropping > 1 else rate

    def mix(self, num_classes: int) -> Mix | None:
        """The batch mixing these settings ask for, or None."""
        if not self.mix_prob:
            return None
        return Mix(num_classes, self.mixup_alpha, self.cutmix_alpha, self.mix_prob, self.mix_switch_prob)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups that decay only the weight matrices: biases, LayerNorm weights, the [CLS] token and
    the position embeddings get weight_decay 0 (shrinking them towards 0 has no regularizing meaning).

    A parameter decays when it has 2 or more dimensions and is not an embedding; names follow the model's.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        embedding = name.endswith(("cls_token", "position_embeddings"))
        (decay if p.ndim >= 2 and not embedding else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, config: TrainConfig) -> optim.AdamW:
    """The tutorial's AdamW(model.parameters(), lr, weight_decay), or two groups with decay_exclusions."""
    params = param_groups(model, config.weight_decay) if config.decay_exclusions else model.parameters()
    return optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(optimizer: optim.Optimizer, config: TrainConfig, steps_per_epoch: int) -> LambdaLR:
    """The learning rate of every step: constant, or linear warmup then a half cosine (warmup_cosine)."""
    if config.lr_schedule == "constant":
        return LambdaLR(optimizer, lambda step: 1.0)
    warmup = round(config.warmup_epochs * steps_per_epoch)
    return warmup_cosine(optimizer, warmup, config.epochs * steps_per_epoch, config.min_lr_ratio)


def cross_entropy_loss(label_smoothing: float = 0.0) -> Callable[[mg.Tensor, mg.Tensor], mg.Tensor]:
    """criterion(logits, targets) -> the mean cross-entropy (targets: class indices or probabilities)."""
    return lambda logits, targets: F.cross_entropy(logits, targets, label_smoothing=label_smoothing)


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray,
             batch_size: int = TrainConfig.eval_batch_size, crops: int = 1) -> tuple[float, float, np.ndarray]:
    """The tutorial's evaluate(): mean cross-entropy, accuracy (%) and predictions, in eval mode.

    crops=9: test-time augmentation, each image's logits the mean over its 9 views (vit_np.augment.shifted_crops).
    """
    if crops not in (1, 9):
        raise ValueError(f"evaluate: crops must be 1 or 9, got {crops!r}")
    was_training = model.training
    model.eval()
    criterion = cross_entropy_loss()
    loss_sum, predictions = 0.0, []
    with mg.no_grad():
        for x, y in DataLoader(images, labels, batch_size):
            if crops == 1:
                logits, _ = model(mg.Tensor(x))  # (B, classes)
            else:  # the mean of the views' logits: 9 x (B, classes) -> (B, classes)
                logits = mg.Tensor(np.mean([model(mg.Tensor(v))[0].numpy() for v in shifted_crops(x)], axis=0))
            loss_sum += criterion(logits, mg.Tensor(y)).item() * len(y)
            predictions.append(logits.numpy().argmax(axis=1))
    model.train(was_training)
    predictions = np.concatenate(predictions) if predictions else np.zeros(0, dtype=np.int64)
    accuracy = 100.0 * float((predictions == labels).mean()) if len(labels) else 0.0
    return loss_sum / max(len(labels), 1), accuracy, predictions


@dataclass
class Position:
    """Where a run is: inside `epoch` (0-based), after `batch` steps, with running sums."""

    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0  # sum over the epoch's steps so far of loss * batch size
    seen: int = 0  # training images seen this epoch
    seconds: float = 0.0  # training seconds spent this epoch


class Trainer:
    """Runs epochs of the tutorial's loop on a model, evaluates every `eval_every` epochs and after the
    last, and checkpoints.

    settings: more dataclasses of setting() fields that a resumed run must respect, by name (the model's
    ViTConfig is "model_config", added when the model has one); stored in the checkpoints' info with run_info.
    warn: prints a line about a save that failed while training went on (default: to stderr).
    """

    def __init__(self, model: nn.Module, train_data: tuple[np.ndarray, np.ndarray],
                 test_data: tuple[np.ndarray, np.ndarray], config: TrainConfig, out_dir: str | os.PathLike,
                 run_info: dict[str, Any] | None = None, progress: Callable | None = None,
                 settings: dict[str, Any] | None = None, warn: Callable[[str], None] | None = None):
        self.model, self.config = model, config
        self.train_images, self.train_labels = train_data
        self.test_images, self.test_labels = test_data
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        model_config = {"model_config": model.config} if isinstance(getattr(model, "config", None), ViTConfig) else {}
        self.settings = {**model_config, **(settings or {})}
        self.run_info = {**(run_info or {}), **{k: dataclasses.asdict(v) for k, v in self.settings.items()}}
        self.data = {"train": fingerprint(*train_data), "test": fingerprint(*test_data)}  # compared on resume
        self.progress = progress  # a tqdm-like factory, or None for no progress bar
        self.warn = warn or (lambda line: print(line, file=sys.stderr, flush=True))
        config_of_model = getattr(model, "config", None)  # a ViT knows its classes; else count the labels
        num_classes = config_of_model.num_classes if config_of_model else int(self.train_labels.max()) + 1
        self.mix = config.mix(num_classes)
        self.patch_drops = {m: m.p for m in model.modules() if isinstance(m, PatchDropout)}  # module: its own rate
        half, rates = config.patch_drop_ramp / 2, sorted(set(self.patch_drops.values()))
        if half and (not rates or any(p - half < 0 or p + half >= 1 for p in rates)):
            raise ValueError(f"TrainConfig: patch_drop_ramp={config.patch_drop_ramp} needs a model whose PatchDropout "
                             f"rates p all keep p +- ramp / 2 in [0, 1); this model's: {rates or 'no PatchDropout'}")
        self.loader = DataLoader(self.train_images, self.train_labels, config.batch_size, shuffle=True,
                                 augment=config.augment, seed=config.seed, mix=self.mix,
                                 randaugment_num_ops=config.randaugment_num_ops,
                                 randaugment_magnitude=config.randaugment_magnitude)
        self.steps_per_epoch = len(self.loader)
        self.optimizer = make_optimizer(model, config)
        self.scheduler = make_scheduler(self.optimizer, config, self.steps_per_epoch)
        self.criterion = cross_entropy_loss(config.label_smoothing)
        self.position = Position()
        self.history: list[dict[str, float]] = []
        self.best_accuracy = -1.0
        self.elapsed = 0.0  # seconds of training + evaluation over the whole run
        self._last_step_state: dict[str, Any] | None = None  # checkpoint_state() after the last whole step
        self._saved_position: dict[str, Any] | None = None  # where the last checkpoint written (or loaded) is

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, on_epoch_end: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        """Train until `config.epochs`; on Ctrl-C save the state after the last whole step and re-raise.
        The out-dir is locked meanwhile: a second run in it is refused (TrainingError)."""
        try:
            with RunLock(self.out_dir):
                return self._fit(on_epoch_end)
        except RunInUse as err:
            raise TrainingError(str(err)) from None

    def _fit(self, on_epoch_end: Callable[[dict[str, float]], None] | None) -> list[dict[str, float]]:
        self._last_step_state = self.checkpoint_state()
        if self.history:  # resumed: metrics.csv as the checkpoint knows it (a kill may have come between the two)
            self._write_metrics_or_warn()
        try:
            while self.position.epoch < self.config.epochs:
                self._train_epoch()
                row = self._end_epoch()
                if on_epoch_end is not None:
                    on_epoch_end(row)
        except KeyboardInterrupt:
            # Not the live state: Ctrl-C may have landed after the forward pass drew dropout masks,
            # or halfway through the optimizer's updates; resuming from that would not be exact.
            try:
                self.save_checkpoint(self._last_step_state)
            except CheckpointWriteError as err:
                raise CheckpointWriteError(f"interrupted, and {err}") from None
            raise
        finally:
            for module, rate in self.patch_drops.items():
                module.p = rate  # the model's own rate again (patch_drop_ramp set each epoch's)
        return self.history

    def _train_epoch(self) -> None:
        pos, every = self.position, self.config.checkpoint_every
        self.model.train()
        for module, rate in self.patch_drops.items():
            module.p = self.config.patch_drop_rate(rate, pos.epoch)
        if pos.epoch >= self.config.epochs - self.config.full_patch_epochs:  # the last epochs see every patch
            for module in self.patch_drops:
                module.eval()  # PatchDropout in eval mode passes every token through
        self.loader.mix = self.mix if pos.epoch >= self.config.unmixed_epochs else None
        self.loader.set_epoch(pos.epoch)
        bar = self._progress_bar(pos)
        last = time.perf_counter()
        for x, y in self.loader.batches(start=pos.batch):
            loss = self.train_step(x, y)
            now = time.perf_counter()
            dt, last = now - last, now  # the step and loading + augmenting its batch
            pos.batch, pos.loss_sum, pos.seen, pos.seconds = pos.batch + 1, pos.loss_sum + loss * len(y), \
                pos.seen + len(y), pos.seconds + dt
            self.elapsed += dt
            self._last_step_state = self.checkpoint_state()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{pos.loss_sum / pos.seen:.4f}", img_s=f"{len(y) / dt:.0f}")
            if every and pos.batch % every == 0 and pos.batch < self.steps_per_epoch:
                self._save_or_warn(self._last_step_state)
        if bar is not None:
            bar.close()

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One step of the tutorial's loop (plus clipping and the schedule); returns the batch's mean loss."""
        self.optimizer.zero_grad()
        logits, _ = self.model(mg.Tensor(x))  # (B, 3, 32, 32) -> (B, classes)
        loss = self.criterion(logits, mg.Tensor(y))
        value = loss.item()
        self._check_finite(value)
        loss.backward()
        if self.config.grad_clip:
            clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()  # the learning rate of the next step
        return value

    def _check_finite(self, value: float) -> None:
        if not math.isfinite(value):
            checkpoint = self.out_dir / CHECKPOINT
            kept = f"{checkpoint} still holds the last good state" if checkpoint.is_file() else "no checkpoint yet"
            raise TrainingError(f"the training loss became {value} at epoch {self.position.epoch + 1}, step "
                                f"{self.position.batch + 1}; stopping without saving ({kept}). Try a lower --lr.")

    def last_step_lr(self) -> float:
        """The learning rate the last step used (the optimizer already holds the next step's)."""
        s = self.scheduler
        return s.lr_at(s.base_lrs[0], max(s.last_epoch - 1, 0), 0)

    def _end_epoch(self) -> dict[str, float]:
        """Evaluate (every eval_every epochs and after the last; else test_loss and accuracy are NaN),
        then record the epoch, save best.npz if it is the best so far, checkpoint and write metrics."""
        pos = self.position
        t0 = time.perf_counter()
        test_loss = accuracy = math.nan
        last = pos.epoch + 1 == self.config.epochs
        if (pos.epoch + 1) % self.config.eval_every == 0 or last:
            test_loss, accuracy, _ = evaluate(self.model, self.test_images, self.test_labels,
                                              self.config.eval_batch_size)
        extra = {}
        if last and self.config.test_crops > 1:  # the views' test counts in the run's time
            extra[TTA_FIELD] = evaluate(self.model, self.test_images, self.test_labels,
                                        self.config.eval_batch_size, crops=self.config.test_crops)[1]
        self.elapsed += time.perf_counter() - t0
        row = {"epoch": pos.epoch + 1, "train_loss": pos.loss_sum / max(pos.seen, 1), "test_loss": test_loss,
               "accuracy": accuracy, "lr": self.last_step_lr(),
               "epoch_seconds": pos.seconds + (time.perf_counter() - t0),
               "train_images_per_second": pos.seen / max(pos.seconds, 1e-9), "elapsed_seconds": self.elapsed,
               **extra}
        self.history.append(row)
        self.position = Position(epoch=pos.epoch + 1)
        if accuracy > self.best_accuracy:  # recorded only once written: a failed write is retried next epoch
            try:
                self._write(self.out_dir / BEST, {"model": self.model.state_dict(), "info": json.dumps(self.run_info),
                                                  "epoch": row["epoch"], "accuracy": accuracy})
                self.best_accuracy = accuracy
            except CheckpointWriteError as err:
                if last:
                    raise
                self.warn(f"warning: {err}; training goes on")
        self._last_step_state = self.checkpoint_state()
        if last:  # the run's result: if it cannot be saved, stop and say so
            self.save_checkpoint(self._last_step_state)
        else:
            self._save_or_warn(self._last_step_state)
        self._write_metrics_or_warn()
        return row

    # -- persistence ---------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here, as a tree of copies that minigrad.save can write."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": json.dumps(self.scheduler.state_dict()),
            "position": dataclasses.asdict(self.position),
            "rng": mg_random.get_rng_state(),  # minigrad's generator: dropout masks
            "history": json.dumps(self.history),
            "best_accuracy": self.best_accuracy,
            "elapsed": self.elapsed,
            "train_config": json.dumps(dataclasses.asdict(self.config)),
            "info": json.dumps(self.run_info),
            "data": dict(self.data),  # fingerprints of the training and test data: a resume must see the same
        }

    def save_checkpoint(self, state: dict[str, Any] | None = None) -> Path:
        """Write `state` (default: checkpoint_state() now) to checkpoint.npz, atomically; CheckpointWriteError
        (the file, the cause, what the file still holds) if the disk or the OS refuses."""
        state = state if state is not None else self.checkpoint_state()
        path = self.out_dir / CHECKPOINT
        self._write(path, state)
        self._saved_position = state["position"]
        return path

    def _write(self, path: Path, tree: dict[str, Any]) -> None:
        try:
            mg.save(tree, path)  # a temporary file renamed over path: a failed write leaves path as it was
        except OSError as err:
            if path.name == CHECKPOINT and self._saved_position is not None and path.is_file():
                at = self._saved_position
                kept = f"it still holds epoch {at['epoch'] + 1}, step {at['batch']}"
            else:
                kept = "the previous one is intact" if path.is_file() else "no earlier one exists"
            raise CheckpointWriteError(f"could not write {path} ({os_error_cause(err, self.out_dir)}); {kept}") from None

    def _save_or_warn(self, state: dict[str, Any]) -> None:
        """A save inside the run: if it fails, say so in one line and go on (the next save tries again)."""
        try:
            self.save_checkpoint(state)
        except CheckpointWriteError as err:
            self.warn(f"warning: {err}; training goes on and the next save tries again")

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> None:
        """Restore model, optimizer, schedule, position and RNG from a checkpoint written by save_checkpoint.

        All or nothing: the whole file is checked first. A ValueError names every setting (or the data) the
        checkpoint was made with differently; a vit_np.checkpoint.CheckpointError names the file and what is
        wrong with it (missing entry, wrong type or shape, ...). Either way nothing has changed."""
        path = Path(path) if path is not None else self.out_dir / CHECKPOINT
        state = checkpoint.read(path)
        mismatches = self._resume_mismatches(state, path)
        if mismatches:
            raise ValueError(f"--resume: the checkpoint {path} was made with " + ", ".join(
                f"{field}={theirs!r} (this run: {ours!r})" for field, theirs, ours in mismatches)
                + "; they must match for the run to continue exactly")
        checked = self._check_state(state, path)
        self.model.load_state_dict(checked["model"])  # checked: from here on nothing can fail
        self.optimizer.load_state_dict(checked["optimizer"])
        self.scheduler.load_state_dict(checked["scheduler"])
        self.position = Position(**checked["position"])
        mg_random.set_rng_state(checked["rng"])
        self.history, self.best_accuracy, self.elapsed = checked["history"], checked["best_accuracy"], checked["elapsed"]
        self._saved_position = checked["position"]

    def _resume_mismatches(self, state: dict[str, Any], path: Path) -> list[tuple[str, Any, Any]]:
        """(field, checkpoint's value, this run's) for each setting that must match and does not, and for the data
        (its fingerprint). A checkpoint older than a group of settings, or than the fingerprints, is not asked."""
        scheduled = self.config.lr_schedule != "constant"
        out = resume_mismatches(checkpoint.json_entry(state, "train_config", dict, path), self.config, scheduled)
        info = checkpoint.json_entry(state, "info", dict, path)
        for name, current in self.settings.items():
            if name in info:
                out += resume_mismatches(checkpoint.entry(info, name, dict, path, "info"), current, scheduled)
        if "data" in state:
            checkpoint.check_like(state["data"], self.data, "data", path)
            out += [(f"{split}_data", state["data"][split], ours) for split, ours in self.data.items()
                    if state["data"][split] != ours]
        return out

    def _check_state(self, state: dict[str, Any], path: Path) -> dict[str, Any]:
        """Every entry load_checkpoint restores, checked against this Trainer's model, optimizer and schedule."""
        entry = checkpoint.entry
        checkpoint.check_arrays(entry(state, "model", dict, path), self.model.state_dict(), "model", path)
        position = entry(state, "position", dict, path)
        checkpoint.check_like(position, dataclasses.asdict(Position()), "position", path)
        if not (position["epoch"] >= 0 and 0 <= position["batch"] < self.steps_per_epoch and position["seen"] >= 0
                and min(position["loss_sum"], position["seconds"]) >= 0):
            raise checkpoint.CheckpointError(path, f"'position' {position} is not a place in a run of "
                                                   f"{self.steps_per_epoch} steps per epoch")
        steps = position["epoch"] * self.steps_per_epoch + position["batch"]
        adamw = ("step", "exp_avg", "exp_avg_sq") + ("max_exp_avg_sq",) * self.optimizer.defaults["amsgrad"]
        history = checkpoint.json_entry(state, "history", list, path)
        if len(history) != position["epoch"] or not all(
                isinstance(row, dict) and all(isinstance(row.get(k), int | float) for k in METRIC_FIELDS) for row in history):
            raise checkpoint.CheckpointError(path, f"'history' is not {position['epoch']} rows of {', '.join(METRIC_FIELDS)}")
        return {"model": state["model"], "position": position, "history": history,
                "optimizer": checkpoint.optimizer_state(entry(state, "optimizer", dict, path), self.optimizer, adamw, path),
                "scheduler": checkpoint.scheduler_state(checkpoint.json_entry(state, "scheduler", dict, path),
                                                        self.scheduler, steps, path),
                "rng": checkpoint.rng_state(entry(state, "rng", str, path), path),
                "best_accuracy": float(entry(state, "best_accuracy", numbers.Real, path)),
                "elapsed": float(entry(state, "elapsed", numbers.Real, path))}

    def write_metrics(self) -> None:
        """Rewrite metrics.csv from the history (so a resumed run never duplicates rows)."""
        tmp = self.out_dir / (METRICS + ".tmp")
        tested_crops = any(TTA_FIELD in row for row in self.history)  # the column only in runs that have it
        try:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=METRIC_FIELDS + [TTA_FIELD] * tested_crops, restval="nan")
                writer.writeheader()
                for row in self.history:
                    writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
            os.replace(tmp, self.out_dir / METRICS)
        except OSError:
            if tmp.exists():  # a half-written metrics.csv.tmp (the disk filled up)
                tmp.unlink()
            raise

    def _write_metrics_or_warn(self) -> None:
        try:
            self.write_metrics()
        except OSError as err:
            self.warn(f"warning: could not write {self.out_dir / METRICS} ({os_error_cause(err, self.out_dir)}); "
                      "the checkpoint holds its rows, and the next epoch (or --resume) writes it again")

    def _progress_bar(self, pos: Position) -> Any:
        if self.progress is None:
            return None
        return self.progress(total=self.steps_per_epoch, initial=pos.batch, leave=False, file=sys.stderr,
                             desc=f"Epoch {pos.epoch + 1}/{self.config.epochs}", unit="step")
