"""vit_np.train and examples/train_cifar.py: a run leaves its files, resumes bit for bit, and fails clearly.

Every run trains a 1-block ViT (hidden size 8) on 40 random 32x32 images written by the test in
CIFAR-10's canonical layout (cifar_fixture.make_cifar), 16 images per step: 3 steps per epoch,
the last one ragged. Nothing touches the network (--no-download). Interruptions are simulated
by raising KeyboardInterrupt (Ctrl-C) or another BaseException (a hard kill: nothing is saved)
from inside the training step.
"""
import csv
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import minigrad as mg
import vit_np.train
from minigrad.optim import AdamW
from cifar_fixture import make_cifar, write_pickle
from vit_np.augment import eval_transform
from vit_np.config import ViTConfig
from vit_np.settings import from_flags
from vit_np.model import ViTForClassification
from vit_np.train import METRIC_FIELDS, Trainer, evaluate

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "train_cifar.py"
_spec = importlib.util.spec_from_file_location("train_cifar", SCRIPT)  # examples/ is not a package
train_cifar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_cifar)

TINY = ["--hidden-size", "8", "--num-hidden-layers", "1", "--num-attention-heads", "2", "--batch-size", "16",
        "--limit-train", "40", "--limit-test", "40", "--no-download"]
STEPS_PER_EPOCH = 3  # ceil(40 / 16)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ["samples.png", "curves.png", "accuracy_vs_time.png", "attention.png", "confusion_matrix.png"]


def cli(data_dir, out_dir, *extra, progress=False):
    """The example's arguments for a tiny run on the test's data."""
    return ["--data-dir", str(data_dir), "--out-dir", str(out_dir), *TINY,
            *([] if progress else ["--no-progress"]), *extra]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    make_cifar(root, per_batch=40, n_test=40)
    return root


def skip_figures(mp):
    """Draw no PNGs: most of a tiny run's time, and beside the point when a test is about weights."""
    for name in ("plot_sample_images", "plot_curves", "plot_accuracy_vs_time", "plot_attention", "plot_confusion_matrix"):
        mp.setattr(train_cifar.plots, name, lambda *args, **kwargs: None)


@pytest.fixture
def no_figures(monkeypatch):
    skip_figures(monkeypatch)


@pytest.fixture(scope="module")
def reference(data_dir, tmp_path_factory):
    """The out-dir of an uninterrupted two-epoch run: what every resumed run must reproduce."""
    out = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:
        skip_figures(mp)
        assert train_cifar.main(cli(data_dir, out, "--epochs", "2")) == 0
    return out


