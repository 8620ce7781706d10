"""Draw the ViT's patch embedding as what it is: cutting the image into patches, then one matmul.

    python examples/draw_patching.py                      # -> examples/figures/patching.png
    python examples/draw_patching.py --image photo.png --out /tmp/patching.png

A 32x32 RGB image is cut into 8 x 8 = 64 patches of 4 x 4 pixels. Im2Col (the op inside
minigrad's conv2d) lays each patch out as one row of 3*4*4 = 48 numbers: the (64, 48) patch
matrix. Multiplying it by W^T, the conv's (48, 3, 4, 4) weight reshaped to (48, 48), gives one
48-dim embedding per patch; the script checks that this is exactly conv2d(x, W, stride=4).

    (B, 3, 32, 32) -> im2col -> (B, 64, 48) @ W^T (48, 48) + b -> (B, 64, 48)

The picture is made with NumPy and matplotlib only; the image is drawn procedurally (no dataset).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch, Rectangle

import minigrad as mg
import minigrad.functional as F
from minigrad.functional.linear import Im2Col

SIZE, P, HIDDEN = 32, 4, 48  # image side, patch side, embedding width (the tutorial's CIFAR ViT)
N = (SIZE // P) ** 2  # 64 patches
HIGHLIGHT = 2 * (SIZE // P) + 5  # the patch traced through every panel: patch row 2, column 5 (the sun)
FEATURE = 40  # the output feature highlighted: out[HIGHLIGHT, FEATURE] = patch row . column FEATURE of W^T


def synthetic_image(size: int = SIZE) -> np.ndarray:
    """A CIFAR-like 32x32 scene (sky, sun, hills, house) as (size, size, 3) float32 in [0, 1]."""
    v, u = np.mgrid[0:size, 0:size] / (size - 1)  # v: down, u: right, both in [0, 1]
    img = np.stack([0.35 + 0.4 * v, 0.55 + 0.3 * v, 0.95 - 0.2 * v], axis=-1)  # sky, lighter near the horizon
    sun = (u - 0.72) ** 2 + (v - 0.25) ** 2 < 0.016
    img[sun] = (1.0, 0.85, 0.2)
    hills = v > 0.62 + 0.08 * np.sin(6.0 * u)
    img[hills] = np.stack([0.2 + 0.1 * u, 0.55 + 0.2 * v, 0.2 + 0 * u], axis=-1)[hills]
    wall = (u > 0.15) & (u < 0.42) & (v > 0.55) & (v < 0.85)
    img[wall] = (0.8, 0.25, 0.2)
    roof = (v > 0.38) & (v <= 0.55) & (np.abs(u - 0.285) < (v - 0.38) * 1.0)
    img[roof] = (0.45, 0.2, 0.15)
    img[(u > 0.25) & (u < 0.32) & (v > 0.7) & (v < 0.85)] = (0.3, 0.2, 0.1)  # door
    return img.astype(np.float32)


def load_image(path: str) -> np.ndarray:
    """Any PNG/JPEG matplotlib reads, as (32, 32, 3) float32 in [0, 1] (nearest-neighbour resize)."""
    import matplotlib.image

    img = np.asarray(matplotlib.image.imread(path))
    img = img[..., :3] if img.ndim == 3 else np.repeat(img[..., None], 3, axis=-1)  # drop alpha / grey -> RGB
    img = img.astype(np.float32) / (255.0 if img.dtype.kind in "ui" else 1.0)
    rows = np.arange(SIZE) * img.shape[0] // SIZE
    cols = np.arange(SIZE) * img.shape[1] // SIZE
    return img[rows][:, cols]


def patch_embedding(img: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """im2col, then one matmul; checked against minigrad's conv2d."""
    x = mg.Tensor(img.transpose(2, 0, 1)[None])  # (32, 32, 3) -> (B=1, 3, 32, 32)
    mg.manual_seed(seed)
    weight = mg.randn(HIDDEN, 3, P, P) * 0.2  # the conv's weight (48, 3, 4, 4)
    bias = mg.randn(HIDDEN) * 0.1
    patches = Im2Col.apply(x, kernel=(P, P), stride=(P, P), padding=(0, 0))  # (1, 8, 8, 48)
    patches = patches.numpy().reshape(1, N, 3 * P * P)  # (1, 8, 8, 48) -> (B, 64, 48), patches in reading order
    w_t = weight.numpy().reshape(HIDDEN, 3 * P * P).T  # (48, 3, 4, 4) -> (48, 48) -> W^T (in = 48, out = 48)
    out = patches @ w_t + bias.numpy()  # (B, 64, 48) @ (48, 48) -> (B, 64, 48)
    conv = F.conv2d(x, weight, bias, stride=P).numpy()  # (1, 48, 8, 8)
    conv = conv.reshape(1, HIDDEN, N).transpose(0, 2, 1)  # (1, 48, 8, 8) -> (B, 64, 48), as PatchEmbeddings
    diff = float(np.abs(out - conv).max())
    if diff > 1e-5:
        raise AssertionError(f"im2col @ W^T differs from conv2d by {diff}")
    return {"image": img, "patches": patches[0], "w_t": w_t, "out": out[0], "diff": np.float64(diff)}


def patch_rgb(patches: np.ndarray) -> np.ndarray:
    """The (64, 48) patch matrix in colour: columns 0-15 are red values, 16-31 green, 32-47 blue."""
    rgb = np.zeros(patches.shape + (3,), dtype=np.float32)
    for c in range(3):
        cols = slice(c * P * P, (c + 1) * P * P)
        rgb[:, cols, c] = patches[:, cols]
    return rgb


