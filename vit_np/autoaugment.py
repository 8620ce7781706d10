"""TrivialAugmentWide and RandAugment (torchvision.transforms semantics), in NumPy, on whole batches.

Each image draws its own operation and magnitude, as torchvision does image by image; the batch
is then grouped by the operation drawn and every operation runs once, on its group, with the
magnitudes of that group as an array. Images stay uint8 (B, 3, H, W) throughout, as torchvision
applies these policies to uint8 images before ToTensor and Normalize.

The arithmetic is torchvision's tensor path (torchvision/transforms/_functional_tensor.py):
  - colour ops blend in float32 and cast back with truncation:  uint8(clamp(r x + (1 - r) y, 0, 255));
  - geometric ops sample as grid_sample(mode="nearest", align_corners=False): the source pixel is the
    inverse-mapped coordinate rounded half to even; outside the image the pixel is 0 (fill=None). We
    compute that coordinate in float64 where torch uses float32, so at an exact tie (Rotate(+-135) on
    the diagonal, RandAugment's shears 0.01 k on some rows) torch's pick is float32 noise and ours may
    be the other pixel of the two; everywhere else the result is torchvision's, bit for bit;
  - the magnitude bins are torch.linspace values in float32 (see torch_linspace: a translation of
    "16 pixels" is 15.999999 there, and int() makes it 15).
Pillow (torchvision's path for PIL images) gives the same Brightness, Posterize, Solarize and Equalize;
tests/test_autoaugment.py states where and by how much it differs in the other ops, and why.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

NUM_BINS = 31  # torchvision's default num_magnitude_bins for both policies
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # rgb_to_grayscale's weights for R, G, B (torchvision, after TensorFlow)


# ----------------------------------------------------------------------------------------------
# The magnitude bins: torchvision's _augmentation_space, as (float32 magnitudes or None, signed)
# ----------------------------------------------------------------------------------------------


def torch_linspace(start: float, end: float, steps: int) -> np.ndarray:
    """torch.linspace(start, end, steps) in float32, bit for bit;  -> float32 (steps,).

    torch fills the first half with start + step * i and the second with end - step * (steps - 1 - i),
    each a fused multiply-add rounded once to float32; float64 holds the float32 product exactly,
    so one rounding of the float64 result reproduces it (np.linspace differs in the last bit).
    """
    start32, end32 = np.float32(start), np.float32(end)
    step = np.float64((end32 - start32) / np.float32(steps - 1))
    i = np.arange(steps)
    first = np.float64(start32) + step * i.astype(np.float64)
    second = np.float64(end32) - step * (steps - 1 - i).astype(np.float64)
    return np.where(i < steps // 2, first, second).astype(np.float32)


def posterize_bins(num_bins: int, levels: int) -> np.ndarray:
    """8 - round(i / ((num_bins - 1) / levels)), i = 0..num_bins-1 (bits kept; round half to even) -> float32."""
    return (8 - np.rint(np.arange(num_bins, dtype=np.float32) / np.float32((num_bins - 1) / levels))).astype(np.float32)


def trivial_augment_space(num_bins: int = NUM_BINS) -> dict[str, tuple[np.ndarray | None, bool]]:
    """TrivialAugmentWide._augmentation_space(num_bins): op name -> (magnitudes (num_bins,) or None, signed)."""
    return {
        "Identity": (None, False),
        "ShearX": (torch_linspace(0.0, 0.99, num_bins), True),
        "ShearY": (torch_linspace(0.0, 0.99, num_bins), True),
        "TranslateX": (torch_linspace(0.0, 32.0, num_bins), True),  # pixels, whatever the image size
        "TranslateY": (torch_linspace(0.0, 32.0, num_bins), True),
        "Rotate": (torch_linspace(0.0, 135.0, num_bins), True),
        "Brightness": (torch_linspace(0.0, 0.99, num_bins), True),
        "Color": (torch_linspace(0.0, 0.99, num_bins), True),
        "Contrast": (torch_linspace(0.0, 0.99, num_bins), True),
        "Sharpness": (torch_linspace(0.0, 0.99, num_bins), True),
        "Posterize": (posterize_bins(num_bins, 6), False),
        "Solarize": (torch_linspace(255.0, 0.0, num_bins), False),
        "AutoContrast": (None, False),
        "Equalize": (None, False),
    }


def rand_augment_space(num_bins: int, height: int, width: int) -> dict[str, tuple[np.ndarray | None, bool]]:
    """RandAugment._augmentation_space(num_bins, (height, width)): op name -> (magnitudes or None, signed)."""
    return {
        "Identity": (None, False),
        "ShearX": (torch_linspace(0.0, 0.3, num_bins), True),
        "ShearY": (torch_linspace(0.0, 0.3, num_bins), True),
        "TranslateX": (torch_linspace(0.0, 150.0 / 331.0 * width, num_bins), True),
        "TranslateY": (torch_linspace(0.0, 150.0 / 331.0 * height, num_bins), True),
        "Rotate": (torch_linspace(0.0, 30.0, num_bins), True),
        "Brightness": (torch_linspace(0.0, 0.9, num_bins), True),
        "Color": (torch_linspace(0.0, 0.9, num_bins), True),
        "Contrast": (torch_linspace(0.0, 0.9, num_bins), True),
        "Sharpness": (torch_linspace(0.0, 0.9, num_bins), True),
        "Posterize": (posterize_bins(num_bins, 4), False),
        "Solarize": (torch_linspace(255.0, 0.0, num_bins), False),
        "AutoContrast": (None, False),
        "Equalize": (None, False),
    }


def magnitude_table(space: dict[str, tuple[np.ndarray | None, bool]], num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The space as arrays: magnitudes float64 (ops, num_bins), 0 where an op has none; signed bool (ops,)."""
    table = np.zeros((len(space), num_bins))
    for k, (magnitudes, _) in enumerate(space.values()):
        if magnitudes is not None:
            table[k] = magnitudes  # float(tensor.item()): the float32 value, exactly
    return table, np.array([signed for _, signed in space.values()])