def read_metrics(out_dir):
    with open(out_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def learning_columns(out_dir):
    """metrics.csv without the timing columns, which differ between any two runs."""
    keep = ("epoch", "train_loss", "test_loss", "accuracy", "lr")
    return [{k: row[k] for k in keep} for row in read_metrics(out_dir)]


def assert_trees_equal(a, b, path="checkpoint"):
    """Bit for bit: same keys, and arrays with the same dtype, shape and every value."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(map(str, a)) == sorted(map(str, b)), path
        for key in a:
            assert_trees_equal(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_trees_equal(x, y, f"{path}/{i}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype} {a.shape} vs {b.dtype} {b.shape}"
        assert np.array_equal(a, b), f"{path} differs, at most by {np.max(np.abs(a - b))}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def assert_same_run_state(out_a, out_b):
    """Model weights, AdamW state (step, exp_avg, exp_avg_sq, lr...), dropout RNG and position agree exactly."""
    a, b = mg.load(out_a / "checkpoint.npz"), mg.load(out_b / "checkpoint.npz")
    for part in ("model", "optimizer", "scheduler", "rng", "position"):
        assert_trees_equal(a[part], b[part], part)


def raise_on_call(mp, owner, name, n, error=KeyboardInterrupt):
    """Make owner.name raise `error` on its n-th call (1-based), as if Ctrl-C landed there."""
    original, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise error()
        return original(*args, **kwargs)

    mp.setattr(owner, name, wrapper)


# ----------------------------------------------------------------------------------------------
# A run and what it leaves behind
# ----------------------------------------------------------------------------------------------


def test_two_epoch_run_writes_metrics_checkpoints_and_figures(data_dir, tmp_path, capsys):
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2")) == 0
    out = capsys.readouterr().out
    for epoch in (1, 2):
        assert re.search(rf"Epoch {epoch}/2 - Train Loss: \d+\.\d{{4}}, Test Loss: \d+\.\d{{4}}, "
                         rf"Accuracy: \d+\.\d{{2}}%", out)
    rows = read_metrics(tmp_path)
    last, best = rows[-1], max(rows, key=lambda row: float(row["accuracy"]))
    assert f"Final: {float(last['accuracy']):.2f}% test accuracy after epoch 2" in out
    assert f"best.npz holds epoch {best['epoch']} ({float(best['accuracy']):.2f}%)" in out
    assert list(rows[0]) == METRIC_FIELDS and [int(r["epoch"]) for r in rows] == [1, 2]
    for row in rows:
        assert all(math.isfinite(float(v)) for v in row.values()), row
        assert 0.0 <= float(row["accuracy"]) <= 100.0
    for name in ("checkpoint.npz", "best.npz"):
        fresh = ViTForClassification(from_flags(train_cifar.parse_args(cli(data_dir, tmp_path)), ViTConfig))
        state = mg.load(tmp_path / name)["model"]
        assert sorted(state) == sorted(fresh.state_dict())
        fresh.load_state_dict(state)
    for name in FIGURES:
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
        assert matplotlib.image.imread(tmp_path / name).ndim == 3


def test_script_runs_as_a_user_runs_it(data_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(SCRIPT.relative_to(ROOT)), *cli(data_dir, tmp_path, "--epochs", "2", progress=True)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Epoch 2/2 - Train Loss: " in result.stdout and "Traceback" not in result.stderr
    assert len(read_metrics(tmp_path)) == 2
    assert all((tmp_path / name).is_file() for name in ["checkpoint.npz", "best.npz", *FIGURES])


def test_a_run_ends_by_saying_where_its_files_went(data_dir, tmp_path, monkeypatch, capsys):
    """The last line names the out-dir and every file written; the time axis names the thread count."""
    xlabels = []
    real = train_cifar.plots.plot_accuracy_vs_time

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        xlabels.append(fig.axes[0].get_xlabel())
        return fig

    monkeypatch.setattr(train_cifar.plots, "plot_accuracy_vs_time", spy)
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "1", "--threads", "3")) == 0
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    files = ["checkpoint.npz", "best.npz", "metrics.csv", *FIGURES]
    assert last == f"Wrote into {tmp_path.resolve()}: {', '.join(files)}"
    assert all((tmp_path / name).is_file() for name in files)
    assert xlabels == ["wall-clock minutes (train + test, 3 threads)"]


def test_eval_only_lists_only_the_figures_it_could_write(data_dir, reference, tmp_path, monkeypatch, capsys):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_cifar.plots, "plot_confusion_matrix", full_disk)
    args = ["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--limit-test", "40", "--no-download"]
    assert train_cifar.main([*args, "--eval-only", "--checkpoint", str(reference / "best.npz")]) == 0
    out, err = capsys.readouterr()
    assert out.rstrip().splitlines()[-1] == f"Wrote into {tmp_path.resolve()}: attention.png"
    assert f"warning: could not draw {tmp_path / 'confusion_matrix.png'} (No space left on device)" in err


def test_same_seed_same_run_other_seed_other_weights(data_dir, reference, tmp_path, no_figures):
    assert train_cifar.main(cli(data_dir, tmp_path / "again", "--epochs", "2")) == 0
    assert learning_columns(tmp_path / "again") == learning_columns(reference)
    assert_same_run_state(tmp_path / "again", reference)
    assert train_cifar.main(cli(data_dir, tmp_path / "other", "--epochs", "2", "--seed", "1")) == 0
    a, b = mg.load(tmp_path / "other" / "checkpoint.npz")["model"], mg.load(reference / "checkpoint.npz")["model"]
    assert not all(np.array_equal(a[k], b[k]) for k in a)


def test_evaluate_equals_a_direct_computation():
    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=16))  # dropout 0.1: eval mode matters
    images = np.random.default_rng(0).integers(0, 256, (10, 3, 32, 32), dtype=np.uint8)
    model.eval()
    with mg.no_grad():
        logits = model(mg.Tensor(eval_transform(images)))[0].numpy().astype(np.float64)  # (10, classes)
    preds = logits.argmax(axis=1)
    labels = np.where(np.arange(10) < 3, preds, (preds + 1) % 10)  # exactly 3 of 10 right
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log_softmax: (10, classes)
    model.train()
    loss, accuracy, got = evaluate(model, images, labels, batch_size=4)  # batches of 4, 4, 2
    assert model.training  # put back in the mode it was in
    np.testing.assert_array_equal(got, preds)
    assert accuracy == pytest.approx(100.0 * np.mean(preds == labels)) and accuracy == pytest.approx(30.0)
    assert loss == pytest.approx(-log_probs[np.arange(10), labels].mean(), rel=1e-5)


# ----------------------------------------------------------------------------------------------
# Resuming gives the weights of the uninterrupted run, bit for bit
# ----------------------------------------------------------------------------------------------


def test_resume_at_an_epoch_boundary(data_dir, reference, tmp_path):
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "1")) == 0
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2", "--resume")) == 0
    assert_same_run_state(tmp_path, reference)
    assert learning_columns(tmp_path) == learning_columns(reference)  # no duplicated rows


def test_a_kill_between_the_last_checkpoint_and_metrics_csv_loses_no_row(data_dir, reference, tmp_path):
    """SIGKILL after the last epoch's checkpoint but before metrics.csv is rewritten: the resumed run
    has nothing left to train, and still writes every epoch's row from the checkpoint's history."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "write_metrics", lambda self: None)  # as if killed before each rewrite
        assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2")) == 0
    assert not (tmp_path / "metrics.csv").exists()
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2", "--resume")) == 0
    assert learning_columns(tmp_path) == learning_columns(reference)


def parameter_count():
    return len(list(ViTForClassification(from_flags(train_cifar.parse_args(TINY), ViTConfig)).parameters()))


# Ctrl-C lands in step 5 (epoch 2, step 2): before it, after its forward and backward drew the
# dropout masks and filled the gradients, or halfway through the optimizer updating the parameters.
INTERRUPTS = {
    "between_steps": lambda: (Trainer, "train_step", STEPS_PER_EPOCH + 2),
    "after_backward": lambda: (AdamW, "step", STEPS_PER_EPOCH + 2),
    "inside_optimizer_step": lambda: (AdamW, "_update", (STEPS_PER_EPOCH + 1) * parameter_count() + 3),
}


@pytest.mark.parametrize("where", INTERRUPTS)
def test_ctrl_c_mid_epoch_then_resume(data_dir, reference, tmp_path, capsys, no_figures, where):
    with pytest.MonkeyPatch.context() as mp:
        raise_on_call(mp, *INTERRUPTS[where]())
        assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2")) == 130
    assert "--resume" in capsys.readouterr().err
    position = mg.load(tmp_path / "checkpoint.npz")["position"]
    assert (position["epoch"], position["batch"]) == (1, 1)  # epoch 2 (0-based 1), one step done
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2", "--resume")) == 0
    assert_same_run_state(tmp_path, reference)
    assert learning_columns(tmp_path) == learning_columns(reference)


def test_resume_on_another_thread_count_is_still_exact(data_dir, reference, tmp_path, no_figures):
    """The kernels give the same bits on any number of threads, so a run may resume on another machine."""
    with pytest.MonkeyPatch.context() as mp:
        raise_on_call(mp, Trainer, "train_step", STEPS_PER_EPOCH + 2)
        assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2", "--threads", "1")) == 130
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2", "--threads", "3", "--resume")) == 0
    assert_same_run_state(tmp_path, reference)
    assert learning_columns(tmp_path) == learning_columns(reference)


class HardKill(BaseException):
    """Not a KeyboardInterrupt: nothing catches it, so nothing is saved (like SIGKILL)."""


def test_hard_kill_then_resume_from_the_periodic_checkpoint(data_dir, reference, tmp_path, no_figures):
    with pytest.MonkeyPatch.context() as mp, pytest.raises(HardKill):
        raise_on_call(mp, Trainer, "train_step", STEPS_PER_EPOCH + 3, HardKill)  # epoch 2, step 3
        train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2", "--checkpoint-every", "2"))
    position = mg.load(tmp_path / "checkpoint.npz")["position"]
    assert (position["epoch"], position["batch"]) == (1, 2)  # written after epoch 2, step 2
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2", "--checkpoint-every", "2", "--resume")) == 0
    assert_same_run_state(tmp_path, reference)
    assert learning_columns(tmp_path) == learning_columns(reference)


# ----------------------------------------------------------------------------------------------
# Resume and eval-only errors: exit code 2 and a message naming the problem
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag, value, field", [("--batch-size", "8", "batch_size"), ("--seed", "1", "seed"),
                                                ("--hidden-size", "16", "hidden_size"),
                                                ("--label-smoothing", "0.1", "label_smoothing"),
                                                ("--augment", "crop-flip", "augment"), ("--grad-clip", "1.5", "grad_clip"),
                                                ("--patch-drop-rate", "0.5", "patch_drop_rate")])
