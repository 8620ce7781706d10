"""examples/benchmark.py: the report's structure and arithmetic (never its speed, which depends on the machine).

The runs are tiny (batch 8, one warm-up and one timed step, one round, one thread), so each child
process costs about a second, most of it importing torch.
"""
import importlib.util
import json
import statistics
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "benchmark.py"
_spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)  # examples/ is not a package
benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)

TINY = ["--batch-size", "8", "--steps", "1", "--warmup", "1", "--rounds", "1", "--threads", "1"]
SUMMARY_KEYS = {"images_per_s", "q1", "q3", "round_medians", "peak_rss_mib", "setup_rss_mib", "step_seconds"}


def run_script(*args: str) -> str:
    """Run the script as a user runs it, from the repository root; return its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(SCRIPT.relative_to(ROOT)), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_peak_rss_is_the_childs_own_not_its_parents():
    # a child started by a process larger than it is: its own high-water mark, not the parent's
    # resident set at the start (which Linux's ru_maxrss carries across exec)
    import numpy as np

    ballast = np.ones(40 * 2**20)  # 320 MiB, every page touched: the parent's peak is at least that
    code = f"import runpy; print(runpy.run_path({str(SCRIPT)!r})['peak_rss_mib']())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert ballast.sum() == 40 * 2**20
    assert 1 < child < 200  # python and the script's imports: tens of MiB


def test_summary_of_two_rounds():
    # batch 10: steps of 1 s, 0.5 s (round 1) and 0.25 s (round 2) are 10, 20 and 40 images/s
    runs = [{"step_seconds": [1.0, 0.5], "peak_rss_mib": 50.0, "setup_rss_mib": 30.0, "minigrad_threads": 2},
            {"step_seconds": [0.25], "peak_rss_mib": 70.0, "setup_rss_mib": 20.0, "minigrad_threads": 2}]
    s = benchmark.summarize(runs, batch_size=10)
    assert s["images_per_s"] == 20.0 and (s["q1"], s["q3"]) == (15.0, 30.0)  # quartiles of [10, 20, 40]
    assert s["round_medians"] == [15.0, 40.0] and s["step_seconds"] == [1.0, 0.5, 0.25]
    assert (s["peak_rss_mib"], s["setup_rss_mib"]) == (70.0, 30.0)  # the largest child's
    assert s["minigrad_threads"] == 2 and "torch_threads" not in s


def test_json_report_has_every_number_and_consistent_ratios():
    report = json.loads(run_script(*TINY, "--json", "--matmuls", "--frameworks", "minigrad", "reference", "torch"))
    assert {"cpu", "cores", "numpy", "torch", "OPENBLAS_CORETYPE", "numpy_blas"} <= set(report["machine"])
    assert report["settings"]["batch_size"] == 8 and report["settings"]["steps"] == 1
    for when in ("before", "after"):  # what the machine's second core and thread wake-ups were worth
        check = report["parallelism"][when]
        assert -1.0 < check["second_core"] < 1.5 and -1.0 < check["second_core_chunks"] < 1.5 and check["wake_ms"] > 0
    assert [(r["mode"], r["threads"]) for r in report["results"]] == [("train", 1), ("eval", 1)]
    for row in report["results"]:
        mg, pt, ref = row["minigrad"], row["torch"], row["reference"]
        for summary in (mg, pt, ref):
            assert SUMMARY_KEYS <= set(summary)
            assert len(summary["step_seconds"]) == 1 and summary["step_seconds"][0] > 0
            assert summary["q1"] <= summary["images_per_s"] <= summary["q3"]
            assert summary["images_per_s"] == pytest.approx(8 / summary["step_seconds"][0])
            assert summary["peak_rss_mib"] >= summary["setup_rss_mib"] > 0
        assert pt["torch_threads"] == 1 and mg["minigrad_threads"] == 1
        assert row["ratio"] == pytest.approx(mg["images_per_s"] / pt["images_per_s"])
        assert row["rss_ratio"] == pytest.approx(mg["peak_rss_mib"] / pt["peak_rss_mib"])
        assert row["kernel_speedup"] == pytest.approx(mg["images_per_s"] / ref["images_per_s"])
        step = statistics.median(mg["step_seconds"])
        assert 0 < row["matmul_seconds"] and row["outside_matmul_share"] == pytest.approx(1 - row["matmul_seconds"] / step)


def test_matmul_shapes_are_the_models_products():
    """Tiny ViT, batch 2: 1 patch projection (no dx), 4 blocks x (4 Linears + attention), 1 classifier."""
    train, evaluation = benchmark.matmul_shapes("train", 2), benchmark.matmul_shapes("eval", 2)
    assert len(evaluation) == 1 + 4 * (4 + 2) + 1 and len(train) == 2 + 4 * (4 * 3 + 6) + 3
    assert evaluation[0] == (1, 2 * 64, 48, 48) and evaluation[1] == (1, 2 * 65, 48, 144)  # patches, qkv
    assert evaluation[2] == (2 * 4, 65, 12, 65)  # q k^T, 4 heads of 12
    assert (2 * 4, 1, 12, 65) in evaluation and (1, 2, 48, 192) in evaluation  # the last block: [CLS] alone


def test_profile_prints_each_op():
    out = run_script(*TINY, "--frameworks", "minigrad", "--modes", "train", "--profile")
    assert "minigrad, train, 1 thread(s), ms per step" in out
    assert "Linear [kernel].backward" in out and "outside ops" in out


def test_table_without_torch_reads_n_a():
    out = run_script(*TINY, "--frameworks", "minigrad", "--modes", "eval")
    assert out.startswith("machine: ") and "OPENBLAS_CORETYPE=" in out
    assert "a second thread adds" in out and "a sleeping thread wakes in" in out
    header, row = [line for line in out.splitlines() if line.startswith(("mode ", "eval "))]
    assert header.split()[:3] == ["mode", "threads", "minigrad"] and "RSS ratio" in header
    mode, threads, rate, *_ = row.split()
    assert (mode, threads) == ("eval", "1") and float(rate) > 0
    assert row.split().count("n/a") == 4  # torch's img/s, the ratio, torch's RSS, the RSS ratio


def test_reference_mode_is_timed_beside_the_kernels():
    out = run_script(*TINY, "--frameworks", "minigrad", "reference", "--modes", "eval")
    header = next(line for line in out.splitlines() if line.startswith("mode "))
    assert "reference img/s" in header and "kernels/ref" in header
