"""The fast-cpu recipe (examples/train_cifar.py --recipe fast-cpu), piece by piece against PyTorch.

Its pieces: RandomCrop(32, padding=4) + flip, a linear warmup then cosine learning rate, label
smoothing, gradient clipping, and AdamW parameter groups without weight decay on biases, norms
and embeddings. Each is checked against what PyTorch does with the same inputs; then the
Trainer's whole step (all of them at once) against a PyTorch loop, and the recipe's command line.
"""
import dataclasses
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import minigrad as mg
from cifar_fixture import make_cifar
from minigrad.testing import DTYPES, TOLERANCES, assert_close
from vit_np import torch_reference as torch_vit
from vit_np.augment import (
    crop_flip_randaugment_transform, crop_flip_transform, eval_transform, normalize, padded_crop, shifted_crops,
)
from vit_np.config import ViTConfig
from vit_np.data import DataLoader, augment_rng
from vit_np.model import ViTForClassification
from vit_np.train import TrainConfig, Trainer, evaluate, make_scheduler, param_groups

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("train_cifar", ROOT / "examples" / "train_cifar.py")
train_cifar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_cifar)

TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def images(n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


# -- RandomCrop(32, padding=4) + RandomHorizontalFlip ---------------------------------------------


def torch_crop_flip(x: np.ndarray, top, left, flip, padding=4) -> torch.Tensor:
    """What torchvision does per image: pad with zeros, crop 32x32 at (top, left), mirror if flipped,
    ToTensor (/ 255), Normalize(0.5, 0.5). Written with torch ops, one image at a time."""
    out = []
    for b in range(len(x)):
        img = torch.nn.functional.pad(torch.from_numpy(x[b]), (padding,) * 4)  # (3, 40, 40), zeros around
        img = img[:, top[b]:top[b] + 32, left[b]:left[b] + 32]
        if flip[b]:
            img = torch.flip(img, dims=[-1])
        out.append((img.float() / 255 - 0.5) / 0.5)
    return torch.stack(out)


def test_crop_flip_equals_torch_pad_crop_flip():
    x = images(8)
    rng = np.random.default_rng(3)
    ours = crop_flip_transform(x, rng)
    rng = np.random.default_rng(3)  # the documented draw order: B flips, B tops, B lefts
    flip = rng.random(8) < 0.5
    top, left = rng.integers(0, 9, size=8), rng.integers(0, 9, size=8)
    assert ours.dtype == np.float32 and ours.shape == (8, 3, 32, 32)
    np.testing.assert_array_equal(ours, torch_crop_flip(x, top, left, flip).numpy())


@pytest.mark.parametrize("top, left", [(0, 0), (8, 8), (0, 8), (4, 4), (8, 0)])
def test_padded_crop_corners_and_centre(top, left):
    """(4, 4) is the image itself; the corners show 4 rows and 4 columns of black padding."""
    x = images(2)
    for flip in (False, True):
        got = padded_crop(x, np.full(2, top), np.full(2, left), 4, np.full(2, flip))
        want = torch_crop_flip(x, [top] * 2, [left] * 2, [flip] * 2)
        np.testing.assert_array_equal(normalize(got.astype(np.float32) / np.float32(255)), want.numpy())
    np.testing.assert_array_equal(padded_crop(x, np.full(2, 4), np.full(2, 4), 4), x)


def test_crop_flip_draws_every_offset_and_flips_half():
    """Offsets uniform over 0..8 on both axes and flips with p = 0.5, within 5 standard errors."""
    x = np.zeros((1, 3, 32, 32), dtype=np.uint8)
    x[0, :, 0, 0] = 255  # one white pixel: where it lands tells the offset and the flip
    n = 4000
    rng = np.random.default_rng(0)
    positions = [np.argwhere(crop_flip_transform(x, rng)[0, 0] > 0) for _ in range(n)]
    visible = [p[0] for p in positions if len(p)]  # the pixel is cropped away when top or left < 4
    rows = np.array([r for r, _ in visible])
    cols = np.array([c for _, c in visible])
    assert set(rows) == set(range(5))  # top in 4..8 keeps the pixel, at row top - 4
    assert set(cols) == set(range(5)) | set(range(27, 32))  # and mirrored columns 31 - (left - 4)
    p_visible = (5 / 9) ** 2
    assert abs(len(visible) / n - p_visible) < 5 * np.sqrt(p_visible * (1 - p_visible) / n)
    flipped = (cols >= 27).mean()
    assert abs(flipped - 0.5) < 5 * np.sqrt(0.25 / len(cols))


def test_padded_crop_rejects_offsets_outside_the_padding():
    with pytest.raises(ValueError, match=r"padded_crop: top and left must be in \[0, 8\] for padding=4"):
        padded_crop(images(1), np.array([9]), np.array([0]), 4)


# -- test-time augmentation: each test image as the mean of its 9 crops ----------------------------------


def test_shifted_crops_are_a_3x3_grid_of_randomcrops_offsets():
    """The 9 views are RandomCrop(32, padding=4)'s crops at tops and lefts 2, 4, 6 (torch: zero pad, slice),
    row by row, the centre (the image itself) 5th; on normalized images the padding is -1, black."""
    x = images(3)
    views = shifted_crops(eval_transform(x))
    offsets = [(top, left) for top in (2, 4, 6) for left in (2, 4, 6)]
    assert len(views) == 9
    for view, (top, left) in zip(views, offsets):
        np.testing.assert_array_equal(view, torch_crop_flip(x, [top] * 3, [left] * 3, [False] * 3).numpy())
    np.testing.assert_array_equal(views[4], eval_transform(x))
    for raw, normalized in zip(shifted_crops(x, fill=0), views):  # uint8 pixels: black is 0
        assert raw.dtype == np.uint8
        np.testing.assert_array_equal(eval_transform(raw), normalized)
    with pytest.raises(ValueError, match="padded_crop: top and left must be in"):
        shifted_crops(x, shift=5)  # more than the padding


def tiny_vit(**overrides):
    mg.manual_seed(0)
    return ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                          intermediate_size=16, **overrides))  # dropout 0.1: eval mode matters