def draw(d: dict[str, np.ndarray], path: str) -> None:
    """Four panels, left to right: image -> patch matrix @ W^T (+ b) = patch embeddings."""
    fig = Figure(figsize=(17, 6.8))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 4, width_ratios=[1.35, 1, 1, 1], left=0.02, right=0.98, top=0.84, bottom=0.1,
                            wspace=0.4)
    ax_img, ax_pm, ax_w, ax_out = axes = [fig.add_subplot(grid[0, k]) for k in range(4)]
    draw_image(ax_img, d["image"])
    ax_pm.imshow(patch_rgb(d["patches"]), aspect="auto", interpolation="nearest")
    ax_pm.set_xticks([(c + 0.5) * P * P - 0.5 for c in range(3)], ["red pixels", "green pixels", "blue pixels"])
    for c in range(1, 3):
        ax_pm.axvline(c * P * P - 0.5, color="white", lw=1.5)
    for ax, m in ((ax_w, d["w_t"]), (ax_out, d["out"])):
        limit = float(np.abs(m).max())
        ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        ax.set_xlabel("output feature", fontsize=9)
    for ax in (ax_pm, ax_out):  # the highlighted patch's row
        ax.add_patch(Rectangle((-0.5, HIGHLIGHT - 0.5), ax.get_xlim()[1] + 0.5, 1, fill=False, ec="black", lw=2.2))
    ax_w.add_patch(Rectangle((FEATURE - 0.5, -0.5), 1, 3 * P * P, fill=False, ec="black", lw=2.2))
    ax_out.add_patch(Rectangle((FEATURE - 0.5, HIGHLIGHT - 0.5), 1, 1, fill=True, fc="yellow", ec="black", lw=1.5))
    r, c = divmod(HIGHLIGHT, SIZE // P)  # from the patch's right edge to its row
    fig.add_artist(ConnectionPatch(xyA=((c + 1) * P - 0.5, (r + 0.5) * P - 0.5), coordsA=ax_img.transData,
                                   xyB=(-0.5, HIGHLIGHT), coordsB=ax_pm.transData, arrowstyle="-|>", lw=1.5))
    for left, right, text in zip(axes, axes[1:], ["im2col", "@", "+ b  ="]):
        x = left.get_position().x1 + 0.3 * (right.get_position().x0 - left.get_position().x1)  # clear of tick labels
        fig.text(x, 0.5, text, ha="center", va="center", fontsize=15 if len(text) < 3 else 12, weight="bold")
    label(fig, axes, float(d["diff"]))
    fig.savefig(path, dpi=90)


def label(fig: Figure, axes: list, diff: float) -> None:
    titles = [f"image (3, {SIZE}, {SIZE}): {SIZE // P} x {SIZE // P} patches of {P} x {P} pixels,\n"
              "numbered in reading order",
              f"patch matrix ({N}, {3 * P * P}), made by Im2Col:\nrow i = the 3*{P}*{P} pixels of patch i",
              f"W^T ({3 * P * P}, {HIDDEN}): the conv weight ({HIDDEN}, 3, {P}, {P})\n"
              f"reshaped to ({HIDDEN}, {3 * P * P}), transposed",
              f"patch embeddings ({N}, {HIDDEN}): row i = token i;\n"
              f"out[{HIGHLIGHT}, {FEATURE}] = row {HIGHLIGHT} . column {FEATURE} + b[{FEATURE}]"]
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=10)
    axes[2].set_ylabel("input: a patch's pixel (R, G, B)", fontsize=9)
    fig.text(0.5, 0.015, f"check: im2col @ W^T + b equals minigrad's conv2d(x, W, b, stride={P}) "
             f"(as PatchEmbeddings uses it) to a max |difference| of {diff:.1g}", ha="center", fontsize=10)
    fig.suptitle(f"Patch embedding as a matmul:  (B, 3, {SIZE}, {SIZE}) -> im2col -> (B, {N}, {3 * P * P}) "
                 f"@ W^T ({3 * P * P}, {HIDDEN}) -> (B, {N}, {HIDDEN})", fontsize=14)


def draw_image(ax, img: np.ndarray) -> None:
    """The image with its patch grid; each patch labelled with its row in the patch matrix."""
    ax.imshow(img, interpolation="nearest")
    for k in range(1, SIZE // P):
        ax.axhline(k * P - 0.5, color="white", lw=1)
        ax.axvline(k * P - 0.5, color="white", lw=1)
    for i in range(N):
        r, c = divmod(i, SIZE // P)
        ax.text(c * P + 1.5, r * P + 1.5, str(i), ha="center", va="center", fontsize=7, color="white",
                weight="bold" if i == HIGHLIGHT else "normal")
    r, c = divmod(HIGHLIGHT, SIZE // P)
    ax.add_patch(Rectangle((c * P - 0.5, r * P - 0.5), P, P, fill=False, ec="black", lw=2.5))
    ax.set_xticks([])
    ax.set_yticks([])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="a PNG/JPEG to use instead of the drawn scene (resized to 32x32)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "figures" / "patching.png"))
    args = parser.parse_args(argv)
    img = load_image(args.image) if args.image else synthetic_image()
    d = patch_embedding(img)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    draw(d, args.out)
    print(f"im2col @ W^T + b == conv2d: max |difference| = {d['diff']:.1e}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
