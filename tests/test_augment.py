"""vit_np.augment: the tutorial's torchvision transforms, batched in NumPy, checked against PyTorch.

torchvision cannot be imported here, so its transforms are rebuilt from torch ops:
ToTensor = x.float() / 255, RandomHorizontalFlip = x.flip(-1),
RandomResizedCrop = crop + interpolate(mode="bilinear", align_corners=False, antialias=False),
Normalize = (x - 0.5) / 0.5.  (Crops are never larger than the image, so the resize only ever
upsamples, where antialiasing changes nothing.)
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as tF

from vit_np import augment
from vit_np.augment import eval_transform, random_resized_crop_params, resized_crop, train_transform


def cifar_like(batch, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, 3, 32, 32), dtype=np.uint8)


def torch_resized_crop(image, top, left, h, w, size=(32, 32)):
    """One image (C, H, W) float32: crop, then PyTorch's bilinear resize (the oracle)."""
    crop = torch.from_numpy(np.ascontiguousarray(image[:, top:top + h, left:left + w]))
    return tF.interpolate(crop[None], size=size, mode="bilinear", align_corners=False, antialias=False)[0].numpy()


def test_bilinear_taps_by_hand():
    # 2 pixels -> 4: src = (o + 0.5) * 2/4 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25
    i0, i1, frac = augment.bilinear_taps(np.array([0]), np.array([2]), 4)
    np.testing.assert_array_equal(i0, [[0, 0, 0, 1]])
    np.testing.assert_array_equal(i1, [[1, 1, 1, 1]])  # pixel 1 has no right neighbour
    np.testing.assert_array_equal(frac, [[0, 0.25, 0.75, 0.25]])


@pytest.mark.parametrize("seed", range(3))
def test_resized_crop_matches_torch_on_random_crops(seed):
    rng = np.random.default_rng(seed)
    images = rng.random((16, 3, 32, 32), dtype=np.float32)
    top, left, h, w = random_resized_crop_params(rng, 16, 32, 32, scale=(0.05, 1.0))
    got = resized_crop(images, top, left, h, w, size=(32, 32))
    assert got.dtype == np.float32 and got.shape == (16, 3, 32, 32)
    for b in range(16):
        expected = torch_resized_crop(images[b], top[b], left[b], h[b], w[b])
        np.testing.assert_allclose(got[b], expected, rtol=0, atol=1e-5, err_msg=f"crop {b}")


@pytest.mark.parametrize("box", [(0, 0, 32, 32), (5, 3, 1, 1), (0, 31, 32, 1), (10, 0, 3, 32), (2, 3, 7, 29)])
@pytest.mark.parametrize("size", [(32, 32), (17, 40)])
def test_resized_crop_matches_torch_on_edge_boxes(box, size):
    image = np.random.default_rng(1).random((1, 2, 32, 32), dtype=np.float32)
    top, left, h, w = (np.array([v]) for v in box)
    got = resized_crop(image, top, left, h, w, size=size)[0]
    np.testing.assert_allclose(got, torch_resized_crop(image[0], *box, size=size), rtol=0, atol=1e-5)


def test_boxes_outside_the_image_are_refused():
    with pytest.raises(ValueError, match="inside the 32x32 image"):
        resized_crop(cifar_like(1), np.array([0]), np.array([4]), np.array([7]), np.array([29]), size=(32, 32))


def test_flip_of_the_whole_image_is_exact():
    x = cifar_like(8)
    full, zero = np.full(8, 32), np.zeros(8, dtype=np.int64)
    flip = np.array([True, False] * 4)
    got = resized_crop(x, zero, zero, full, full, size=(32, 32), flip=flip)
    np.testing.assert_array_equal(got[flip], x[flip][..., ::-1].astype(np.float32))
    np.testing.assert_array_equal(got[~flip], x[~flip].astype(np.float32))


def test_flip_then_crop_matches_torch():
    rng = np.random.default_rng(2)
    images = rng.random((8, 3, 32, 32), dtype=np.float32)
    top, left, h, w = random_resized_crop_params(rng, 8, 32, 32)
    got = resized_crop(images, top, left, h, w, size=(32, 32), flip=np.ones(8, dtype=bool))
    for b in range(8):
        flipped = images[b][..., ::-1]
        np.testing.assert_allclose(got[b], torch_resized_crop(flipped, top[b], left[b], h[b], w[b]), atol=1e-5)


def test_crop_boxes_stay_inside_and_respect_scale_and_ratio():
    top, left, h, w = random_resized_crop_params(np.random.default_rng(0), 5000, 32, 32)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 32).all() and (left + w <= 32).all()
    # h and w are rounded, each by at most 0.5: (h + 0.5)(w + 0.5) >= target area >= 0.8 * 32 * 32.
    assert ((h + 0.5) * (w + 0.5) >= 0.8 * 1024).all() and (h * w <= 1024).all()
    assert ((w + 0.5) / (h - 0.5) >= 3 / 4).all() and ((w - 0.5) / (h + 0.5) <= 4 / 3).all()
    assert len(np.unique(h * 100 + w)) > 10 and len(np.unique(top)) > 1  # not stuck on one box


@pytest.mark.parametrize("ratio, expected", [((0.75, 4 / 3), (0, 0, 32, 32)), ((2.0, 3.0), (8, 0, 16, 32))])
def test_crop_falls_back_to_a_centre_crop_when_no_try_fits(ratio, expected):
    # scale > 1: no box fits. Fallback: the whole image, narrowed to the nearest allowed ratio
    # (ratio 2..3 on a square: w = 32, h = round(32 / 2) = 16, centred: top = (32 - 16) // 2 = 8).
    boxes = random_resized_crop_params(np.random.default_rng(0), 4, 32, 32, scale=(1.5, 2.0), ratio=ratio)
    for value, want in zip(boxes, expected):
        np.testing.assert_array_equal(value, np.full(4, want))


def test_train_transform_is_the_torch_pipeline_with_the_same_draws():
    x = cifar_like(16, seed=3)
    got = train_transform(x, np.random.default_rng(7))
    rng = np.random.default_rng(7)  # replay the draws in train_transform's order
    flip = rng.random(16) < 0.5
    top, left, h, w = random_resized_crop_params(rng, 16, 32, 32)
    for b in range(16):
        image = torch.from_numpy(x[b]).float() / 255  # ToTensor
        image = image.flip(-1) if flip[b] else image  # RandomHorizontalFlip
        image = torch_resized_crop(image.numpy(), top[b], left[b], h[b], w[b])  # RandomResizedCrop
        expected = (image - 0.5) / 0.5  # Normalize
        np.testing.assert_allclose(got[b], expected, rtol=0, atol=1e-5)


def test_train_transform_shape_dtype_range_and_seed():
    x = cifar_like(64)
    out = train_transform(x, np.random.default_rng(0))
    assert out.shape == (64, 3, 32, 32) and out.dtype == np.float32
    assert out.min() >= -1 and out.max() <= 1
    np.testing.assert_array_equal(out, train_transform(x, np.random.default_rng(0)))
    assert not np.array_equal(out, train_transform(x, np.random.default_rng(1)))


def test_eval_transform_is_exactly_totensor_then_normalize():
    x = cifar_like(4)
    expected = (torch.from_numpy(x).float().div(255) - 0.5) / 0.5
    got = eval_transform(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected.numpy())


def test_normalize_leaves_its_input_alone():
    x = np.ones((1, 3, 2, 2), dtype=np.float32)
    np.testing.assert_array_equal(augment.normalize(x), np.ones_like(x))  # (1 - 0.5) / 0.5
    np.testing.assert_array_equal(x, np.ones_like(x))