def test_evaluate_on_9_crops_averages_the_logits_of_each_images_crops():
    """Logits: the mean over the 9 crops (cut from the uint8 images, as RandomCrop does) of the model's
    logits, in batches of 4, 4, 2; the loss is the cross-entropy of those mean logits."""
    model = tiny_vit()
    x = images(10, seed=1)
    model.eval()
    with mg.no_grad():
        per_crop = [model(mg.Tensor(eval_transform(padded_crop(x, np.full(10, top), np.full(10, left), 4))))[0].numpy()
                    for top in (2, 4, 6) for left in (2, 4, 6)]  # 9 x (10, classes)
    mean = np.mean(np.array(per_crop, dtype=np.float64), axis=0)
    preds = mean.argmax(axis=1)
    labels = np.where(np.arange(10) < 4, preds, (preds + 1) % 10)  # exactly 4 of 10 right
    shifted = mean - mean.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    model.train()
    loss, accuracy, got = evaluate(model, x, labels, batch_size=4, crops=9)
    assert model.training
    np.testing.assert_array_equal(got, preds)
    assert accuracy == pytest.approx(40.0)
    assert loss == pytest.approx(-log_probs[np.arange(10), labels].mean(), rel=1e-5)
    single = per_crop[4].argmax(axis=1)  # the centre crop alone is the plain evaluation
    np.testing.assert_array_equal(evaluate(model, x, labels, batch_size=4)[2], single)
    with pytest.raises(ValueError, match="evaluate: crops must be 1 or 9, got 3"):
        evaluate(model, x, labels, crops=3)


def test_trainer_tests_the_last_epoch_on_9_crops(tmp_path):
    """test_crops=9: the last epoch's row (only) gets tta_accuracy, that of the final weights on 9 crops,
    and metrics.csv a tta_accuracy column ('nan' in the other rows); with test_crops=1 neither."""
    data = (images(8), np.arange(8) % 10)
    for crops in (9, 1):
        model = tiny_vit()
        config = TrainConfig(epochs=2, batch_size=4, eval_batch_size=8, checkpoint_every=0, test_crops=crops)
        (tmp_path / str(crops)).mkdir()
        history = Trainer(model, data, data, config, tmp_path / str(crops)).fit()
        header, *rows = (tmp_path / str(crops) / "metrics.csv").read_text().splitlines()
        if crops == 1:
            assert all("tta_accuracy" not in row for row in history) and "tta_accuracy" not in header
            continue
        assert "tta_accuracy" not in history[0] and header.endswith(",tta_accuracy") and rows[0].endswith(",nan")
        assert history[-1]["tta_accuracy"] == evaluate(model, *data, batch_size=8, crops=9)[1]
        assert float(rows[-1].split(",")[-1]) == pytest.approx(history[-1]["tta_accuracy"], rel=1e-5)
    with pytest.raises(ValueError, match="TrainConfig: test_crops must be 1 \\(off\\) or 9, got 3"):
        TrainConfig(test_crops=3)


def loader_batches(x, y, batch_size, epoch, start=0, **kwargs):
    loader = DataLoader(x, y, batch_size, **kwargs)
    loader.set_epoch(epoch)
    return list(loader.batches(start))


