"""vit_np.autoaugment: TrivialAugmentWide and RandAugment, op by op, against torchvision and Pillow.

torchvision cannot be imported here, so its tensor path (transforms/_functional_tensor.py and
functional.py, which TrivialAugmentWide runs on uint8 tensors) is rewritten below with torch ops,
one image (3, H, W) at a time, as torchvision writes it: that is the oracle the batch ops must equal
exactly. Pillow (what torchvision calls for PIL images) is the second oracle; where its arithmetic
differs from the tensor path, the test says how and allows exactly that difference.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as tF
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from vit_np import autoaugment as aa
from vit_np.augment import TRANSFORMS, eval_transform, random_crop_flip

OP_NAMES = list(aa.OPS)
GEOMETRIC = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")


def sample_images(n, height=32, width=32, seed=0):
    """n uint8 images (n, 3, H, W) of kinds that stress different ops, in turn: uniform noise, low contrast,
    noisy gradients, a flat colour, two levels, and noise with a 0 and a 255 in every channel."""
    rng, shape = np.random.default_rng(seed), (3, height, width)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    kinds = [lambda: rng.integers(0, 256, shape), lambda: rng.integers(100, 141, shape),
             lambda: 255 * np.stack([xx, yy, (xx + yy) / 2]) * rng.uniform(0.3, 1.0) + rng.normal(0, 6, shape),
             lambda: np.broadcast_to(rng.integers(0, 256, (3, 1, 1)), shape),
             lambda: np.where(rng.random(shape) < 0.3, 40, 200), lambda: rng.integers(0, 256, shape)]
    images = np.stack([np.clip(kinds[b % len(kinds)](), 0, 255) for b in range(n)]).astype(np.uint8)
    images[len(kinds) - 1::len(kinds), :, 0, 0], images[len(kinds) - 1::len(kinds), :, -1, -1] = 0, 255
    return images


# -- torchvision's tensor path, written out with torch ops ----------------------------------------------


def tv_augmentation_space(policy, num_bins=31, height=32, width=32):
    """TrivialAugmentWide / RandAugment._augmentation_space with torch tensors (torchvision's code)."""
    wide = policy == "trivial"
    return {
        "Identity": (torch.tensor(0.0), False),
        "ShearX": (torch.linspace(0.0, 0.99 if wide else 0.3, num_bins), True),
        "ShearY": (torch.linspace(0.0, 0.99 if wide else 0.3, num_bins), True),
        "TranslateX": (torch.linspace(0.0, 32.0 if wide else 150.0 / 331.0 * width, num_bins), True),
        "TranslateY": (torch.linspace(0.0, 32.0 if wide else 150.0 / 331.0 * height, num_bins), True),
        "Rotate": (torch.linspace(0.0, 135.0 if wide else 30.0, num_bins), True),
        "Brightness": (torch.linspace(0.0, 0.99 if wide else 0.9, num_bins), True),
        "Color": (torch.linspace(0.0, 0.99 if wide else 0.9, num_bins), True),
        "Contrast": (torch.linspace(0.0, 0.99 if wide else 0.9, num_bins), True),
        "Sharpness": (torch.linspace(0.0, 0.99 if wide else 0.9, num_bins), True),
        "Posterize": (8 - (torch.arange(num_bins) / ((num_bins - 1) / (6 if wide else 4))).round().int(), False),
        "Solarize": (torch.linspace(255.0, 0.0, num_bins), False),
        "AutoContrast": (torch.tensor(0.0), False),
        "Equalize": (torch.tensor(0.0), False),
    }


def tv_inverse_affine_matrix(center, angle, translate, scale, shear):
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    (cx, cy), (tx, ty) = center, translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in [d, -b, 0.0, -c, a, 0.0]]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
    matrix[2] += cx
    matrix[5] += cy
    return matrix


