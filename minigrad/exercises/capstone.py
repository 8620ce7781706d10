"""The capstone: your backward passes train the tutorial's Vision Transformer.

Run it in an exercises workspace once every exercise passes: `python capstone.py` (`python -m
minigrad.exercises check` runs it then). The `minigrad` it imports is the workspace's copy, which has
no kernels: every gradient of this training comes from a backward you wrote.

The data are generated, so that the run is quick and the same every time: CIFAR-10's shapes (10
classes of 3 x 32 x 32 images), each class a blocky colour pattern of its own under noise. The model
is vit_np's ViTForClassification with the tutorial's config but 8 x 8 patches and 2 blocks (not 4 x 4
and 4), trained as the tutorial trains it, AdamW on the cross-entropy, for 120 steps (lr 5e-3, not 1e-3).

In the exercise tools this file is minigrad/exercises/capstone.py; `new` copies it into the workspace.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from vit_np.model import ViTForClassification

HERE = Path(__file__).resolve().parent
CLASSES, SIDE = 10, 32
CONFIG = {"patch_size": 8, "hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 4 * 48, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
          "initializer_range": 0.02, "image_size": SIDE, "num_classes": CLASSES, "num_channels": 3,
          "qkv_bias": True, "use_faster_attention": True}  # (B, 3, 32, 32) -> 16 patches + [CLS] = 17 tokens
N_TRAIN, N_TEST, BATCH, EPOCHS, LR = 768, 256, 32, 5, 5e-3
# "Trained" means both. minigrad's own backward passes, from 16 other initial weights, end at a loss of
# 0.42 at most and an accuracy of 0.86 at least; a run whose weights do not move stays at 2.30 and 0.11.
# The bounds leave room for a correct backward whose rounding differs, and none for no training.
MAX_LOSS = 0.8  # the last epoch's mean training loss; an untrained model's is log(10) = 2.30
MIN_ACCURACY = 0.7  # on held-out images; chance is 0.1


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n noisy images of the class patterns: (n, 3, 32, 32) float32 and their labels (n,) int64."""
    signs = np.random.default_rng(0).choice([-1.0, 1.0], size=(CLASSES, 3, 4, 4))  # the same for every seed
    patterns = 1.5 * np.kron(signs, np.ones((SIDE // 4, SIDE // 4)))  # (10, 3, 4, 4) -> (10, 3, 32, 32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = patterns[labels] + rng.normal(0.0, 1.0, (n, 3, SIDE, SIDE))  # pattern +-1.5, noise std 1
    return images.astype(np.float32), labels


def train() -> tuple[float, float, float, int]:
    """The tutorial's training loop, short -> (first batch's loss, last epoch's mean loss, test accuracy, steps)."""
    images, labels = make_images(N_TRAIN, seed=1)
    test_images, test_labels = make_images(N_TEST, seed=2)
    mg.manual_seed(0)  # the initial weights
    model = ViTForClassification(CONFIG)
    optimizer = optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    order = np.random.default_rng(3)
    losses: list[float] = []
    for epoch in range(EPOCHS):
        model.train()
        epoch_losses = []
        for batch in np.split(order.permutation(N_TRAIN), N_TRAIN // BATCH):
            logits, _ = model(mg.tensor(images[batch]))  # (B, 3, 32, 32) -> (B, 10)
            loss = loss_fn(logits, mg.tensor(labels[batch]))
            optimizer.zero_grad()
            loss.backward()  # every op's backward: yours
            optimizer.step()
            epoch_losses.append(loss.item())
            if not np.isfinite(epoch_losses[-1]):  # diverged: the run has failed, stop here
                break
        losses += epoch_losses
        print(f"epoch {epoch + 1}/{EPOCHS}: mean training loss {np.mean(epoch_losses):.3f}", flush=True)
        if not np.isfinite(losses[-1]):
            break
    model.eval()
    with mg.no_grad():
        predicted = model(mg.tensor(test_images))[0].argmax(dim=-1).numpy()
    return losses[0], float(np.mean(epoch_losses)), float(np.mean(predicted == test_labels)), len(losses)


def main() -> int:
    yours = Path(mg.__file__).resolve().parent == HERE / "minigrad"
    whose = "your backward passes" if yours else f"the backward passes of {Path(mg.__file__).parent} (no workspace)"
    print(f"Training the tutorial's ViT ({CONFIG['num_hidden_layers']} blocks, {CONFIG['hidden_size']} wide) "
          f"on {N_TRAIN} generated images of {CLASSES} classes, {EPOCHS} epochs, with {whose}.", flush=True)
    start = time.perf_counter()
    try:
        first, last, accuracy, steps = train()
    except NotImplementedError as err:
        print(f"Not yet: training reached a backward that is not written ({err}). Every exercise must pass "
              f"first: python -m minigrad.exercises check {HERE}")
        return 1
    seconds = time.perf_counter() - start
    result = (f"loss {first:.2f} -> {last:.3f} in {steps} steps, test accuracy {accuracy:.0%} (chance "
              f"{1 / CLASSES:.0%}), {seconds:.0f} s")
    if last <= MAX_LOSS and accuracy >= MIN_ACCURACY:
        print(f"{'Your' if yours else 'These'} backward passes trained this ViT: {result}.")
        return 0
    print(f"This ViT did not learn: {result}. Trained means a last-epoch loss of at most {MAX_LOSS} and a "
          f"test accuracy of at least {MIN_ACCURACY:.0%}. If every exercise passes its tests, look for a backward "
          "that is right on their small cases but not in general (a larger batch, other shapes, float32).")
    return 1


if __name__ == "__main__":
    sys.exit(main())