def test_loader_applies_the_named_transform():
    x, y = images(10), np.arange(10)
    got = loader_batches(x, y, 4, 1, shuffle=True, augment="crop-flip", seed=2)
    for b, (xb, yb) in enumerate(got):  # labels are the indices: yb names the batch's images
        np.testing.assert_array_equal(xb, crop_flip_transform(x[yb], augment_rng(2, 1, b)))
    assert sorted(np.concatenate([yb for _, yb in got])) == list(range(10))


def test_trainers_loader_applies_the_configs_randaugment_strength(tmp_path):
    """randaugment_num_ops / randaugment_magnitude reach the Trainer's batches: RandAugment(1, 5), not (2, 9)."""
    x, y = images(12), np.arange(12)
    config = TrainConfig(batch_size=4, augment="crop-flip-randaugment", randaugment_num_ops=1, randaugment_magnitude=5)
    model = ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16))
    loader = Trainer(model, (x, y), (x, y), config, tmp_path).loader
    loader.set_epoch(3)
    for b, (xb, yb) in enumerate(loader):
        want = crop_flip_randaugment_transform(x[yb], augment_rng(0, 3, b), num_ops=1, magnitude=5)
        np.testing.assert_array_equal(xb, want)
        assert not np.array_equal(xb, crop_flip_randaugment_transform(x[yb], augment_rng(0, 3, b)))  # not (2, 9)


@pytest.mark.parametrize("overrides, message", [
    (dict(augment="crop-flip-randaugment", randaugment_magnitude=31), r"magnitude must be an integer in \[0, 30\]"),
    (dict(augment="crop-flip-randaugment", randaugment_num_ops=-1), "num_ops must be an integer >= 0"),
    (dict(augment="crop-flip-randaugment", randaugment_num_ops=1.5), "num_ops must be an integer >= 0"),
    (dict(augment="crop-flip", randaugment_magnitude=5),
     "randaugment_magnitude=5 applies only to augment='crop-flip-randaugment', not augment='crop-flip'"),
    (dict(randaugment_num_ops=1), "randaugment_num_ops=1 applies only to augment='crop-flip-randaugment'"),
])
def test_randaugment_settings_are_validated_by_name(overrides, message):
    with pytest.raises(ValueError, match=f"TrainConfig: .*{message}"):
        TrainConfig(**overrides)


def test_unknown_augmentation_is_named():
    x, y = images(4), np.arange(4)
    with pytest.raises(ValueError, match=r"augment must be True, False, 'none' or one of \['crop-flip', 'crop-flip-randaugment', 'crop-flip-trivial', 'tutorial'\], got 'mixup'"):
        DataLoader(x, y, 2, augment="mixup")
    with pytest.raises(ValueError, match="augment must be"):
        TrainConfig(augment="cutout")


# -- learning rate: linear warmup, then cosine ------------------------------------------------------


@pytest.mark.parametrize("epochs, steps, warmup, min_ratio", [(6, 5, 2.0, 0.1), (3, 7, 0.5, 0.0), (4, 3, 0.0, 0.01)])
def test_warmup_cosine_equals_torch_linear_then_cosine(epochs, steps, warmup, min_ratio):
    """torch: SequentialLR(LinearLR(1/w -> 1 over w - 1 steps), CosineAnnealingLR(T_max = total - w, eta_min))."""
    lr, total, w = 2e-3, epochs * steps, round(warmup * steps)
    config = TrainConfig(epochs=epochs, lr=lr, lr_schedule="warmup-cosine", warmup_epochs=warmup, min_lr_ratio=min_ratio)
    ours = make_scheduler(mg.optim.SGD([mg.zeros(1, requires_grad=True)], lr=lr), config, steps)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - w, eta_min=lr * min_ratio)
    if w:
        linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / w, end_factor=1.0, total_iters=max(w - 1, 1))
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [linear, cosine], milestones=[w])
    else:
        sched = cosine
    for step in range(total):
        np.testing.assert_allclose(ours.get_last_lr()[0], sched.get_last_lr()[0], rtol=1e-12, atol=0)
        opt.step()
        sched.step()
        ours.step()


def test_constant_schedule_is_the_tutorials():
    sched = make_scheduler(mg.optim.SGD([mg.zeros(1, requires_grad=True)], lr=1e-3), TrainConfig(), 196)
    for _ in range(3000):
        assert sched.get_last_lr() == [1e-3]
        sched.step()


@pytest.mark.parametrize("field, value, message", [
    ("lr_schedule", "linear", "lr_schedule must be one of"), ("warmup_epochs", 20.0, r"warmup_epochs must be in \[0, epochs=15\]"),
    ("min_lr_ratio", 1.5, r"min_lr_ratio must be in \[0, 1\]"), ("label_smoothing", 1.0, r"label_smoothing must be in \[0, 1\)"),
    ("grad_clip", -1.0, "grad_clip must be >= 0"),
])
def test_recipe_fields_are_validated_by_name(field, value, message):
    with pytest.raises(ValueError, match=f"TrainConfig: {message}"):
        TrainConfig(**{field: value})


