"""Nothing is lost: hard kills at random moments, memory that stays flat, optimizers on zero gradients.

The kill tests run real processes and end them with SIGKILL (no handler runs, nothing is
flushed), at moments drawn from a seeded generator, so every run of the test kills at the same
offsets; what differs from run to run is where in the work those offsets land.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import minigrad as mg
from cifar_fixture import make_cifar
from minigrad.optim import AdamW
from minigrad.testing import assert_close

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "train_cifar.py"
TINY = ["--hidden-size", "8", "--num-hidden-layers", "1", "--num-attention-heads", "2", "--batch-size", "8", "--limit-train", "40",
        "--limit-test", "16", "--epochs", "3", "--checkpoint-every", "1", "--no-download", "--no-progress"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def run_to_the_end(data_dir, out_dir) -> float:
    """Train TINY to the end; return the seconds from its first checkpoint write to its last one, as seen
    by polling: the span of the run in which kills can land, which depends on this machine's speed."""
    ckpt = out_dir / "checkpoint.npz"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--data-dir", str(data_dir), "--out-dir", str(out_dir),
                             *TINY], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen, first, last, deadline = None, None, None, time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if (mtime := _mtime(ckpt)) != seen:
            seen, last = mtime, time.monotonic()
            first = first or last
        time.sleep(0.001)
    if proc.poll() is None:
        proc.kill()
        pytest.fail("the unbroken run took over 300 s")
    assert proc.returncode == 0, proc.stderr.read().decode()
    assert first is not None, "the run wrote no checkpoint"
    return last - first


def test_sigkill_at_random_moments_then_resume_reaches_the_same_weights(tmp_path):
    """Start, wait for a new checkpoint (progress), SIGKILL at a random moment in the next quarter of the
    span an unbroken run takes from its first checkpoint to its last (a quarter, so that several kills
    land however fast the machine); repeat with --resume until a run finishes by itself: the weights
    must be those of the unbroken run. After each kill, the same command without --resume is refused and
    changes nothing."""
    data_dir = tmp_path / "data"
    make_cifar(data_dir, per_batch=8, n_test=16)
    span = run_to_the_end(data_dir, tmp_path / "straight")
    out, ckpt = tmp_path / "killed", tmp_path / "killed" / "checkpoint.npz"
    rng, kills = np.random.default_rng(0), 0
    for _ in range(40):
        resume = ["--resume"] if ckpt.exists() else []
        before = _mtime(ckpt)
        proc = subprocess.Popen([sys.executable, str(SCRIPT), "--data-dir", str(data_dir), "--out-dir", str(out),
                                 *TINY, *resume], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while proc.poll() is None and _mtime(ckpt) == before and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is None:
            time.sleep(rng.uniform(0.0, span / 4))  # somewhere in a step, an epoch end or a checkpoint write
        if proc.poll() is not None:  # finished by itself
            assert proc.returncode == 0, proc.stderr.read().decode()
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        mg.load(ckpt)  # always a whole checkpoint: the previous one or the new one
        if ckpt.exists():  # the user forgets --resume: refused, and the killed run is left as it was
            before = ckpt.read_bytes()
            again = subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(data_dir), "--out-dir", str(out),
                                    *TINY], env=ENV, capture_output=True, text=True, timeout=120)
            assert again.returncode == 2 and "already holds a run" in again.stderr, again.stderr
            assert ckpt.read_bytes() == before
    else:
        pytest.fail("40 attempts and the run never finished")
    assert kills >= 3, f"only {kills} kills landed before the run finished: the test proved little"
    a, b = mg.load(ckpt), mg.load(tmp_path / "straight" / "checkpoint.npz")
    for name, value in b["model"].items():
        np.testing.assert_array_equal(a["model"][name], value, err_msg=f"model weight {name}")
    for index, state in b["optimizer"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(a["optimizer"]["state"][index][key], state[key])
    assert (out / "metrics.csv").read_text().count("\n") == 4  # header + 3 epochs, no duplicates


WRITER = textwrap.dedent("""
    import sys, numpy as np, minigrad as mg
    path, n = sys.argv[1], 0
    while True:  # alternate two 16 MB checkpoints as fast as possible, until killed
        fill = n % 2
        mg.save({"model": {"w": np.full((2048, 2048), fill, np.float32)}, "version": fill}, path)
        print(n, flush=True)
        n += 1
""")


def test_sigkill_during_checkpoint_writes_leaves_a_whole_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.npz"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    for delay in np.random.default_rng(1).uniform(0.6, 1.6, size=5):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], env=ENV, stdout=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not path.exists():
            continue
        state = mg.load(path)  # whole: the previous version or the new one, never a torn mix
        assert state["version"] in (0, 1)
        assert np.all(state["model"]["w"] == state["version"])


MEMORY_RUN = textwrap.dedent("""
    import numpy as np, minigrad as mg, minigrad.functional as F
    from minigrad.optim import AdamW
    from vit_np import ViTConfig, ViTForClassification

    def rss_mib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                           intermediate_size=64))
    opt = AdamW(model.parameters())
    rng = np.random.default_rng(0)
    for step in range(1, 301):
        x = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
        loss = F.cross_entropy(model(x)[0], rng.integers(0, 10, 32))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (20, 300):
            print(step, rss_mib(), flush=True)
""")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_memory_stays_flat_over_300_training_steps(tmp_path):
    script = tmp_path / "memory_run.py"
    script.write_text(MEMORY_RUN)
    done = subprocess.run([sys.executable, str(script)], env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rss = {int(step): float(mib) for step, mib in (line.split() for line in done.stdout.split("\n") if line)}
    assert rss[300] <= rss[20] * 1.05 + 8, f"RSS grew from {rss[20]:.1f} MiB at step 20 to {rss[300]:.1f} MiB"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_adamw_with_zero_gradients_only_decays(dtype):
    """Zero gradients: m = v = 0, the Adam term is 0/(0 + eps) = 0, and only weight decay acts."""
    start = np.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    p, t = mg.Tensor(start.copy(), requires_grad=True), torch.tensor(start.copy(), requires_grad=True)
    ours, theirs = AdamW([p], lr=0.1, weight_decay=0.5), torch.optim.AdamW([t], lr=0.1, weight_decay=0.5)
    for _ in range(10):
        p.grad, t.grad = mg.Tensor(np.zeros_like(start)), torch.zeros_like(t)
        ours.step()
        theirs.step()
    assert np.all(np.isfinite(p.numpy()))
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-6, atol=1e-7)
    assert_close(p.numpy(), t.detach().numpy(), "parameters after 10 zero-gradient steps", **tol)
    assert_close(p.numpy(), start * (1 - 0.1 * 0.5) ** 10, "closed form (1 - lr wd)^10", **tol, reference="closed form")