def test_resume_with_other_settings_is_refused(data_dir, reference, tmp_path, capsys, flag, value, field):
    shutil.copy(reference / "checkpoint.npz", tmp_path / "checkpoint.npz")
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "3", "--resume", flag, value)) == 2
    err = capsys.readouterr().err
    assert field in err and value in err and "checkpoint.npz" in err


def test_resume_of_a_checkpoint_older_than_a_model_field_compares_the_fields_default(data_dir, reference, tmp_path,
                                                                                     capsys):
    """A checkpoint written before patch_drop_rate existed ran with its default (0): 0.5 is refused."""
    state = mg.load(reference / "checkpoint.npz")
    info = json.loads(state["info"])
    del info["model_config"]["patch_drop_rate"]
    mg.save({**state, "info": json.dumps(info)}, tmp_path / "checkpoint.npz")
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "3", "--resume", "--patch-drop-rate", "0.5")) == 2
    err = capsys.readouterr().err
    assert "patch_drop_rate=0.0 (this run: 0.5)" in err


def test_resume_without_a_checkpoint(data_dir, tmp_path, capsys):
    assert train_cifar.main(cli(data_dir, tmp_path, "--resume")) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and str(tmp_path / "checkpoint.npz") in err


def test_eval_only_reads_the_model_config_from_the_checkpoint(data_dir, reference, tmp_path, capsys):
    best = mg.load(reference / "best.npz")
    args = ["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--limit-test", "40", "--no-download"]
    assert train_cifar.main([*args, "--eval-only", "--checkpoint", str(reference / "best.npz")]) == 0
    assert f"Accuracy: {best['accuracy']:.2f}% on 40 test images" in capsys.readouterr().out
    for name in ("attention.png", "confusion_matrix.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
    assert not (tmp_path / "checkpoint.npz").exists()


def test_eval_only_with_9_test_crops_prints_both_accuracies(data_dir, reference, tmp_path, capsys):
    args = ["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--limit-test", "40", "--no-download"]
    assert train_cifar.main([*args, "--eval-only", "--checkpoint", str(reference / "best.npz"), "--test-crops", "9"]) == 0
    model = ViTForClassification.from_checkpoint(reference / "best.npz")
    images, labels = train_cifar.load_cifar10(data_dir, train=False, limit=40)
    crops = evaluate(model, images, labels, crops=9)[1]
    out = capsys.readouterr().out
    assert f"{crops:.2f}% test accuracy as the mean of 9 crops; " in out and "Accuracy: " in out


def test_eval_only_with_a_missing_checkpoint(data_dir, tmp_path, capsys):
    missing = tmp_path / "nowhere.npz"
    assert train_cifar.main(cli(data_dir, tmp_path, "--eval-only", "--checkpoint", str(missing))) == 2
    assert str(missing) in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# Data, output directory and command line errors
# ----------------------------------------------------------------------------------------------


def test_missing_data_names_the_files_and_the_flag(tmp_path, capsys):
    assert train_cifar.main(cli(tmp_path / "no_data", tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert all(s in err for s in ["data_batch_1", "test_batch", "--data-dir", str(tmp_path / "no_data")])


def test_corrupt_batch_file_is_named(tmp_path, capsys):
    make_cifar(tmp_path / "data")
    bad = tmp_path / "data" / "cifar-10-batches-py" / "test_batch"
    write_pickle(bad, [1, 2, 3])
    assert train_cifar.main(cli(tmp_path / "data", tmp_path / "out")) == 2
    assert str(bad) in capsys.readouterr().err


def test_unwritable_out_dir(data_dir, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a directory")
    assert train_cifar.main(cli(data_dir, tmp_path / "a_file" / "run")) == 2
    assert "--out-dir" in capsys.readouterr().err


def test_unknown_flag_is_an_argparse_error():
    with pytest.raises(SystemExit) as exit_info:
        train_cifar.main(["--no-such-flag"])
    assert exit_info.value.code == 2


# ----------------------------------------------------------------------------------------------
# A loss that is not finite stops the run and leaves the last good checkpoint alone
# ----------------------------------------------------------------------------------------------


def poison_batch(monkeypatch, epoch, batch):
    """Training batch `batch` (0-based) of `epoch` (0-based) becomes all NaN: the loss will be NaN."""
    original = vit_np.train.DataLoader.batches

    def batches(self, start=0):
        for i, (x, y) in enumerate(original(self, start), start=start):
            poisoned = self.shuffle and self.epoch == epoch and i == batch
            yield (np.full_like(x, np.nan) if poisoned else x), y

    monkeypatch.setattr(vit_np.train.DataLoader, "batches", batches)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(data_dir, tmp_path, monkeypatch, capsys, no_figures):
    assert train_cifar.main(cli(data_dir, tmp_path / "one", "--epochs", "1")) == 0
    poison_batch(monkeypatch, epoch=1, batch=1)
    assert train_cifar.main(cli(data_dir, tmp_path / "run", "--epochs", "2")) == 1
    assert "epoch 2, step 2" in capsys.readouterr().err
    assert_same_run_state(tmp_path / "run", tmp_path / "one")  # still the end of epoch 1
    assert len(read_metrics(tmp_path / "run")) == 1


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow that makes the loss NaN
def test_absurd_learning_rate_stops_with_exit_code_1(data_dir, tmp_path, capsys, no_figures):
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "2", "--lr", "1e12")) == 1
    err = capsys.readouterr().err
    assert re.search(r"loss became (nan|inf) at epoch \d+, step \d+", err) and "--lr" in err
    assert ("still holds the last good state" in err) == (tmp_path / "checkpoint.npz").is_file()


# ----------------------------------------------------------------------------------------------
# At real batch sizes, on every thread: the same seed gives the same bits
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar_real")
    make_cifar(root, per_batch=160, n_test=256)  # 800 training images: 3 steps of 256
    return root


def real_cli(data_dir, out_dir, *extra):
    """The tutorial's model and batch size (dropout on), 3 steps per epoch, a checkpoint after every step."""
    return ["--data-dir", str(data_dir), "--out-dir", str(out_dir), "--limit-train", "768", "--limit-test", "256",
            "--epochs", "2", "--checkpoint-every", "1", "--no-download", "--no-progress", *extra]


def test_real_batches_on_every_thread_give_the_same_bits(real_data_dir, tmp_path, monkeypatch, no_figures):
    """Batch 256 on 2 threads: the kernels split each product across the threads, and two runs end on
    the same bits; a run hard-killed on 1 thread and resumed on 2 reaches them too."""
    from minigrad.kernels import parallel

    most = [0]
    original_chunks = parallel.chunks

    def counting(n, grain):
        pieces = original_chunks(n, grain)
        most[0] = max(most[0], len(pieces))
        return pieces

    monkeypatch.setattr(parallel, "chunks", counting)
    assert train_cifar.main(real_cli(real_data_dir, tmp_path / "a", "--threads", "2")) == 0
    assert most[0] >= 8  # e.g. Linear's 16,640 rows: 17 chunks of 1024, shared by the 2 threads
    assert train_cifar.main(real_cli(real_data_dir, tmp_path / "b", "--threads", "2")) == 0
    assert_same_run_state(tmp_path / "a", tmp_path / "b")
    with pytest.MonkeyPatch.context() as mp, pytest.raises(HardKill):
        raise_on_call(mp, Trainer, "train_step", STEPS_PER_EPOCH + 2, HardKill)  # epoch 2, step 2
        train_cifar.main(real_cli(real_data_dir, tmp_path / "c", "--threads", "1"))
    assert train_cifar.main(real_cli(real_data_dir, tmp_path / "c", "--threads", "2", "--resume")) == 0
    assert_same_run_state(tmp_path / "c", tmp_path / "a")
    assert learning_columns(tmp_path / "c") == learning_columns(tmp_path / "a")


def test_eval_every_tests_every_nth_epoch_and_the_last(data_dir, tmp_path, capsys):
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "3", "--eval-every", "2")) == 0
    rows = read_metrics(tmp_path)
    tested = [math.isfinite(float(row["accuracy"])) for row in rows]
    assert tested == [False, True, True]  # epoch 2, and the last
    assert all(math.isfinite(float(row["train_loss"])) for row in rows)
    out = capsys.readouterr().out
    assert "Epoch 1/3 - Train Loss: " in out and "not tested this epoch (--eval-every)" in out
    assert mg.load(tmp_path / "best.npz")["epoch"] in (2, 3)
    for name in ("curves.png", "accuracy_vs_time.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