# -- weight decay only on weight matrices --------------------------------------------------------------


def test_param_groups_exclude_biases_norms_and_embeddings():
    model = ViTForClassification(ViTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32))
    decay, no_decay = param_groups(model, 0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in decay["params"])
    kept = sorted(names[id(p)] for p in no_decay["params"])
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.05, 0.0)
    assert sorted(decayed + kept) == sorted(names.values())  # every parameter, once
    assert all(n.endswith(".weight") and "layernorm" not in n for n in decayed)
    assert all(n.endswith((".bias", "cls_token", "position_embeddings")) or "layernorm" in n for n in kept)
    assert decayed == sorted(["embedding.patch_embeddings.projection.weight", "classifier.weight"] + [
        f"encoder.blocks.{i}.{layer}.weight" for i in range(2)
        for layer in ("attention.qkv_projection", "attention.output_projection", "mlp.dense_1", "mlp.dense_2")])


# -- the whole step: schedule + label smoothing + clipping + groups, against a PyTorch loop --------------


def torch_recipe_steps(model, batches, lr, weight_decay, warmup_steps, total_steps, min_ratio, smoothing, clip):
    """The same recipe in PyTorch: AdamW groups, SequentialLR, CrossEntropyLoss(label_smoothing), clip_grad_norm_."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and not n.endswith(("cls_token", "position_embeddings"))]
    no_decay = [p for n, p in model.named_parameters() if not any(p is q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warmup_steps, total_iters=max(warmup_steps - 1, 1))
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps - warmup_steps, eta_min=lr * min_ratio)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [linear, cosine], milestones=[warmup_steps])
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=smoothing)
    norms = []
    for x, y in batches:
        opt.zero_grad()
        logits, _ = model(torch.from_numpy(x))
        loss_fn(logits, torch.from_numpy(y)).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip)))
        opt.step()
        sched.step()
    return norms


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("targets", ["indices", "mixed"])
def test_trainer_steps_equal_a_pytorch_loop(dtype, targets, tmp_path):
    config = ViTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    mg.manual_seed(0)
    ours = ViTForClassification(config).to(dtype)
    theirs = torch_vit.ViTForClassfication(config.to_dict()).to(TORCH_DTYPE[dtype])
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    lr, wd, clip = 1e-2, 0.05, 0.5
    train = TrainConfig(epochs=3, batch_size=8, lr=lr, weight_decay=wd, decay_exclusions=True, lr_schedule="warmup-cosine",
                        warmup_epochs=1.0, min_lr_ratio=0.1, label_smoothing=0.1, grad_clip=clip)
    data = (images(16), np.arange(16) % 10)
    trainer = Trainer(ours, data, data, train, tmp_path)
    rng = np.random.default_rng(1)
    batches = [(rng.standard_normal((8, 3, 32, 32)).astype(dtype), rng.integers(0, 10, 8)) for _ in range(6)]
    if targets == "mixed":  # MixUp / CutMix images with class-probability labels, as --mix-prob makes them
        from vit_np.augment import Mix

        batches = [Mix(prob=1.0)(x, y, rng) for x, y in batches]
    for x, y in batches:  # 3 epochs of 2 steps: warmup over the first 2, cosine over the last 4
        trainer.train_step(x, y)
    norms = torch_recipe_steps(theirs, batches, lr, wd, 2, 6, 0.1, 0.1, clip)
    assert max(norms) > clip  # the clipping really acted
    tol = TOLERANCES[dtype]
    if dtype == np.float32:  # six steps of AdamW compound float32 rounding (an update ~ lr * sign)
        tol = dict(rtol=1e-3, atol=1e-4)
    for name, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[name], value.detach().numpy(), name, **tol)


def test_full_patch_epochs_train_the_last_epochs_on_every_patch(tmp_path):
    """PatchDropout 0.5 on 64 patches: the encoder trains on 1 + 32 tokens, then on all 65 in the last
    full_patch_epochs epochs; evaluation always sees 65."""
    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=16, patch_drop_rate=0.5))
    tokens = []  # (training?, tokens) of each encoder call
    encode = model.encoder.forward
    model.encoder.forward = lambda x, *a: (tokens.append((model.training, x.shape[1])), encode(x, *a))[1]
    data = (images(8), np.arange(8) % 10)
    config = TrainConfig(epochs=3, batch_size=4, full_patch_epochs=1, eval_batch_size=8, checkpoint_every=0)
    Trainer(model, data, data, config, tmp_path).fit()
    assert tokens == [(True, 33)] * 2 + [(False, 65)] + [(True, 33)] * 2 + [(False, 65)] + [(True, 65)] * 2 + [(False, 65)]
    with pytest.raises(ValueError, match=r"full_patch_epochs must be an integer in \[0, epochs=3\], got 4"):
        TrainConfig(epochs=3, full_patch_epochs=4)


def test_patch_drop_ramp_moves_the_rate_epoch_by_epoch(tmp_path):
    """PatchDropout 0.5 with patch_drop_ramp 0.5 over 3 dropping epochs of 4: rates 0.75, 0.5, 0.25, so
    the encoder trains on 1 + 16, 1 + 32 and 1 + 48 tokens (int(64 (1 - p))), then on all 65 in the
    full-patch epoch; the model keeps its own rate after the run."""
    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=16, patch_drop_rate=0.5))
    tokens = []  # tokens of each training call of the encoder
    encode = model.encoder.forward
    model.encoder.forward = lambda x, *a: (model.training and tokens.append(x.shape[1]), encode(x, *a))[1]
    data = (images(8), np.arange(8) % 10)
    config = TrainConfig(epochs=4, batch_size=4, full_patch_epochs=1, patch_drop_ramp=0.5, eval_batch_size=8,
                         checkpoint_every=0)
    assert [config.patch_drop_rate(0.5, e) for e in range(3)] == [0.75, 0.5, 0.25]
    Trainer(model, data, data, config, tmp_path).fit()
    assert tokens == [17] * 2 + [33] * 2 + [49] * 2 + [65] * 2
    assert model.embedding.patch_dropout.p == 0.5
    with pytest.raises(ValueError, match=r"patch_drop_ramp must be in \[0, 1\), got -0.1"):
        TrainConfig(patch_drop_ramp=-0.1)
    model = ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=16, patch_drop_rate=0.25))
    Trainer(model, data, data, dataclasses.replace(config, patch_drop_ramp=0.5), tmp_path)  # 0.5 down to 0
    for net, ramp, rates in ((model, 0.6, r"\[0.25\]"), (mg.nn.Linear(3, 10), 0.5, "no PatchDropout")):
        with pytest.raises(ValueError, match=rf"patch_drop_ramp={ramp} needs a model whose PatchDropout rates p all "
                                             rf"keep p \+- ramp / 2 in \[0, 1\); this model's: {rates}"):
            Trainer(net, data, data, dataclasses.replace(config, patch_drop_ramp=ramp), tmp_path)


def test_unmixed_epochs_mix_only_the_later_epochs(tmp_path):
    """mix_prob 1 with unmixed_epochs 1 of 3: epoch 0 trains on a plain loader's batches (class
    indices), epochs 1 and 2 on a mixing loader's (class probabilities)."""
    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=16))
    data = (images(8), np.arange(8) % 10)
    config = TrainConfig(epochs=3, batch_size=4, mix_prob=1.0, unmixed_epochs=1, eval_batch_size=8, checkpoint_every=0)
    trainer, seen = Trainer(model, data, data, config, tmp_path), []
    step = trainer.train_step
    trainer.train_step = lambda x, y: (seen.append((trainer.position.epoch, x, y)), step(x, y))[1]
    trainer.fit()
    want = []
    for epoch in range(3):
        loader = DataLoader(*data, 4, shuffle=True, augment=config.augment, seed=config.seed,
                            mix=config.mix(10) if epoch >= 1 else None)
        loader.set_epoch(epoch)
        want += [(epoch, x, y) for x, y in loader]
    assert [(e, x.shape, y.shape) for e, x, y in seen] == [(e, x.shape, y.shape) for e, x, y in want]
    assert [y.ndim for _, _, y in seen] == [1, 1, 2, 2, 2, 2]
    for (_, x, y), (_, wx, wy) in zip(seen, want):
        np.testing.assert_array_equal(x, wx)
        np.testing.assert_array_equal(y, wy)
    with pytest.raises(ValueError, match=r"unmixed_epochs must be an integer in \[0, epochs=3\], got 4"):
        TrainConfig(epochs=3, unmixed_epochs=4)