def tv_warp(img, matrix):
    """F_t.affine / F_t.rotate (expand=False, fill=None): _gen_affine_grid, then grid_sample(nearest)."""
    _, h, w = img.shape
    theta = torch.tensor(matrix, dtype=torch.float32).reshape(1, 2, 3)
    base = torch.empty(1, h, w, 3)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + 0.5, w * 0.5 + 0.5 - 1, steps=w))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + 0.5, h * 0.5 + 0.5 - 1, steps=h).unsqueeze_(-1))
    base[..., 2].fill_(1)
    grid = base.view(1, h * w, 3).bmm(theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])).view(1, h, w, 2)
    out = tF.grid_sample(img[None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out[0].round().to(torch.uint8)


def tv_geometric_matrix(name, magnitude, height, width):
    """The inverse matrix F.affine / F.rotate hand to the tensor path for a geometric op of _apply_op."""
    if name == "Rotate":  # F.rotate asks for -angle, about the centre
        return tv_inverse_affine_matrix([0.0, 0.0], -magnitude, [0.0, 0.0], 1.0, [0.0, 0.0])
    if name.startswith("Translate"):
        translate = [float(int(magnitude)), 0.0] if name == "TranslateX" else [0.0, float(int(magnitude))]
        return tv_inverse_affine_matrix([0.0, 0.0], 0.0, translate, 1.0, [0.0, 0.0])
    shear = math.degrees(math.atan(magnitude))
    center_f = [0 - width * 0.5, 0 - height * 0.5]  # center=[0, 0] in pixels, measured from the middle
    return tv_inverse_affine_matrix(center_f, 0.0, [0.0, 0.0], 1.0, [shear, 0.0] if name == "ShearX" else [0.0, shear])


def tv_blend(img1, img2, ratio):
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, 255).to(torch.uint8)


def tv_grayscale(img):
    r, g, b = img.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(dim=-3)


def tv_blurred_degenerate(img):
    kernel = torch.ones((3, 3))
    kernel[1, 1] = 5.0
    kernel /= kernel.sum()
    smoothed = tF.conv2d(img[None].float(), kernel.expand(img.shape[-3], 1, 3, 3), groups=img.shape[-3])
    result = img.clone()
    result[..., 1:-1, 1:-1] = smoothed[0].round().to(torch.uint8)
    return result


def tv_autocontrast(img):
    minimum = img.amin(dim=(-2, -1), keepdim=True).to(torch.float32)
    maximum = img.amax(dim=(-2, -1), keepdim=True).to(torch.float32)
    scale = 255 / (maximum - minimum)
    eq_idxs = torch.isfinite(scale).logical_not()
    minimum[eq_idxs] = 0
    scale[eq_idxs] = 1
    return ((img - minimum) * scale).clamp(0, 255).to(img.dtype)


def tv_scale_channel(chan):
    hist = torch.bincount(chan.reshape(-1), minlength=256)
    nonzero_hist = hist[hist != 0]
    step = torch.div(nonzero_hist[:-1].sum(), 255, rounding_mode="floor")
    if step == 0:
        return chan
    lut = torch.div(torch.cumsum(hist, 0) + torch.div(step, 2, rounding_mode="floor"), step, rounding_mode="floor")
    lut = tF.pad(lut, [1, 0])[:-1].clamp(0, 255)
    return lut[chan.to(torch.int64)].to(torch.uint8)


def tv_apply_op(img, name, magnitude):
    """torchvision.transforms.autoaugment._apply_op on one uint8 tensor (3, H, W), fill=None, NEAREST."""
    if name in ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"):
        return tv_warp(img, tv_geometric_matrix(name, magnitude, *img.shape[-2:]))
    if name == "Brightness":
        return tv_blend(img, torch.zeros_like(img), 1.0 + magnitude)
    if name == "Color":
        return tv_blend(img, tv_grayscale(img), 1.0 + magnitude)
    if name == "Contrast":
        mean = torch.mean(tv_grayscale(img).to(torch.float32), dim=(-3, -2, -1), keepdim=True)
        return tv_blend(img, mean, 1.0 + magnitude)
    if name == "Sharpness":
        return tv_blend(img, tv_blurred_degenerate(img), 1.0 + magnitude)
    if name == "Posterize":
        return img & -int(2 ** (8 - int(magnitude)))
    if name == "Solarize":
        return torch.where(img >= magnitude, 255 - img, img)
    if name == "AutoContrast":
        return tv_autocontrast(img)
    if name == "Equalize":
        return torch.stack([tv_scale_channel(img[c]) for c in range(img.size(0))])
    assert name == "Identity"
    return img


def tv_batch(images, names, magnitudes):
    """The oracle, image by image: (B, 3, H, W) uint8, B names, B magnitudes -> (B, 3, H, W) uint8."""
    return np.stack([tv_apply_op(torch.from_numpy(img.copy()), name, float(m)).numpy()
                     for img, name, m in zip(images, names, magnitudes, strict=True)])


def every_magnitude(name):
    """Every magnitude either policy can give op `name` on 32x32 images: all bins, both signs where signed."""
    values = []
    for policy in ("trivial", "rand"):
        magnitudes, signed = tv_augmentation_space(policy)[name]
        bins = [float(m) for m in magnitudes.reshape(-1)]
        values += bins + ([-m for m in bins] if signed else [])
    return np.array(values)


# -- the bins --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["trivial", "rand"])
@pytest.mark.parametrize("num_bins, height, width", [(31, 32, 32), (10, 24, 40)])
def test_augmentation_spaces_equal_torchvisions(policy, num_bins, height, width):
    ours = aa.trivial_augment_space(num_bins) if policy == "trivial" else aa.rand_augment_space(num_bins, height, width)
    theirs = tv_augmentation_space(policy, num_bins, height, width)
    assert list(ours) == list(theirs) == OP_NAMES  # the same ops in the same order: op indices agree
    for name, (magnitudes, signed) in theirs.items():
        assert ours[name][1] == signed, name
        if magnitudes.ndim == 0:
            assert ours[name][0] is None, name
        else:
            np.testing.assert_array_equal(ours[name][0], magnitudes.numpy().astype(np.float32), err_msg=name)
    # the float32 bins matter: torch.linspace(0, 32, 31)[15] is 15.999999, so that translation is 15 pixels
    assert int(aa.trivial_augment_space()["TranslateX"][0][15]) == 15


# -- each op against torchvision's formula, over every magnitude the policies use -------------------------


def tv_source_index(name, magnitude, height, width):
    """The pixel index (col, row) the tensor path rounds, for every output pixel, here in float64:
    M @ (centred pixel centre) + size/2 - 1/2 (grid_sample's unnormalisation, align_corners=False)."""
    y, x = np.mgrid[0:height, 0:width] + 0.5
    x, y = x - width / 2, y - height / 2
    a, b, c, d, e, f = tv_geometric_matrix(name, magnitude, height, width)
    return a * x + b * y + c + width / 2 - 0.5, d * x + e * y + f + height / 2 - 0.5


def read_pixels(img, col, row):
    """img[:, row, col] where inside the image, else 0;  img (C, H, W), integer-valued col, row (H, W)."""
    _, h, w = img.shape
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    return np.where(inside, img[:, np.clip(row, 0, h - 1).astype(int), np.clip(col, 0, w - 1).astype(int)], 0)


def assert_matches_torchvision(got, images, names, magnitudes):
    """got[b] against tv_apply_op(images[b], names[b], magnitudes[b]): exactly, except that a geometric op
    may read the other of two pixels at a rounding tie.

    torch computes the source index in float32 (theta, the grid's bmm, the normalisation by size/2 and
    back: a few roundings of values below 64, each under 4e-6), so where the exact index is within 1e-4
    (that error, with room to spare) of a half-integer, float32 error may round it either way; ours is
    rounded from float64. Ties happen e.g. at Rotate(+-135) (the diagonal) and RandAugment's shears 0.01 k
    (rows where 0.01 k (i + 1/2) is a half-integer). There both results must be one of the tied pixels.
    """
    assert got.dtype == np.uint8 and got.shape == images.shape
    want = tv_batch(images, names, magnitudes)
    for b, (name, m) in enumerate(zip(names, magnitudes, strict=True)):
        if name not in GEOMETRIC:
            np.testing.assert_array_equal(got[b], want[b], err_msg=f"{name} m={m}")
            continue
        col, row = tv_source_index(name, float(m), *images.shape[-2:])
        col_tie, row_tie = np.abs(col % 1 - 0.5) < 1e-4, np.abs(row % 1 - 0.5) < 1e-4
        tie = col_tie | row_tie
        assert (got[b] == want[b]).all(axis=0)[~tie].all(), f"{name} m={m}: differs from torchvision away from a tie"
        cols = [np.where(col_tie, np.floor(col) + k, np.rint(col)) for k in (0, 1)]  # both roundings at a tie
        rows = [np.where(row_tie, np.floor(row) + k, np.rint(row)) for k in (0, 1)]
        either = np.stack([read_pixels(images[b], c, r) for c in cols for r in rows])  # (4, C, H, W)
        for result in (got[b], want[b]):
            assert (result == either).all(axis=1).any(axis=0)[tie].all(), f"{name} m={m}: not a tied pixel"


@pytest.mark.parametrize("height, width", [(32, 32), (24, 40)])  # 24 x 40: rows and columns are not mixed up
@pytest.mark.parametrize("name", OP_NAMES)
def test_op_equals_torchvision_tensor_path(name, height, width):
    """One batched call with a different magnitude per image, over every magnitude the policies use."""
    magnitudes = every_magnitude(name)
    images = sample_images(len(magnitudes), height, width, seed=OP_NAMES.index(name))
    assert_matches_torchvision(aa.OPS[name](images, magnitudes), images, [name] * len(images), magnitudes)


def test_autocontrast_over_every_range():
    """Every hi - lo from 1 to 255: the float32 scale must be torch's (255 / d is computed as (1 / d) * 255)."""
    rng = np.random.default_rng(53)
    d = np.arange(1, 256)[:, None, None, None]
    lo = rng.integers(0, 256 - d)  # (255, 1, 1, 1)
    images = (lo + np.rint(rng.random((255, 3, 32, 32)) * d)).astype(np.uint8)
    images[:, :, 0, 0], images[:, :, -1, -1] = lo[:, :, 0, 0], (lo + d)[:, :, 0, 0]  # both ends present
    assert_matches_torchvision(aa.autocontrast(images), images, ["AutoContrast"] * 255, [0.0] * 255)


def test_geometric_ops_by_hand():
    x = np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(aa.translate_x(x, np.array([1.9]))[0, 0, :, 0], 0)  # int(1.9) = 1 pixel right
    np.testing.assert_array_equal(aa.translate_x(x, np.array([1.9]))[0, 0, :, 1:], x[0, 0, :, :-1])
    np.testing.assert_array_equal(aa.translate_y(x, np.array([-1.0]))[0, 0, :-1], x[0, 0, 1:])  # 1 pixel up
    np.testing.assert_array_equal(aa.rotate(x, np.array([90.0]))[0, 0], np.rot90(x[0, 0]))  # counter-clockwise
    # shear row i by m (i + 1/2) about the top-left corner: row 0 by 0.25 (rounds to 0), row 3 by 1.75 (to 2)
    sheared = [[0, 1, 2, 3], [5, 6, 7, 0], [9, 10, 11, 0], [14, 15, 0, 0]]
    np.testing.assert_array_equal(aa.shear_x(x, np.array([0.5]))[0, 0], sheared)


# -- each op against Pillow ------------------------------------------------------------------------------


def to_pil(img):
    return Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)))