# ----------------------------------------------------------------------------------------------
# Geometric ops: one inverse affine map per image, then a nearest-neighbour gather
# ----------------------------------------------------------------------------------------------


def inverse_affine_matrix(angle: np.ndarray, translate: np.ndarray, shear: np.ndarray,
                          center: np.ndarray) -> np.ndarray:
    """torchvision's _get_inverse_affine_matrix (scale 1): M = C RSS^-1 C^-1 T^-1, per image;
    angle (n,), translate (n, 2), shear (n, 2) in degrees (x, then y), center (n, 2) -> (n, 2, 3).

    Coordinates have their origin at the image centre, x to the right and y down, as the tensor path's.
    """
    rot, sx, sy = np.radians(angle), np.radians(shear[:, 0]), np.radians(shear[:, 1])
    (cx, cy), (tx, ty) = center.T, translate.T
    # RSS = R(rot) SHy(sy) SHx(sx) = [[a, b], [c, d]]
    a = np.cos(rot - sy) / np.cos(sy)
    b = -np.cos(rot - sy) * np.tan(sx) / np.cos(sy) - np.sin(rot)
    c = np.sin(rot - sy) / np.cos(sy)
    d = -np.sin(rot - sy) * np.tan(sx) / np.cos(sy) + np.cos(rot)
    # det RSS = 1 (a rotation and two shears), so RSS^-1 = [[d, -b], [-c, a]]
    matrix = np.empty((len(angle), 2, 3))
    matrix[:, 0, 0], matrix[:, 0, 1], matrix[:, 1, 0], matrix[:, 1, 1] = d, -b, -c, a
    matrix[:, 0, 2] = d * (-cx - tx) - b * (-cy - ty) + cx
    matrix[:, 1, 2] = -c * (-cx - tx) + a * (-cy - ty) + cy
    return matrix


