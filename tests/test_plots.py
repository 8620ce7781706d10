"""vit_np.plots: every figure is a readable PNG of the size asked for, and the maths behind it is right.

The attention upsampling is checked against torch.nn.functional.interpolate (the tutorial calls
it on the same maps), cls_attention_map and confusion_matrix against small hand-made examples.
"""
import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
import torch
import torch.nn.functional as tF

from vit_np import plots

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, fig):
    """A PNG file that matplotlib reads back at the figure's size in pixels."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    width, height = np.round(fig.get_size_inches() * plots.DPI).astype(int)
    assert matplotlib.image.imread(path).shape == (height, width, 4)


def images_uint8(n=10, layout="chw"):
    x = np.random.default_rng(0).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    return x if layout == "chw" else x.transpose(0, 2, 3, 1)


@pytest.mark.parametrize("layout", ["chw", "hwc"])
def test_to_display_accepts_both_layouts(layout):
    shown = plots.to_display(images_uint8(2, layout))
    assert shown.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(shown, images_uint8(2, "hwc") / 255.0)


def test_to_display_undoes_normalize():
    x = images_uint8(2)
    normalized = (x.astype(np.float32) / 255 - 0.5) / 0.5
    np.testing.assert_allclose(plots.to_display(normalized), plots.to_display(x), atol=1e-6)


@pytest.mark.parametrize("normalized", [False, True])
def test_plot_sample_images_writes_a_png(tmp_path, normalized):
    x = images_uint8(12)
    x = (x.astype(np.float32) / 255 - 0.5) / 0.5 if normalized else x
    labels = np.arange(12) % 10
    fig = plots.plot_sample_images(x, labels, CLASSES, tmp_path / "samples.png", n=12, ncols=6)
    assert_png(tmp_path / "samples.png", fig)
    assert [ax.get_title() for ax in fig.axes] == [CLASSES[i] for i in labels]


def test_plot_curves_writes_two_panels(tmp_path):
    history = [dict(epoch=e, train_loss=2.0 / e, test_loss=2.1 / e, accuracy=10.0 * e) for e in range(1, 6)]
    fig = plots.plot_curves(history, tmp_path / "sub" / "curves.png")
    assert_png(tmp_path / "sub" / "curves.png", fig)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train loss", "test loss"]
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_ydata(), [10, 20, 30, 40, 50])


@pytest.mark.parametrize("row, message", [
    (dict(epoch=1, train_loss=1.0, accuracy=50.0), "test_loss"),
    (dict(epoch=1, train_loss=1.0, test_loss=1.0, accuracy=155.0), "percentage"),
])
def test_plot_curves_names_a_bad_history_entry(tmp_path, row, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_curves([row], tmp_path / "curves.png")


def test_plot_accuracy_vs_time_one_line_per_run_in_minutes(tmp_path):
    fast = [dict(accuracy=40.0 + e, elapsed_seconds=60.0 * e) for e in range(1, 4)]
    slow = [dict(accuracy=30.0 + e, elapsed_seconds=120.0 * e) for e in range(1, 3)]
    slow[-1]["accuracy"] = 77.96
    fig = plots.plot_accuracy_vs_time({"fast": fast, "slow": slow}, tmp_path / "acc.png", target=78,
                                      budget_minutes=120)
    assert_png(tmp_path / "acc.png", fig)
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    # each run's legend entry ends with its last accuracy, to two decimals (77.96 next to a 78% line
    # must not round to 78.0), and its last time in minutes
    fast_label, slow_label = "fast: 43.00% at 3 min", "slow: 77.96% at 4 min"
    assert set(lines) == {fast_label, slow_label, "78%", "120 min"}
    np.testing.assert_allclose(lines[fast_label].get_xdata(), [1, 2, 3])  # seconds -> minutes
    np.testing.assert_allclose(lines[slow_label].get_ydata(), [31, 77.96])
    np.testing.assert_allclose(lines["78%"].get_ydata(), [78, 78])
    np.testing.assert_allclose(lines["120 min"].get_xdata(), [120, 120])
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == [fast_label, slow_label, "78%", "120 min"]


def test_plot_accuracy_vs_time_marks_the_test_on_9_crops(tmp_path):
    nan = float("nan")
    run = [dict(accuracy=40.0, elapsed_seconds=60.0, tta_accuracy=nan),
           dict(accuracy=50.0, elapsed_seconds=120.0, tta_accuracy=52.5)]
    fig = plots.plot_accuracy_vs_time({"r": run}, tmp_path / "acc.png")
    (ax,) = fig.axes
    line, star = ax.get_lines()
    assert line.get_label() == "r: 50.00% at 2 min (52.50% on 9 crops, star)"
    assert star.get_marker() == "*" and star.get_color() == line.get_color()
    np.testing.assert_allclose(star.get_xdata(), [2.0])
    np.testing.assert_allclose(star.get_ydata(), [52.5])


def test_plot_accuracy_vs_time_names_a_bad_entry(tmp_path):
    with pytest.raises(ValueError, match=r"run 'a' entry 0 lacks \['elapsed_seconds'\]"):
        plots.plot_accuracy_vs_time({"a": [dict(accuracy=1.0)]}, tmp_path / "acc.png")


def test_read_metrics_reads_what_the_trainer_writes(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,accuracy,elapsed_seconds\n1,30.5,100\n2,41,200.5\n")
    assert plots.read_metrics(tmp_path / "metrics.csv") == [
        dict(epoch=1.0, accuracy=30.5, elapsed_seconds=100.0), dict(epoch=2.0, accuracy=41.0, elapsed_seconds=200.5)]


def test_cls_attention_map_by_hand():
    # 1 image, 2 heads, T = 1 + 4 tokens: row 0 (the [CLS] query), columns 1: (the patches).
    attention = np.zeros((1, 2, 5, 5))
    attention[0, 0, 0] = [0.2, 0.1, 0.2, 0.3, 0.2]
    attention[0, 1, 0] = [0.0, 0.3, 0.4, 0.1, 0.2]
    attention[0, :, 1:] = 99.0  # other queries must not leak in
    expected = [[[0.2, 0.3], [0.2, 0.2]]]  # mean over heads of [0.1, 0.2, 0.3, 0.2] and [0.3, 0.4, 0.1, 0.2]
    np.testing.assert_allclose(plots.cls_attention_map(attention), expected)


def test_cls_attention_map_needs_a_square_grid():
    with pytest.raises(ValueError, match="square grid"):
        plots.cls_attention_map(np.zeros((1, 2, 6, 6)))


@pytest.mark.parametrize("grid, size", [(8, 32), (4, 32), (3, 7), (2, 2)])
def test_upsample_bilinear_matches_torch(grid, size):
    maps = np.random.default_rng(grid).random((3, grid, grid), dtype=np.float32)
    expected = tF.interpolate(torch.from_numpy(maps)[:, None], size=(size, size), mode="bilinear",
                              align_corners=False)[:, 0]
    np.testing.assert_allclose(plots.upsample_bilinear(maps, (size, size)), expected.numpy(), rtol=0, atol=1e-6)


def test_upsample_bilinear_by_hand():
    # 2 -> 4 along each axis: weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1) (edges clamp).
    got = plots.upsample_bilinear(np.array([[[0.0, 4.0], [8.0, 12.0]]], dtype=np.float32), (4, 4))
    row = np.array([0.0, 1.0, 3.0, 4.0])
    np.testing.assert_allclose(got[0], np.stack([row, row + 2, row + 6, row + 8]))


@pytest.mark.parametrize("raw", [True, False], ids=["raw_attention", "maps"])
def test_plot_attention_titles_are_green_when_right_red_when_wrong(tmp_path, raw):
    labels = np.arange(10)
    preds = np.where(labels % 3 == 0, (labels + 1) % 10, labels)  # images 0, 3, 6, 9 are wrong
    attention = np.random.default_rng(0).random((10, 4, 65, 65)).astype(np.float32)
    attention = attention if raw else plots.cls_attention_map(attention)
    fig = plots.plot_attention(images_uint8(10), attention, labels, preds, CLASSES, tmp_path / "attention.png")
    assert_png(tmp_path / "attention.png", fig)
    assert len(fig.axes) == 10
    for i, ax in enumerate(fig.axes):
        assert ax.get_xlim() == (-0.5, 63.5)  # both halves shown: the image, and the image under its map
        assert ax.get_title() == f"GT: {CLASSES[labels[i]]} | Pred: {CLASSES[preds[i]]}"
        assert matplotlib.colors.same_color(ax.title.get_color(), "red" if i % 3 == 0 else "green")


def test_confusion_matrix_by_hand():
    counts = plots.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], num_classes=3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])  # rows: true, columns: predicted
    assert counts.dtype == np.int64


def test_confusion_matrix_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match=r"y_pred must be in \[0, 3\)"):
        plots.confusion_matrix([0, 1], [0, 3], num_classes=3)


def test_plot_confusion_matrix_writes_counts(tmp_path):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 10, 200))
    fig = plots.plot_confusion_matrix(y_true, y_pred, CLASSES, tmp_path / "confusion.png")
    assert_png(tmp_path / "confusion.png", fig)
    ax = fig.axes[0]
    cells = [int(t.get_text()) for t in ax.texts]
    np.testing.assert_array_equal(cells, plots.confusion_matrix(y_true, y_pred, 10).ravel())
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES


def test_plot_attention_per_head_has_a_row_per_block_and_a_column_per_head(tmp_path):
    maps = np.random.default_rng(0).random((3, 2, 8, 8))  # 3 blocks, 2 heads
    fig = plots.plot_attention_per_head(images_uint8(1)[0], maps, tmp_path / "heads.png", title="an image")
    assert_png(tmp_path / "heads.png", fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 3 * 3 and titles[:3] == ["block 1", "head 1", "head 2"] and titles[3] == "block 2"
    assert fig._suptitle.get_text() == "an image"


def test_plot_attention_views_titles_each_row_and_view(tmp_path):
    views = {"last block": np.ones((2, 8, 8)), "rollout": np.zeros((2, 8, 8))}
    fig = plots.plot_attention_views(images_uint8(2), views, [0, 3], [0, 5], CLASSES, tmp_path / "views.png")
    assert_png(tmp_path / "views.png", fig)
    titles = [(ax.get_title(), ax.title.get_color()) for ax in fig.axes]
    assert titles[0] == ("airplane | airplane", "green") and titles[3] == ("cat | dog", "red")
    assert [t for t, _ in titles[1:3]] == ["last block", "rollout"]


def dot_pixels(path, fig, ax, x, y, colour, radius=6):
    """How many pixels of `colour` the PNG has within `radius` pixels of the data point (x, y) of `ax`."""
    image = matplotlib.image.imread(path)[..., :3]
    px, py = ax.transData.transform((x, y)) * plots.DPI / fig.dpi  # display -> the PNG's pixels
    row, col = int(round(image.shape[0] - py)), int(round(px))  # the PNG's rows run top to bottom
    patch = image[row - radius:row + radius + 1, col - radius:col + radius + 1]
    return int((np.abs(patch - matplotlib.colors.to_rgb(colour)).max(axis=-1) < 0.1).sum())


ONE_EPOCH = [dict(epoch=1, train_loss=2.0, test_loss=1.9, accuracy=30.0, elapsed_seconds=90.0)]


def test_plot_curves_draws_a_one_epoch_run_as_dots(tmp_path):
    fig = plots.plot_curves(ONE_EPOCH, tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    for ax, line in [(loss_ax, loss_ax.get_lines()[0]), (loss_ax, loss_ax.get_lines()[1]),
                     (acc_ax, acc_ax.get_lines()[0])]:
        (x,), (y,) = line.get_xdata(), line.get_ydata()
        assert dot_pixels(tmp_path / "curves.png", fig, ax, x, y, line.get_color()) >= 12, line.get_label()
    for ax in (loss_ax, acc_ax):  # the epoch axis reads 1, not 0.945 0.960 ...
        assert [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]] == [1]


def test_plot_accuracy_vs_time_draws_a_one_epoch_run_as_a_dot(tmp_path):
    fig = plots.plot_accuracy_vs_time({"one epoch": ONE_EPOCH}, tmp_path / "acc.png")
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    assert dot_pixels(tmp_path / "acc.png", fig, ax, 1.5, 30.0, line.get_color()) >= 12


@pytest.mark.parametrize("threads, text", [(3, ", 3 threads"), (1, ", 1 thread"), (None, "")])
def test_plot_accuracy_vs_time_names_the_thread_count(tmp_path, threads, text):
    fig = plots.plot_accuracy_vs_time({"r": ONE_EPOCH}, tmp_path / "acc.png", threads=threads)
    assert fig.axes[0].get_xlabel() == f"wall-clock minutes (train + test{text})"