def from_pil(pil):
    return np.asarray(pil).transpose(2, 0, 1)


def pil_geometric(img, name, m):
    """torchvision's PIL path for a geometric op -> (result, the inverse matrix Pillow samples with)."""
    _, h, w = img.shape
    if name == "Rotate":  # Image.rotate's own matrix: -angle in radians about (w/2, h/2), entries rounded to 15 digits
        angle = -math.radians(m)
        cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
        matrix = [cos, sin, w / 2 - cos * w / 2 - sin * h / 2, -sin, cos, h / 2 + sin * w / 2 - cos * h / 2]
        return from_pil(to_pil(img).rotate(m, Image.NEAREST, expand=False, fillcolor=0)), matrix
    degrees = math.degrees(math.atan(m))
    shear = {"ShearX": [degrees, 0.0], "ShearY": [0.0, degrees]}.get(name, [0.0, 0.0])
    translate = {"TranslateX": [int(m), 0], "TranslateY": [0, int(m)]}.get(name, [0, 0])
    center = [0.0, 0.0] if name.startswith("Shear") else [w * 0.5, h * 0.5]  # F.affine's PIL centre, in pixels
    matrix = tv_inverse_affine_matrix(center, 0.0, translate, 1.0, shear)
    return from_pil(to_pil(img).transform((w, h), Image.AFFINE, matrix, Image.NEAREST, fillcolor=0)), matrix