# -- the command line ---------------------------------------------------------------------------------


def test_recipe_sets_defaults_and_flags_still_win():
    tutorial = train_cifar.parse_args([])
    assert (tutorial.hidden_size, tutorial.lr, tutorial.augment, tutorial.lr_schedule, tutorial.hidden_dropout_prob) == (
        48, 1e-3, "tutorial", "constant", 0.1)
    assert not tutorial.decay_exclusions and tutorial.label_smoothing == 0.0 and tutorial.grad_clip == 0.0
    for name, recipe in train_cifar.RECIPES.items():
        args = train_cifar.parse_args(["--recipe", name])
        for key, value in recipe.items():
            assert getattr(args, key) == value, (name, key)
    mixed = train_cifar.parse_args(["--recipe", "fast-cpu", "--epochs", "3", "--no-decay-exclusions"])
    assert (mixed.epochs, mixed.decay_exclusions, mixed.hidden_size) == (3, False, 96)


def test_every_recipe_names_only_declared_settings():
    """A recipe is a set of overrides of TrainConfig and ViTConfig fields (and --out-dir), nothing else."""
    from vit_np.settings import field_names

    known = field_names(TrainConfig) | field_names(ViTConfig) | {"out_dir"}
    for name, recipe in train_cifar.RECIPES.items():
        assert set(recipe) <= known, (name, set(recipe) - known)


