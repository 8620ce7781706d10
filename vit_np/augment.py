"""The tutorial's image transforms, in NumPy, on whole batches at once.

Training (torchvision, as the tutorial wrote it):
    ToTensor, RandomHorizontalFlip(p=0.5),
    RandomResizedCrop((32, 32), scale=(0.8, 1.0), ratio=(3/4, 4/3), interpolation=bilinear),
    Normalize(mean=0.5, std=0.5)
Test: ToTensor, Normalize.   (The tutorial's Resize((32, 32)) is the identity on CIFAR-10.)

The fast-cpu recipe (examples/train_cifar.py --recipe fast-cpu) uses the classic CIFAR
augmentation instead: RandomCrop(32, padding=4) + RandomHorizontalFlip, see crop_flip_transform.

Images are uint8 (B, 3, H, W), the layout of the CIFAR-10 files; every transform returns
float32 (B, 3, 32, 32) in [-1, 1]. A crop is resized with bilinear interpolation exactly as
torch.nn.functional.interpolate(mode="bilinear", align_corners=False) does it: each output
pixel looks at a point of the crop (half-pixel centres) and blends its 4 neighbours. That
blend is linear in the pixels, so for one image it is two small matrices, out = Ry @ x @ Rx^T,
where row o of Ry holds the weights (1 - frac, frac) at the two source rows of output row o.
Building Ry, Rx per image and multiplying is a batched gather-and-blend, and a horizontal
flip is just a mirrored column index in Rx, so it costs nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vit_np import autoaugment

MEAN = 0.5  # Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)): the same for all three channels
STD = 0.5
CROP_SCALE = (0.8, 1.0)  # fraction of the image area a crop keeps
CROP_RATIO = (0.75, 1.3333333333333333)  # crop width / height


def to_float(images: np.ndarray) -> np.ndarray:
    """ToTensor: x / 255;  uint8 (B, C, H, W) -> float32 (B, C, H, W) in [0, 1]."""
    x = images.astype(np.float32)
    x /= np.float32(255)  # in place: a fresh 3 MB array per step costs more than the arithmetic
    return x


def normalize(x: np.ndarray, mean: float = MEAN, std: float = STD, inplace: bool = False) -> np.ndarray:
    """Normalize: (x - mean) / std, the same for every channel;  float32 (B, C, H, W)."""
    out = x if inplace else x.copy()
    out -= np.float32(mean)
    out /= np.float32(std)
    return out


def eval_transform(images: np.ndarray) -> np.ndarray:
    """Normalize(ToTensor(x));  uint8 (B, 3, H, W) -> float32 (B, 3, H, W) in [-1, 1]."""
    return normalize(to_float(images), inplace=True)


def train_transform(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normalize(RandomResizedCrop(RandomHorizontalFlip(ToTensor(x))));  uint8 (B, 3, H, W) -> float32 (B, 3, 32, 32).

    Draws, in order from rng: B flips, then the crop boxes (random_resized_crop_params).
    """
    batch, _, height, width = images.shape
    flip = rng.random(batch) < 0.5  # (B,) RandomHorizontalFlip(p=0.5)
    top, left, crop_h, crop_w = random_resized_crop_params(rng, batch, height, width)
    x = resized_crop(images, top, left, crop_h, crop_w, size=(32, 32), flip=flip)  # values 0..255
    x /= np.float32(255)  # ToTensor's scaling, after the resize: a blend commutes with it
    return normalize(x, inplace=True)


def crop_flip_transform(images: np.ndarray, rng: np.random.Generator, padding: int = 4) -> np.ndarray:
    """Normalize(ToTensor(RandomHorizontalFlip(RandomCrop(32, padding)(x))));  uint8 (B, 3, H, W) -> float32 (B, 3, H, W)."""
    return eval_transform(random_crop_flip(images, rng, padding))


def random_crop_flip(images: np.ndarray, rng: np.random.Generator, padding: int = 4) -> np.ndarray:
    """RandomHorizontalFlip(RandomCrop(H, padding)(x));  uint8 (B, C, H, W) -> uint8 (B, C, H, W).

    Draws, in order from rng: B flips, then B tops and B lefts, each uniform in [0, 2 * padding].
    """
    batch = len(images)
    flip = rng.random(batch) < 0.5  # (B,) RandomHorizontalFlip(p=0.5)
    top = rng.integers(0, 2 * padding + 1, size=batch)  # (B,) offsets into the padded image
    left = rng.integers(0, 2 * padding + 1, size=batch)
    return padded_crop(images, top, left, padding, flip)