def pil_source_pixels(matrix, h, w):
    """Which pixel Pillow reads for each output pixel -> (exact, fixed, u), each a (col, row) pair of (H, W).

    u = matrix @ (x + 1/2, y + 1/2, 1) in float64; exact: floor(u), Pillow's rule for NEAREST; fixed: the same in
    16.16 fixed point, as Pillow's affine_fixed (libImaging/Geometry.c) computes it whenever the matrix
    has a shear or rotation part: coefficients rounded to 1/65536, then (a2 + a0 x + a1 y) >> 16.
    """
    a, b, c, d, e, f = matrix
    y, x = np.mgrid[0:h, 0:w]
    u = a * (x + 0.5) + b * (y + 0.5) + c, d * (x + 0.5) + e * (y + 0.5) + f  # the source points

    def fix(v):
        return math.floor(v * 65536.0 + 0.5)

    a0, a1, a3, a4 = fix(a), fix(b), fix(d), fix(e)
    a2, a5 = fix(c + a * 0.5 + b * 0.5), fix(f + d * 0.5 + e * 0.5)
    return (np.floor(u[0]), np.floor(u[1])), ((a2 + a0 * x + a1 * y) >> 16, (a5 + a3 * x + a4 * y) >> 16), u


@pytest.mark.parametrize("name", GEOMETRIC)
def test_geometric_op_equals_pillow(name):
    """Pillow reads pixel floor(u) at its source point u; the tensor path (and ours) reads
    round_half_even(u - 1/2): the same pixel unless u is an integer (a tie: Rotate(+-135) puts the diagonal
    exactly there). And Pillow computes u in 16.16 fixed point when it shears or rotates, which moves the
    pixel it reads where u is within that rounding (~5e-4) of a pixel edge. There, and only there, we differ."""
    magnitudes = every_magnitude(name)
    images = sample_images(len(magnitudes), seed=11)
    got = aa.OPS[name](images, magnitudes)
    for b, m in enumerate(magnitudes):
        want, matrix = pil_geometric(images[b], name, float(m))
        (col, row), (fixed_col, fixed_row), (u, v) = pil_source_pixels(matrix, *images.shape[-2:])
        moved = (col != fixed_col) | (row != fixed_row)  # (H, W): where fixed point changed the pixel read
        # an integer u, up to float64 error (~1e-14 here; 1e-9 leaves room): floor and round-half-even part
        tie = (np.abs(u - np.round(u)) < 1e-9) | (np.abs(v - np.round(v)) < 1e-9)
        differs = (got[b] != want).any(axis=0)
        assert not (differs & ~moved & ~tie).any(), f"{name} m={m}: differs from Pillow away from ties and 16.16 moves"