def help_text(capsys, *argv):
    """What the script prints for argv (--help or --help-all), which must exit with code 0."""
    with pytest.raises(SystemExit) as exit_info:
        train_cifar.parse_args(list(argv))
    assert exit_info.value.code in (0, None)
    return capsys.readouterr().out


def test_every_setting_has_a_flag_with_its_declared_default_and_help(capsys):
    text = " ".join(help_text(capsys, "--help-all").split())
    args = train_cifar.parse_args([])
    for cls in (TrainConfig, ViTConfig):
        for f in dataclasses.fields(cls):
            if f.metadata["flag"]:
                assert "--" + f.name.replace("_", "-") in text, f.name
                assert " ".join(f.metadata["help"].split()[:3]) in text, f.name
                assert getattr(args, f.name) == train_cifar.RECIPES["tutorial"].get(f.name, f.default), f.name
    assert train_cifar.RECIPES["tutorial"] == {"cls_only_last_block": True}  # the defaults, plus the speed option


def test_help_is_short_and_shows_the_common_commands(capsys):
    out = help_text(capsys, "--help")
    assert out.startswith("usage: ") and len(out.splitlines()) <= 60
    commands = [c.strip() for c in re.findall(r"^    python examples/train_cifar\.py(.*?)(?: +#.*)?$", out, flags=re.M)]
    assert "" in commands  # the tutorial's run
    for flags in ["--limit-train", "--resume", "--overwrite", "--eval-only", "--recipe fast-cpu"]:
        assert any(c.startswith(flags) for c in commands), flags
    for name in train_cifar.RECIPES:  # each recipe on a line of its own, said in a few words
        assert re.search(rf"^  {re.escape(name)} +\S", out, flags=re.M), name
    assert "examples/RESULTS.md" in out and "examples/TRAINING.md" in out and "--help-all" in out
    flags = {option for action in train_cifar.build_parser("tutorial")._actions for option in action.option_strings}
    assert set(re.findall(r"--[a-z][a-z-]*[a-z]", out)) <= flags  # no flag it names is made up
    assert "--hidden-dropout-prob" not in out and "--mixup-alpha" not in out  # the rest: --help-all
    assert f"All {len(vars(train_cifar.parse_args([])))} settings, grouped, with their defaults: --help-all." in out


@pytest.mark.parametrize("recipe", ["tutorial", "fast-cpu"])
def test_help_shows_the_recipes_defaults(capsys, recipe):
    out = help_text(capsys, "--recipe", recipe, "--help")
    args = train_cifar.parse_args(["--recipe", recipe])
    assert f"passes over the training set ({args.epochs})" in out
    assert f"where the run's files go ({args.out_dir})" in out
    full = help_text(capsys, "--recipe", recipe, "--help-all")
    assert re.search(rf"--epochs EPOCHS +passes over the training set \(default: {args.epochs}\)", full)
    assert f"The defaults above are the {recipe} recipe's" in full


def test_help_all_gives_each_default_once(capsys):
    full = help_text(capsys, "--help-all")
    entries = re.split(r"\n  (?=-)", full)  # one per option
    assert len(entries) > 40
    for entry in entries:
        assert entry.count("(default:") <= 1, entry
        assert "(default: None)" not in entry, entry


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    make_cifar(root, per_batch=40, n_test=40)
    return root


def recipe_cli(data_dir, out_dir, *extra):
    return ["--recipe", "fast-cpu", "--data-dir", str(data_dir), "--out-dir", str(out_dir), "--hidden-size", "12",
            "--num-hidden-layers", "1", "--num-attention-heads", "2", "--intermediate-size", "24", "--batch-size", "16",
            "--limit-train", "40",
            "--limit-test", "40", "--no-download", "--no-progress", "--epochs", "3", "--warmup-epochs", "1", *extra]


@pytest.mark.parametrize("mixing", [(), ("--mix-prob", "1", "--unmixed-epochs", "2"),
                                    ("--patch-drop-rate", "0.5", "--patch-drop-ramp", "0.5", "--full-patch-epochs", "1")],
                         ids=["unmixed", "mixed-late", "patch-drop-ramp"])