def padded_crop(images: np.ndarray, top: np.ndarray, left: np.ndarray, padding: int,
                flip: np.ndarray | None = None, fill: float = 0) -> np.ndarray:
    """Crop b of image b padded by `padding` on every side, at (top[b], left[b]), then mirrored where flip[b].

    images: (B, C, H, W) -> same dtype (B, C, H, W). Pixels that come from the padding are `fill`:
    0 is black in uint8 pixels, as RandomCrop's default fill (-1 after Normalize). The padded batch
    seen through sliding_window_view is every possible crop at once, (B, C, 2p+1, 2p+1, H, W),
    without copying; indexing it with (b, top[b], left[b]) copies out the B crops we drew.
    """
    batch, channels, height, width = images.shape
    if np.any((top < 0) | (top > 2 * padding) | (left < 0) | (left > 2 * padding)):
        raise ValueError(f"padded_crop: top and left must be in [0, {2 * padding}] for padding={padding}")
    padded = np.full((batch, channels, height + 2 * padding, width + 2 * padding), fill, dtype=images.dtype)
    padded[:, :, padding:padding + height, padding:padding + width] = images
    crops = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(2, 3))  # (B, C, 2p+1, 2p+1, H, W)
    out = crops[np.arange(batch), :, top, left]  # (B, C, H, W): advanced indices (b, top, left) first
    if flip is not None and flip.any():
        out[flip] = out[flip][..., ::-1]  # mirror the columns of the flipped crops
    return out


def shifted_crops(x: np.ndarray, shift: int = 2, padding: int = 4, fill: float = -1.0) -> list[np.ndarray]:
    """The 9 test views of each image: RandomCrop(H, padding)'s crops at the centre and shifted `shift`
    pixels up / down / left / right and diagonally (offsets padding + (-shift, 0, shift) in both axes);
    (B, C, H, W) -> 9 x (B, C, H, W), the centre crop (the images themselves) 5th.

    Test-time augmentation (the 10 crops of AlexNet's test, here a 3 x 3 grid of the training crops):
    a model trained on padded random crops has mostly seen images with a black border, so each shifted
    view is one it knows, and their mean logits vote. fill: the padding's value, -1 for normalized
    images (black: Normalize(0.5, 0.5) of 0), 0 for uint8 pixels.
    """
    batch = len(x)
    offsets = [padding + d for d in (-shift, 0, shift)]
    return [padded_crop(x, np.full(batch, top), np.full(batch, left), padding, fill=fill)
            for top in offsets for left in offsets]