@pytest.mark.parametrize("name, enhance", [("Brightness", ImageEnhance.Brightness), ("Color", ImageEnhance.Color),
                                           ("Contrast", ImageEnhance.Contrast), ("Sharpness", ImageEnhance.Sharpness)])
def test_colour_op_agrees_with_pillow(name, enhance):
    magnitudes = every_magnitude(name)
    images = sample_images(len(magnitudes), seed=13)
    got = aa.OPS[name](images, magnitudes)
    for b, m in enumerate(magnitudes):
        factor = 1.0 + float(m)
        want = from_pil(enhance(to_pil(images[b])).enhance(factor))
        diff = np.abs(got[b].astype(int) - want)
        if name == "Brightness":  # Image.blend(black, x, f) = 0 + f x in float32, truncated: exactly f x + (1 - f) 0
            bound = 0
        elif name in ("Color", "Sharpness"):
            # trunc(y + f (x - y)) both, but Pillow evaluates that form and torch f x + (1 - f) y, whose float32
            # roundings may straddle an integer; and Color's gray is Pillow's, 0 or 1 above torchvision's (see
            # test_degenerate_images_against_pillow), moving the result by |1 - f| < 1. So |A - B| < 1 before trunc.
            bound = 1
        else:  # Contrast: Pillow's degenerate is round(mean of its L image), torchvision's the float mean of its
            # gray image; differing by d they move the result by |1 - f| d, and truncation adds less than 1
            pil_mean = np.asarray(to_pil(images[b]).convert("L"), dtype=np.float64).mean()
            d = abs(int(pil_mean + 0.5) - float(tv_grayscale(torch.from_numpy(images[b])).float().mean()))
            bound = math.floor(abs(1.0 - factor) * d) + 1
        assert diff.max() <= bound, f"{name} f={factor}: max diff {diff.max()} > {bound}"