def test_recipe_run_follows_the_schedule_and_resumes_exactly(mixing, data_dir, tmp_path, monkeypatch, capsys):
    """Straight against killed in epoch 2 (of 3) and resumed (with mixing: across the epoch where it starts;
    with the ramp: in the epoch of PatchDropout 0.25, before the one on every patch)."""
    for name in ("plot_sample_images", "plot_curves", "plot_accuracy_vs_time", "plot_attention", "plot_confusion_matrix"):
        monkeypatch.setattr(train_cifar.plots, name, lambda *args, **kwargs: None)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert train_cifar.main(recipe_cli(data_dir, straight, *mixing)) == 0
    state = mg.load(straight / "checkpoint.npz")
    assert len(state["optimizer"]["param_groups"]) == 2  # decay exclusions on
    lrs = [float(row.split(",")[4]) for row in (straight / "metrics.csv").read_text().splitlines()[1:]]
    steps = 3  # ceil(40 / 16) per epoch; the lr column is each epoch's last step's
    config = TrainConfig(epochs=3, lr=train_cifar.RECIPES["fast-cpu"]["lr"], lr_schedule="warmup-cosine", warmup_epochs=1,
                         min_lr_ratio=0.01)
    schedule = make_scheduler(mg.optim.SGD([mg.zeros(1, requires_grad=True)], lr=config.lr), config, steps)
    want = [schedule.lr_at(config.lr, e * steps + 2, 0) for e in range(3)]
    np.testing.assert_allclose(lrs, want, rtol=1e-5)

    calls = [0]
    original = Trainer.train_step

    def interrupted(self, x, y):
        calls[0] += 1
        if calls[0] == 5:  # epoch 2, step 2: in the middle of the cosine part
            raise KeyboardInterrupt
        return original(self, x, y)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    assert train_cifar.main(recipe_cli(data_dir, resumed, *mixing)) == 130
    monkeypatch.setattr(Trainer, "train_step", original)
    assert train_cifar.main(recipe_cli(data_dir, resumed, *mixing, "--resume")) == 0
    a, b = mg.load(straight / "checkpoint.npz"), mg.load(resumed / "checkpoint.npz")
    for name, value in a["model"].items():
        np.testing.assert_array_equal(value, b["model"][name], err_msg=name)
    assert "--resume" in capsys.readouterr().err


# -- examples/plot_runs.py: accuracy against wall-clock time, for the README's figure --------------------