def crop_flip_trivial_transform(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normalize(ToTensor(TrivialAugmentWide(RandomHorizontalFlip(RandomCrop(32, padding=4)(x)))));
    uint8 (B, 3, H, W) -> float32 (B, 3, H, W).

    Draws from rng, in order: the crop and flip (as crop_flip_transform), then TrivialAugmentWide's.
    """
    return eval_transform(autoaugment.trivial_augment_wide(random_crop_flip(images, rng), rng))


def crop_flip_randaugment_transform(images: np.ndarray, rng: np.random.Generator, num_ops: int = 2,
                                    magnitude: int = 9) -> np.ndarray:
    """Normalize(ToTensor(RandAugment(num_ops, magnitude)(RandomHorizontalFlip(RandomCrop(32, padding=4)(x)))));
    uint8 (B, 3, H, W) -> float32 (B, 3, H, W).

    Draws from rng, in order: the crop and flip (as crop_flip_transform), then RandAugment's.
    """
    cropped = random_crop_flip(images, rng)
    return eval_transform(autoaugment.rand_augment(cropped, rng, num_ops=num_ops, magnitude=magnitude))


TRANSFORMS = {  # name -> training transform
    "tutorial": train_transform, "crop-flip": crop_flip_transform,
    "crop-flip-trivial": crop_flip_trivial_transform, "crop-flip-randaugment": crop_flip_randaugment_transform,
}


# ----------------------------------------------------------------------------------------------
# MixUp and CutMix: blend pairs of images and their labels (torchvision.transforms.v2's versions)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """With probability `prob`, mix a batch with itself rolled by one (image i with image i-1):
    CutMix with probability `switch_prob`, else MixUp. One lam ~ Beta(alpha, alpha) per batch, as
    torchvision.transforms.v2.MixUp / CutMix draw it; labels become class probabilities (B, C):

        MixUp:  x = lam x + (1 - lam) x_rolled,     q = lam onehot(y) + (1 - lam) onehot(y_rolled)
        CutMix: x = x with a box pasted from x_rolled, whose side is sqrt(1 - lam) of the image's
                (clipped at the border), and lam = 1 - box area / image area in q.

    An unmixed batch gets one-hot probabilities, so every batch of a run has the same kind of labels.
    """

    num_classes: int = 10
    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    prob: float = 1.0  # chance that a batch is mixed at all
    switch_prob: float = 0.5  # chance that a mixed batch uses CutMix rather than MixUp

    def __post_init__(self) -> None:
        for name in ("prob", "switch_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Mix: {name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("mixup_alpha", "cutmix_alpha"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Mix: {name} must be > 0, got {getattr(self, name)!r}")

    def __call__(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """x float (B, C, H, W), y int (B,) -> mixed x (a new array), q (B, num_classes) of x's dtype.

        Draws from rng, in order: u (mix if u < prob); then v (CutMix if v < switch_prob); lam;
        for CutMix the box centre (row, then column).
        """
        one_hot = np.eye(self.num_classes, dtype=x.dtype)[y]  # (B, classes)
        if rng.random() >= self.prob:
            return x, one_hot
        rolled_x, rolled_q = np.roll(x, 1, axis=0), np.roll(one_hot, 1, axis=0)  # pair i with i - 1
        if rng.random() < self.switch_prob:
            lam = rng.beta(self.cutmix_alpha, self.cutmix_alpha)
            top, bottom, left, right = cutmix_box(lam, x.shape[-2], x.shape[-1], rng)
            x = x.copy()
            x[..., top:bottom, left:right] = rolled_x[..., top:bottom, left:right]
            lam = 1.0 - (bottom - top) * (right - left) / (x.shape[-2] * x.shape[-1])  # the pixels' share
        else:
            lam = rng.beta(self.mixup_alpha, self.mixup_alpha)
            x = x * x.dtype.type(lam) + rolled_x * x.dtype.type(1.0 - lam)
        return x, one_hot * x.dtype.type(lam) + rolled_q * x.dtype.type(1.0 - lam)


def cutmix_box(lam: float, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """torchvision's CutMix box for a given lam: a centre uniform over the pixels, half-sides
    int(0.5 sqrt(1 - lam) * side), clipped to the image -> (top, bottom, left, right)."""
    centre_y, centre_x = int(rng.integers(height)), int(rng.integers(width))
    r = 0.5 * math.sqrt(1.0 - lam)
    half_h, half_w = int(r * height), int(r * width)
    return (max(centre_y - half_h, 0), min(centre_y + half_h, height),
            max(centre_x - half_w, 0), min(centre_x + half_w, width))


# ----------------------------------------------------------------------------------------------
# RandomResizedCrop: where to crop (torchvision's get_params, for a whole batch)
# ----------------------------------------------------------------------------------------------


def random_resized_crop_params(
    rng: np.random.Generator, batch: int, height: int, width: int,
    scale: tuple[float, float] = CROP_SCALE, ratio: tuple[float, float] = CROP_RATIO, tries: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crop boxes as torchvision's RandomResizedCrop.get_params draws them -> top, left, h, w: (B,) int64 each.

    Per image: up to `tries` times, draw an area fraction in `scale` and a log-uniform aspect
    ratio in `ratio`; keep the first box that fits in the image, at a uniform position.
    If none fits, fall back to a centred crop of the largest box within `ratio`.
    """
    area = height * width
    target_area = area * rng.uniform(scale[0], scale[1], size=(batch, tries))  # (B, tries)
    log_ratio = rng.uniform(math.log(ratio[0]), math.log(ratio[1]), size=(batch, tries))
    aspect = np.exp(log_ratio)
    w = np.round(np.sqrt(target_area * aspect)).astype(np.int64)  # round half to even, as Python's round
    h = np.round(np.sqrt(target_area / aspect)).astype(np.int64)
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)  # (B, tries)
    first = fits.argmax(axis=1)  # index of the first try that fits (0 if none does)
    found = fits.any(axis=1)  # (B,)
    rows = np.arange(batch)
    fallback_h, fallback_w = _fallback_crop_size(height, width, ratio)
    crop_h = np.where(found, h[rows, first], fallback_h)  # (B,)
    crop_w = np.where(found, w[rows, first], fallback_w)
    top = rng.integers(0, height - crop_h + 1)  # uniform in [0, height - crop_h]
    left = rng.integers(0, width - crop_w + 1)
    top = np.where(found, top, (height - crop_h) // 2)
    left = np.where(found, left, (width - crop_w) // 2)
    return top, left, crop_h, crop_w


def _fallback_crop_size(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """torchvision's fallback: the whole image, narrowed to the nearest allowed aspect ratio."""
    in_ratio = width / height
    if in_ratio < min(ratio):
        return int(round(width / min(ratio))), width
    if in_ratio > max(ratio):
        return height, int(round(height * max(ratio)))
    return height, width


# ----------------------------------------------------------------------------------------------
# Bilinear resize of crops: two small matrices per image
# ----------------------------------------------------------------------------------------------


def bilinear_taps(start: np.ndarray, length: np.ndarray, out_size: int) -> tuple[np.ndarray, ...]:
    """Source pixels and weight along one axis, for crops [start, start + length) resized to out_size.

    src = (o + 0.5) * length / out_size - 0.5, clamped at 0 (align_corners=False);
    value = (1 - frac) * pixel[i0] + frac * pixel[i1].   start, length: (B,) -> i0, i1, frac: (B, out_size)
    """
    scale = length.astype(np.float32) / np.float32(out_size)  # (B,) input pixels per output pixel
    centres = np.arange(out_size, dtype=np.float32) + np.float32(0.5)  # (out_size,)
    src = np.maximum(centres * scale[:, None] - np.float32(0.5), np.float32(0))  # (B, out_size)
    i0 = src.astype(np.int64)  # floor, since src >= 0
    frac = src - i0.astype(np.float32)
    i1 = np.minimum(i0 + 1, length[:, None] - 1)  # the last pixel has no right neighbour
    return start[:, None] + i0, start[:, None] + i1, frac


def interpolation_matrix(
    start: np.ndarray, length: np.ndarray, in_size: int, out_size: int, flip: np.ndarray | None = None,
) -> np.ndarray:
    """M[b, o, i0] = 1 - frac, M[b, o, i1] = frac: bilinear resize along one axis as a matrix.

    start, length, flip: (B,) -> float32 (B, out_size, in_size). Row o mixes the two source
    pixels of output pixel o; a flip mirrors the source index (i -> in_size - 1 - i).
    """
    i0, i1, frac = bilinear_taps(start, length, out_size)  # (B, out_size) each
    if flip is not None:
        i0 = np.where(flip[:, None], in_size - 1 - i0, i0)
        i1 = np.where(flip[:, None], in_size - 1 - i1, i1)
    batch = len(start)
    matrix = np.zeros((batch, out_size, in_size), dtype=np.float32)
    b, o = np.arange(batch)[:, None], np.arange(out_size)[None, :]  # broadcast to (B, out_size)
    np.add.at(matrix, (b, o, i0), 1 - frac)  # add, not assign: i0 == i1 at the last pixel
    np.add.at(matrix, (b, o, i1), frac)
    return matrix


def resized_crop(
    images: np.ndarray, top: np.ndarray, left: np.ndarray, height: np.ndarray, width: np.ndarray,
    size: tuple[int, int], flip: np.ndarray | None = None,
) -> np.ndarray:
    """out[b, c] = Ry[b] @ image[b, c] @ Rx[b]^T: crop b of (optionally flipped) image b, resized bilinearly.

    images: (B, C, H, W) any dtype; top, left, height, width, flip: (B,) -> float32 (B, C, *size).
    Each output pixel blends the 4 neighbours of its source point, like interpolate(mode="bilinear",
    align_corners=False); Ry picks and blends rows, Rx columns. A weight of exactly 1 at every
    output pixel (no crop, no resize) returns the pixels unchanged.
    """
    _, _, in_h, in_w = images.shape
    inside = (top >= 0) & (left >= 0) & (height > 0) & (width > 0)
    inside &= (top + height <= in_h) & (left + width <= in_w)
    if not inside.all():
        b = int(np.argmin(inside))
        raise ValueError(f"resized_crop: crop boxes must lie inside the {in_h}x{in_w} image; box {b} has "
                         f"top={top[b]}, left={left[b]}, height={height[b]}, width={width[b]}")
    rows = interpolation_matrix(top, height, in_h, size[0])  # (B, out_h, H)
    cols = interpolation_matrix(left, width, in_w, size[1], flip)  # (B, out_w, W)
    x = rows[:, None] @ images.astype(np.float32)  # (B, 1, out_h, H) @ (B, C, H, W) -> (B, C, out_h, W)
    return x @ cols[:, None].transpose(0, 1, 3, 2)  # (B, C, out_h, W) @ (B, 1, W, out_w) -> (B, C, out_h, out_w)


def resize_bilinear(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (align_corners=False) of whole images;  (B, C, H, W) -> float32 (B, C, *size)."""
    batch, _, height, width = images.shape
    zeros = np.zeros(batch, dtype=np.int64)
    return resized_crop(images, zeros, zeros, np.full(batch, height), np.full(batch, width), size)