def test_degenerate_images_against_pillow():
    """ImageFilter.SMOOTH is the same kernel / 13 with borders copied; Pillow rounds half up, torch half to even,
    but s / 13 is never a half: identical. Pillow's L = round(0.299 R + 0.587 G + 0.114 B); torchvision
    truncates 0.2989 R + 0.587 G + 0.114 B, at most 0.0255 lower: Pillow's is the same or 1 higher."""
    images = sample_images(12, seed=17)
    smoothed = aa.sharpness(images, np.full(12, -1.0))  # factor 0: the smoothed image itself
    for img, smooth, gray in zip(images, smoothed, aa.rgb_to_grayscale(images), strict=True):
        np.testing.assert_array_equal(smooth, from_pil(to_pil(img).filter(ImageFilter.SMOOTH)))
        delta = np.asarray(to_pil(img).convert("L"), dtype=int) - gray[0]
        assert delta.min() >= 0 and delta.max() <= 1


@pytest.mark.parametrize("name", ["Posterize", "Solarize", "Equalize"])
def test_lut_op_equals_pillow(name):
    """ImageOps.posterize / solarize / equalize compute the same lookup tables as torchvision: exact."""
    magnitudes = every_magnitude(name)
    images = sample_images(len(magnitudes), seed=23)
    got = aa.OPS[name](images, magnitudes)
    for b, m in enumerate(magnitudes):
        pil = to_pil(images[b])
        if name == "Posterize":
            want = ImageOps.posterize(pil, int(m))
        else:
            want = ImageOps.solarize(pil, float(m)) if name == "Solarize" else ImageOps.equalize(pil)
        np.testing.assert_array_equal(got[b], from_pil(want), err_msg=f"{name} m={m}")


def test_autocontrast_agrees_with_pillow_except_at_exact_integers():
    """Both map x to trunc((x - lo) 255 / (hi - lo)) per channel. Away from integers that value is at least
    1 / (hi - lo) >= 1/255 from one, far beyond float error, so both truncate alike; where it is an exact
    integer n, float32 (torch) or float64 (Pillow's x scale + offset) may land just below and give n - 1."""
    images = sample_images(36, seed=29)
    got = aa.autocontrast(images)
    for b in range(len(images)):
        want = from_pil(ImageOps.autocontrast(to_pil(images[b])))
        x = images[b].astype(int)
        lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
        exact_integer = (255 * (x - lo)) % np.maximum(hi - lo, 1) == 0
        diff = np.abs(got[b].astype(int) - want)
        assert diff.max() <= 1 and not (diff[~exact_integer] > 0).any()


# -- the policies ---------------------------------------------------------------------------------------


def test_trivial_augment_wide_equals_torchvision_per_image():
    """TrivialAugmentWide.forward image by image, with the draws trivial_augment_wide documents:
    B op indices, B bin indices, B signs."""
    images = sample_images(300, seed=31)
    got = aa.trivial_augment_wide(images, np.random.default_rng(7))
    rng, space = np.random.default_rng(7), tv_augmentation_space("trivial")
    op_index, bin_index, sign = rng.integers(14, size=300), rng.integers(31, size=300), rng.integers(2, size=300)
    names, magnitudes = [OP_NAMES[k] for k in op_index], []
    for name, k, negative in zip(names, bin_index, sign, strict=True):
        values, signed = space[name]
        magnitude = float(values[k].item()) if values.ndim > 0 else 0.0
        magnitudes.append(-magnitude if signed and negative else magnitude)
    assert_matches_torchvision(got, images, names, magnitudes)


@pytest.mark.parametrize("num_ops, magnitude", [(2, 9), (1, 5), (3, 14)])
def test_rand_augment_equals_torchvision_per_image(num_ops, magnitude):
    """RandAugment(num_ops, magnitude).forward image by image: each round draws B ops, then B signs.
    Rounds are checked one at a time, each on our previous round's output, so that a pixel read at a
    rounding tie (see assert_matches_torchvision) is not carried into the next round's comparison."""
    images = sample_images(200, seed=37)
    got = aa.rand_augment(images, np.random.default_rng(3), num_ops=num_ops, magnitude=magnitude)
    rng, space, ours = np.random.default_rng(3), tv_augmentation_space("rand"), images
    for _ in range(num_ops):
        op_index, sign = rng.integers(14, size=len(images)), rng.integers(2, size=len(images))
        names = [OP_NAMES[k] for k in op_index]
        magnitudes = [float(space[n][0][magnitude].item()) if space[n][0].ndim > 0 else 0.0 for n in names]
        magnitudes = [-m if space[n][1] and s else m for n, m, s in zip(names, magnitudes, sign, strict=True)]
        round_output = aa.apply_ops(ours, op_index, np.array(magnitudes))
        assert_matches_torchvision(round_output, ours, names, magnitudes)
        ours = round_output
    np.testing.assert_array_equal(got, ours)