def warp_nearest(images: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """out[b, :, p] = images[b, :, round(matrix[b] @ (p, 1))], 0 outside;  (n, C, H, W), (n, 2, 3) -> (n, C, H, W).

    p runs over the output pixel centres in centred coordinates (torchvision's _gen_affine_grid);
    grid_sample(align_corners=False) turns a source point u into the index u + size/2 - 1/2 and,
    with mode="nearest", rounds it half to even (np.rint does the same, here in float64).
    """
    n, channels, height, width = images.shape
    x = np.arange(width) + (0.5 - width / 2)  # (W,) pixel centres, origin at the image centre
    y = np.arange(height) + (0.5 - height / 2)  # (H,)
    m = matrix[:, :, :, None]  # (n, 2, 3, 1)
    # Each image gets a ring of 0s (the fill) round it, so indices are 1 more than grid_sample's:
    # index + 1 = (m0 x + m2 + size/2 + 1/2) + m1 y: a term along the row (n, 1, W) plus one down the column (n, H, 1)
    col = np.rint((m[:, 0, 0] * x + m[:, 0, 2] + (width / 2 + 0.5))[:, None, :] + (m[:, 0, 1] * y)[:, :, None])
    row = np.rint((m[:, 1, 0] * x + m[:, 1, 2] + (height / 2 + 0.5))[:, None, :] + (m[:, 1, 1] * y)[:, :, None])
    # clamped onto the ring, every source point outside the image reads a 0
    np.clip(col, 0, width + 1, out=col)
    np.clip(row, 0, height + 1, out=row)
    padded = np.zeros((n, channels, height + 2, width + 2), dtype=images.dtype)
    padded[:, :, 1:-1, 1:-1] = images
    source = (row * (width + 2) + col).astype(np.intp)  # (n, H, W) into one padded plane
    # one index into the flat batch per output value (4x faster than take_along_axis); plane (b, c) starts at (bC + c) P
    plane = (height + 2) * (width + 2)
    planes = plane * np.arange(n * channels).reshape(n, channels, 1)
    return np.take(padded.reshape(-1), source.reshape(n, 1, height * width) + planes).reshape(images.shape)


def pairs(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """Per-image (x, y) pairs from scalars or (n,) arrays -> float64 (n, 2) (or (1, 2) for two scalars)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return np.stack([x, y], axis=-1).reshape(-1, 2)


def affine(images: np.ndarray, angle: np.ndarray | float = 0.0, translate: np.ndarray | tuple = (0.0, 0.0),
           shear: np.ndarray | tuple = (0.0, 0.0), center: tuple[float, float] | None = None) -> np.ndarray:
    """F.affine(x, angle, translate, scale=1, shear, NEAREST, fill=None, center) on uint8 tensors;  (n, C, H, W).

    angle (n,) or a scalar, translate and shear (n, 2) or pairs, in pixels and degrees;
    center in pixel coordinates of the top-left corner (None: the image centre).
    """
    n, _, height, width = images.shape
    # the tensor path measures the centre from the middle of the image: c - size / 2
    center_f = np.zeros(2) if center is None else np.asarray(center, dtype=np.float64) - [width / 2, height / 2]
    matrix = inverse_affine_matrix(np.broadcast_to(angle, (n,)), np.broadcast_to(translate, (n, 2)),
                                   np.broadcast_to(shear, (n, 2)), np.broadcast_to(center_f, (n, 2)))
    return warp_nearest(images, matrix)


def shear_x(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """out[i, j] = x[i, round(j + m (i + 1/2))]: shear about the top-left corner (center=[0, 0]);  (n, C, H, W)."""
    # _apply_op passes shear = degrees(atan(m)), so tan(shear) = m: the official AutoAugment shear
    return affine(images, shear=pairs(np.degrees(np.arctan(magnitude)), 0.0), center=(0.0, 0.0))


def shear_y(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """out[i, j] = x[round(i + m (j + 1/2)), j]: shear about the top-left corner;  (n, C, H, W), m (n,)."""
    return affine(images, shear=pairs(0.0, np.degrees(np.arctan(magnitude))), center=(0.0, 0.0))


def translate_x(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """out[i, j] = x[i, j - int(m)] (int truncates toward 0), 0 where that is outside;  (n, C, H, W), m (n,)."""
    return affine(images, translate=pairs(np.trunc(magnitude), 0.0))


def translate_y(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """out[i, j] = x[i - int(m), j], 0 where that is outside;  (n, C, H, W), m (n,)."""
    return affine(images, translate=pairs(0.0, np.trunc(magnitude)))


def rotate(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """F.rotate(x, m degrees): counter-clockwise about the image centre, corners cut, 0 fill;  (n, C, H, W), m (n,)."""
    # F.rotate asks _get_inverse_affine_matrix for -angle: affine's angle is clockwise, rotate's is not
    return affine(images, angle=-magnitude)


# ----------------------------------------------------------------------------------------------
# Colour ops: float32 blends with an image-wide "degenerate" image, as torchvision's _blend
# ----------------------------------------------------------------------------------------------


def blend(images: np.ndarray, degenerate: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """uint8(clamp(r x + (1 - r) y, 0, 255)), per image;  x uint8 (n, C, H, W), y broadcastable to it, r (n,) -> uint8.

    torchvision's _blend: r and 1 - r are taken in float64 and cast to float32 (a Python float times a
    uint8 tensor); the float32 sum is clamped and cast to uint8, which truncates toward zero.
    """
    r = ratio.astype(np.float32)[:, None, None, None]
    one_minus_r = (1.0 - ratio).astype(np.float32)[:, None, None, None]
    out = r * images.astype(np.float32)
    out += one_minus_r * np.asarray(degenerate, dtype=np.float32)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def rgb_to_grayscale(images: np.ndarray) -> np.ndarray:
    """uint8(0.2989 R + 0.587 G + 0.114 B) in float32, truncated as torchvision;  (n, 3, H, W) -> (n, 1, H, W) uint8."""
    red, green, blue = (images[:, k:k + 1].astype(np.float32) for k in range(3))
    wr, wg, wb = (np.float32(w) for w in GRAY_WEIGHTS)
    return (wr * red + wg * green + wb * blue).astype(np.uint8)  # < 255 * 0.9999, so no wrap-around


def brightness(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """adjust_brightness(x, 1 + m): blend with black;  (n, C, H, W), m (n,)."""
    return blend(images, np.float32(0.0), 1.0 + magnitude)


def color(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """adjust_saturation(x, 1 + m): blend with the (truncated) grayscale image;  (n, 3, H, W), m (n,)."""
    return blend(images, rgb_to_grayscale(images), 1.0 + magnitude)


def contrast(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """adjust_contrast(x, 1 + m): blend with the mean of the grayscale image;  (n, 3, H, W), m (n,)."""
    gray = rgb_to_grayscale(images)
    # the integer sum is exact, and so is torch's float32 sum of integers below 2**24
    mean = gray.reshape(len(images), -1).sum(axis=1).astype(np.float32) / np.float32(gray[0].size)
    return blend(images, mean[:, None, None, None], 1.0 + magnitude)


def sharpness(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """adjust_sharpness(x, 1 + m): blend with x smoothed by [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13,
    border pixels kept;  (n, C, H, W), m (n,)."""
    x = images.astype(np.int16)  # sums up to 13 * 255: int16 holds them, in half int32's memory traffic
    rows = x[..., :-2, :] + x[..., 1:-1, :] + x[..., 2:, :]  # (n, C, H-2, W): vertical 3-sums
    weighted = rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:] + 4 * x[..., 1:-1, 1:-1]  # 3x3 sums, centre x5
    smoothed = images.copy()
    # round(s / 13) in integers: s / 13 is never k + 1/2 (2 s = 13 (2k + 1) is odd), so torch's float32
    # conv2d, whatever its rounding error (~1e-5), rounds to the same integer
    smoothed[..., 1:-1, 1:-1] = (2 * weighted + 13) // 26
    return blend(images, smoothed, 1.0 + magnitude)


# ----------------------------------------------------------------------------------------------
# Pixel-value ops: posterize, solarize, and the two histogram ops
# ----------------------------------------------------------------------------------------------


def posterize(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """x & ~(2^(8 - bits) - 1), bits = int(m): keep the top bits;  (n, C, H, W), m (n,)."""
    bits = magnitude.astype(np.int64)
    mask = (-(2 ** (8 - bits)) & 0xFF).astype(np.uint8)  # torchvision's -int(2 ** (8 - bits)) as a uint8 mask
    return images & mask[:, None, None, None]


def solarize(images: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """255 - x where x >= m, else x;  (n, C, H, W), threshold m (n,)."""
    # for integer x, x >= m exactly when x >= ceil(m): an integer comparison, no float copy of the images
    threshold = np.ceil(magnitude).astype(np.int16)[:, None, None, None]
    # 255 - x is x XOR 255 for 8-bit x: XOR with 255 where solarized, with 0 elsewhere (np.where on uint8 is 20x slower)
    return images ^ ((images >= threshold) * np.uint8(255))


def autocontrast(images: np.ndarray, magnitude: np.ndarray | None = None) -> np.ndarray:
    """uint8(clamp((x - lo) 255 / (hi - lo), 0, 255)), lo, hi per image and channel (identity where lo = hi);
    (n, C, H, W) -> (n, C, H, W), in float32 as torchvision."""
    lo = images.min(axis=(2, 3), keepdims=True).astype(np.float32)  # (n, C, 1, 1)
    hi = images.max(axis=(2, 3), keepdims=True).astype(np.float32)
    flat = hi == lo  # torchvision: scale = 255 / 0 is inf, and there it sets lo = 0, scale = 1
    # torch evaluates `255 / tensor` as tensor.reciprocal() * 255, which is not always 255 / d in float32
    scale = np.divide(np.float32(1), hi - lo, out=np.ones_like(hi), where=~flat)
    scale[~flat] *= np.float32(255)
    lo[flat] = 0
    out = (images.astype(np.float32) - lo) * scale
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def equalize(images: np.ndarray, magnitude: np.ndarray | None = None) -> np.ndarray:
    """Histogram equalisation per image and channel: x -> (#{pixels < x} + step // 2) // step, where
    step = #{pixels below the brightest value} // 255 (identity where step = 0);  (n, C, H, W) uint8."""
    n, channels, height, width = images.shape
    flat = images.reshape(n * channels, height * width)  # one row per (image, channel)
    index = flat + 256 * np.arange(n * channels)[:, None]  # value x of row r -> bin 256 r + x
    hist = np.bincount(index.ravel(), minlength=256 * n * channels).reshape(n * channels, 256)
    brightest = flat.max(axis=1)
    # torchvision: step = sum of the nonzero bins but the last // 255; the last nonzero bin is the brightest's
    step = (height * width - hist[np.arange(n * channels), brightest]) // 255  # (n C,)
    darker = np.cumsum(hist, axis=1) - hist  # (n C, 256): pixels strictly darker than each value
    lut = (darker + step[:, None] // 2) // np.maximum(step, 1)[:, None]
    lut = np.where(step[:, None] == 0, np.arange(256), np.minimum(lut, 255))  # step 0: left as it is
    return np.take(lut.astype(np.uint8).reshape(-1), index).reshape(images.shape)  # lut[r, x] for value x of row r


def identity(images: np.ndarray, magnitude: np.ndarray | None = None) -> np.ndarray:
    """x;  (n, C, H, W)."""
    return images


OPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {  # in _augmentation_space's order
    "Identity": identity, "ShearX": shear_x, "ShearY": shear_y, "TranslateX": translate_x,
    "TranslateY": translate_y, "Rotate": rotate, "Brightness": brightness, "Color": color,
    "Contrast": contrast, "Sharpness": sharpness, "Posterize": posterize, "Solarize": solarize,
    "AutoContrast": autocontrast, "Equalize": equalize,
}


# ----------------------------------------------------------------------------------------------
# The policies: draw per image, then run each op once on the images that drew it
# ----------------------------------------------------------------------------------------------


def apply_ops(images: np.ndarray, op_index: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """out[b] = OPS[op_index[b]](images[b], magnitude[b]), one call per op drawn;  uint8 (B, C, H, W), (B,), (B,)."""
    out = images.copy()
    names = list(OPS)
    for k in np.unique(op_index):
        if names[k] == "Identity":
            continue
        group = np.flatnonzero(op_index == k)  # the images that drew op k
        out[group] = OPS[names[k]](images[group], magnitude[group])
    return out


def trivial_augment_wide(images: np.ndarray, rng: np.random.Generator, num_bins: int = NUM_BINS) -> np.ndarray:
    """x_b -> op_b(x_b, +-m_b): op_b uniform over the 14 ops, m_b uniform over its num_bins bins, negated
    with probability 1/2 where the op is signed;  uint8 (B, C, H, W) -> uint8 (B, C, H, W).

    Draws from rng, in order: B op indices, B bin indices, B signs (all drawn, used where they matter).
    """
    table, signed = magnitude_table(trivial_augment_space(num_bins), num_bins)
    batch = len(images)
    op_index = rng.integers(len(table), size=batch)
    bin_index = rng.integers(num_bins, size=batch)
    negative = rng.integers(2, size=batch) == 1  # torchvision: `if signed and torch.randint(2, (1,))`
    magnitude = table[op_index, bin_index]
    return apply_ops(images, op_index, np.where(signed[op_index] & negative, -magnitude, magnitude))


def check_rand_augment_args(num_ops: int, magnitude: int, num_bins: int = NUM_BINS) -> None:
    """Refuse what RandAugment(num_ops, magnitude, num_magnitude_bins=num_bins) cannot mean."""
    for name, value, high, bound in (("num_ops", num_ops, math.inf, ">= 0"),
                                     ("magnitude", magnitude, num_bins - 1, f"in [0, {num_bins - 1}]")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= high:
            raise ValueError(f"rand_augment: {name} must be an integer {bound} (num_bins={num_bins}), got {value!r}")


def rand_augment(images: np.ndarray, rng: np.random.Generator, num_ops: int = 2, magnitude: int = 9,
                 num_bins: int = NUM_BINS) -> np.ndarray:
    """num_ops rounds of x_b -> op_b(x_b, +-m[op_b]): op_b uniform over the 14 ops, the magnitude bin fixed,
    negated with probability 1/2 where signed;  uint8 (B, C, H, W) -> uint8 (B, C, H, W).

    Draws from rng, for each round in order: B op indices, then B signs.
    """
    check_rand_augment_args(num_ops, magnitude, num_bins)
    table, signed = magnitude_table(rand_augment_space(num_bins, *images.shape[-2:]), num_bins)
    batch = len(images)
    for _ in range(num_ops):
        op_index = rng.integers(len(table), size=batch)
        negative = rng.integers(2, size=batch) == 1
        value = table[op_index, magnitude]
        images = apply_ops(images, op_index, np.where(signed[op_index] & negative, -value, value))
    return images