def test_plot_runs_draws_each_run_and_names_missing_files(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("plot_runs", ROOT / "examples" / "plot_runs.py")
    plot_runs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot_runs)
    for name, accuracy in (("a", 50.0), ("b", 60.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.csv").write_text(f"epoch,accuracy,elapsed_seconds\n1,{accuracy - 5},60\n2,{accuracy},120\n")
    out = tmp_path / "acc.png"
    assert plot_runs.main([str(tmp_path / "a"), str(tmp_path / "b" / "metrics.csv"), "--labels", "A", "B",
                           "--target", "55", "--budget-minutes", "2", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert plot_runs.main([str(tmp_path / "a"), "--labels", "A", "B"]) == 2
    assert plot_runs.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "1 runs but 2 --labels" in err and f"no metrics file at {tmp_path / 'nowhere'}" in err


def test_resume_with_another_schedule_length_is_refused(data_dir, tmp_path, monkeypatch, capsys):
    """With warmup-cosine the number of epochs sets every step's lr: resuming with another is refused."""
    for name in ("plot_sample_images", "plot_curves", "plot_accuracy_vs_time", "plot_attention", "plot_confusion_matrix"):
        monkeypatch.setattr(train_cifar.plots, name, lambda *args, **kwargs: None)
    assert train_cifar.main(recipe_cli(data_dir, tmp_path)) == 0
    assert train_cifar.main(recipe_cli(data_dir, tmp_path, "--epochs", "5", "--resume")) == 2
    assert "made with epochs=3 (this run: 5)" in capsys.readouterr().err


# -- MixUp / CutMix: torchvision.transforms.v2's formulas, written out with torch ops ------------------


def torch_mixup(x, one_hot, lam):
    """torchvision v2 MixUp: batch.roll(1, 0) blended with weight lam, labels likewise."""
    x, q = torch.from_numpy(x), torch.from_numpy(one_hot)
    return x.mul(lam).add_(x.roll(1, 0).mul_(1.0 - lam)), q.mul(lam).add_(q.roll(1, 0).mul_(1.0 - lam))


def torch_cutmix(x, one_hot, lam, r_y, r_x):
    """torchvision v2 CutMix for a given lam and box centre (its _mixup_label and box code)."""
    x, q = torch.from_numpy(x), torch.from_numpy(one_hot)
    H, W = x.shape[-2:]
    r = 0.5 * np.sqrt(1.0 - lam)
    r_w_half, r_h_half = int(r * W), int(r * H)
    x1, y1 = int(torch.clamp(torch.tensor(r_x - r_w_half), min=0)), int(torch.clamp(torch.tensor(r_y - r_h_half), min=0))
    x2, y2 = int(torch.clamp(torch.tensor(r_x + r_w_half), max=W)), int(torch.clamp(torch.tensor(r_y + r_h_half), max=H))
    out = x.clone()
    out[..., y1:y2, x1:x2] = x.roll(1, 0)[..., y1:y2, x1:x2]
    lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (H * W))
    return out, q.mul(lam_adjusted).add_(q.roll(1, 0).mul_(1.0 - lam_adjusted))


def mix_inputs(b=6):
    rng = np.random.default_rng(0)
    return rng.standard_normal((b, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, b)


@pytest.mark.parametrize("seed", range(6))
def test_mix_equals_torchvision_formulas(seed):
    """Replaying the documented draws (u, v, lam, box centre) gives torchvision's MixUp or CutMix."""
    from vit_np.augment import Mix

    x, y = mix_inputs()
    mix = Mix(num_classes=10, prob=1.0, switch_prob=0.5)
    got_x, got_q = mix(x, y, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    assert rng.random() < 1.0
    one_hot = np.eye(10, dtype=np.float32)[y]
    if rng.random() < 0.5:
        lam = rng.beta(1.0, 1.0)
        want_x, want_q = torch_cutmix(x, one_hot, lam, int(rng.integers(32)), int(rng.integers(32)))
    else:
        want_x, want_q = torch_mixup(x, one_hot, rng.beta(0.8, 0.8))
    assert got_x.dtype == got_q.dtype == np.float32
    assert_close(got_x, want_x.numpy(), "images", **TOLERANCES[np.float32])
    assert_close(got_q, want_q.numpy(), "labels", **TOLERANCES[np.float32])
    np.testing.assert_allclose(got_q.sum(axis=1), 1.0, rtol=1e-6)


def test_mix_draws_both_kinds_and_leaves_some_batches_alone():
    """prob=0.5: about half the batches unmixed (one-hot labels); the mixed ones split between kinds."""
    from vit_np.augment import Mix

    x, y = mix_inputs()
    mix, kinds = Mix(prob=0.5), {"none": 0, "mixup": 0, "cutmix": 0}
    for seed in range(400):
        got_x, got_q = mix(x, y, np.random.default_rng(seed))
        if np.array_equal(got_x, x):
            kinds["none"] += 1
            np.testing.assert_array_equal(got_q, np.eye(10, dtype=np.float32)[y])
        elif np.isin(got_x, np.concatenate([x, np.roll(x, 1, 0)])).all():
            kinds["cutmix"] += 1  # every pixel comes from one of the two images
        else:
            kinds["mixup"] += 1
    assert all(abs(kinds[k] - n) < 5 * np.sqrt(n) for k, n in (("none", 200), ("mixup", 100), ("cutmix", 100))), kinds


@pytest.mark.parametrize("field, value", [("prob", 1.5), ("switch_prob", -0.1), ("mixup_alpha", 0.0)])
def test_mix_settings_are_validated(field, value):
    from vit_np.augment import Mix

    with pytest.raises(ValueError, match=f"Mix: {field} must be"):
        Mix(**{field: value})
    if field != "switch_prob":
        key = {"prob": "mix_prob"}.get(field, field)
        with pytest.raises(ValueError, match=f"TrainConfig: .*{field}|TrainConfig: {key}"):
            TrainConfig(**{key: value, **({} if key == "mix_prob" else {"mix_prob": 0.5})})


def test_mixed_batches_come_from_the_batch_generator():
    """DataLoader with mix: the crop and then the mix draw from one generator per (seed, epoch,
    batch), so a resumed run replays them; y becomes float32 probabilities."""
    from vit_np.augment import Mix
    from vit_np.data import epoch_permutation

    x, y = images(10), np.arange(10)
    mix = Mix(prob=1.0)
    got = loader_batches(x, y, 4, 1, shuffle=True, augment="crop-flip", seed=2, mix=mix)
    order = epoch_permutation(10, 2, 1)
    for b, (xb, qb) in enumerate(got):
        idx = order[4 * b:4 * b + 4]
        rng = augment_rng(2, 1, b)
        want_x, want_q = mix(crop_flip_transform(x[idx], rng), y[idx], rng)
        np.testing.assert_array_equal(xb, want_x)
        np.testing.assert_array_equal(qb, want_q)
        assert qb.dtype == np.float32 and qb.shape == (len(idx), 10)
    again = loader_batches(x, y, 4, 1, start=1, shuffle=True, augment="crop-flip", seed=2, mix=mix)
    for (xa, qa), (xb, qb) in zip(got[1:], again, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(qa, qb)