@pytest.mark.parametrize("policy", [aa.trivial_augment_wide, aa.rand_augment])
def test_policies_draw_per_image_and_are_deterministic(policy):
    images = np.repeat(sample_images(1, seed=41), 64, axis=0)  # 64 copies of one image
    out = policy(images, np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == images.shape
    # one draw for the whole batch would give 1 distinct result; 14 ops x 31 bins x 2 signs give many
    assert len({o.tobytes() for o in out}) > 20
    np.testing.assert_array_equal(out, policy(images, np.random.default_rng(0)))
    assert not np.array_equal(out, policy(images, np.random.default_rng(1)))


def test_drawn_ops_bins_and_signs_are_uniform(monkeypatch):
    """Capture what trivial_augment_wide hands to apply_ops on a large batch and chi-square it. The bounds
    are the 0.999 quantiles of chi2(13) = 34.53 and chi2(30) = 59.70 (a fixed seed: the test is
    deterministic, and a uniform draw fails it with probability 0.001)."""
    seen = {}

    def record(images, op_index, magnitude):
        seen.update(op=op_index, m=magnitude)
        return images

    monkeypatch.setattr(aa, "apply_ops", record)
    aa.trivial_augment_wide(np.zeros((14 * 31 * 20, 3, 4, 4), dtype=np.uint8), np.random.default_rng(0))
    counts = np.bincount(seen["op"], minlength=14)
    expected = len(seen["op"]) / 14
    assert ((counts - expected) ** 2 / expected).sum() < 34.53, counts
    rotate = seen["m"][seen["op"] == OP_NAMES.index("Rotate")]  # Rotate's bins are 4.5 k degrees, k = 0..30
    bins = np.bincount(np.rint(np.abs(rotate) / 4.5).astype(int), minlength=31)
    assert ((bins - len(rotate) / 31) ** 2 / (len(rotate) / 31)).sum() < 59.70, bins
    negative = (rotate < 0).sum() / (rotate != 0).sum()
    assert abs(negative - 0.5) < 3 * 0.5 / math.sqrt((rotate != 0).sum())  # within 3 standard deviations


# -- the training transforms -----------------------------------------------------------------------------


@pytest.mark.parametrize("name, policy", [("crop-flip-trivial", aa.trivial_augment_wide),
                                          ("crop-flip-randaugment", aa.rand_augment)])
def test_registered_transforms(name, policy):
    images = sample_images(32, seed=47)
    out = TRANSFORMS[name](images, np.random.default_rng(9))
    assert out.dtype == np.float32 and out.shape == (32, 3, 32, 32)
    assert out.min() >= -1.0 and out.max() <= 1.0
    rng = np.random.default_rng(9)  # crop + flip, then the policy, then ToTensor + Normalize, from one generator
    np.testing.assert_array_equal(out, eval_transform(policy(random_crop_flip(images, rng), rng)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(magnitude=31), r"magnitude must be an integer in \[0, 30\] \(num_bins=31\), got 31"),
    (dict(magnitude=-1), r"magnitude must be an integer in \[0, 30\]"),
    (dict(magnitude=4, num_bins=4), r"magnitude must be an integer in \[0, 3\] \(num_bins=4\), got 4"),
    (dict(num_ops=-1), "num_ops must be an integer >= 0"), (dict(num_ops=True), "num_ops must be an integer >= 0"),
])
def test_rand_augment_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=f"rand_augment: {message}"):
        aa.rand_augment(sample_images(2), np.random.default_rng(0), **kwargs)


def test_rand_augment_with_no_ops_is_the_identity():
    images = sample_images(4)
    np.testing.assert_array_equal(aa.rand_augment(images, np.random.default_rng(0), num_ops=0), images)
