"""Time the tutorial's tiny ViT on the CPU: minigrad against its PyTorch twin (PyTorch eager).

    python examples/benchmark.py                                  # train + eval, 1 and 2 threads
    python examples/benchmark.py --modes train --threads 2 --rounds 5
    python examples/benchmark.py --frameworks minigrad reference  # what the kernels buy
    python examples/benchmark.py --matmuls                        # the share outside matrix products
    python examples/benchmark.py --profile --threads 2            # time inside each op
    python examples/benchmark.py --json > bench.json
    python examples/benchmark.py --modes hvp --threads 1          # a Hessian-vector product (double backward)

train = one step of the tutorial's loop (zero_grad, forward, cross-entropy, backward, AdamW;
dropout on), written the same way for both frameworks; eval = a no-grad forward in eval mode;
hvp (not run by default) = a Hessian-vector product of the loss in eval mode, the same code on both:
grads = autograd.grad(loss, params, create_graph=True), then autograd.grad(sum <grad, v>, params).
Both models use the default ViTConfig (fused attention, dropout 0.1) on a random batch.
"reference" is minigrad inside `minigrad.reference()`: every op through its plain formulas,
no kernels. Every measurement runs in a fresh child process, so each gets its own thread settings
and its own peak RSS; the frameworks take turns (minigrad, torch, minigrad, ...) so a change in
machine load hits both alike. Reported: median images/s over all timed steps of all rounds, with
the interquartile range, the minigrad / PyTorch ratio, and each child's peak RSS. Without torch
installed, only minigrad runs and the ratios read n/a.

"N threads": every child's environment has OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = N, and each
framework uses N threads its own way: PyTorch inside each op (torch.set_num_threads), minigrad's
kernels split each op's work across N threads (minigrad.set_num_threads).

--matmuls times the model's matrix products alone, at their shapes in one step (each as one BLAS
call on N threads), so "outside" = 1 - their time / the step's is the share of a step spent on
everything else. --profile prints minigrad's time inside each op's forward and backward.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("minigrad", "reference", "torch")  # reference: minigrad without its kernels
MODES = ("train", "eval", "hvp")
DEFAULT_MODES = ["train", "eval"]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")  # read once, at BLAS start-up


# -- the child: one framework, one mode, one thread count ---------------------------------------
# numpy and torch are imported here, in the child, whose environment already holds the thread count.


def peak_rss_mib() -> float:
    """The largest resident set size this process has had so far, in MiB.

    On Linux from /proc's VmHWM, the high-water mark of this program's own memory: getrusage's
    ru_maxrss also counts the parent's resident set at the moment it started this child (Linux
    carries it across exec), so a child smaller than its parent would report the parent's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def random_batch(batch_size: int, seed: int) -> tuple[Any, Any]:
    """Images (B, 3, 32, 32) float32 ~ N(0, 1) and labels (B,) int64 in [0, 10): the same for both frameworks."""
    import numpy as np

    from vit_np.config import ViTConfig

    config, rng = ViTConfig(), np.random.default_rng(seed)
    shape = (batch_size, config.num_channels, config.image_size, config.image_size)
    return rng.standard_normal(shape, dtype=np.float32), rng.integers(0, config.num_classes, batch_size)


def build_minigrad(mode: str, seed: int, threads: int) -> tuple[Callable, dict[str, Any]]:
    """The tutorial's step on minigrad, as vit_np.train.Trainer.train_step runs it."""
    import minigrad as mg
    from minigrad.optim import AdamW
    from vit_np.model import ViTForClassification
    from vit_np.train import TrainConfig, cross_entropy_loss

    mg.set_num_threads(threads)
    mg.manual_seed(seed)
    model = ViTForClassification()  # the default ViTConfig: the tutorial's tiny model
    info = {"minigrad_threads": mg.get_num_threads()}
    if mode == "train":
        recipe = TrainConfig()  # the tutorial's AdamW settings
        optimizer = AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        criterion = cross_entropy_loss()

        def step(x: Any, y: Any) -> None:
            optimizer.zero_grad()
            logits, _ = model(mg.Tensor(x))  # (B, 3, 32, 32) -> (B, classes)
            loss = criterion(logits, mg.Tensor(y))
            loss.backward()
            optimizer.step()
            loss.item()

        return step, info

    model.eval()
    if mode == "hvp":
        return hessian_vector_product(mg, model, lambda x, y: cross_entropy_loss()(model(mg.Tensor(x))[0],
                                                                                  mg.Tensor(y)), seed), info

    def forward(x: Any, y: Any) -> None:
        with mg.no_grad():
            model(mg.Tensor(x))

    return forward, info


def hessian_vector_product(framework: Any, model: Any, loss_of: Callable, seed: int) -> Callable:
    """hvp(x, y) = d<dL/dtheta, v>/dtheta for a fixed random v: two backward passes, the first recorded
    (create_graph=True). The same code for both frameworks (framework is minigrad or torch)."""
    import numpy as np

    params = list(model.parameters())
    rng = np.random.default_rng(seed)
    v = [framework.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)) for p in params]

    def hvp(x: Any, y: Any) -> None:
        grads = framework.autograd.grad(loss_of(x, y), params, create_graph=True)
        dot = sum((g * w).sum() for g, w in zip(grads, v))
        products = framework.autograd.grad(dot, params)
        products[0].sum().item()

    return hvp


def build_torch(mode: str, seed: int, threads: int) -> tuple[Callable, dict[str, Any]]:
    import torch
    import torch.nn.functional as F

    from vit_np.config import ViTConfig
    from vit_np.torch_reference import ViTForClassfication  # the tutorial's code (vit_np/tutorial_code.py) on PyTorch
    from vit_np.train import TrainConfig

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = ViTForClassfication(ViTConfig().to_dict())  # the same config dict, use_faster_attention=True
    info = {"torch_threads": torch.get_num_threads()}
    if mode == "train":
        recipe = TrainConfig()  # the tutorial's AdamW settings
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)

        def step(x: Any, y: Any) -> None:
            optimizer.zero_grad()
            logits, _ = model(torch.from_numpy(x))  # (B, 3, 32, 32) -> (B, classes)
            loss = F.cross_entropy(logits, torch.from_numpy(y))
            loss.backward()
            optimizer.step()
            loss.item()

        return step, info

    model.eval()
    if mode == "hvp":
        return hessian_vector_product(torch, model, lambda x, y: F.cross_entropy(model(torch.from_numpy(x))[0],
                                                                                 torch.from_numpy(y)), seed), info

    def forward(x: Any, y: Any) -> None:
        with torch.no_grad():
            model(torch.from_numpy(x))

    return forward, info


def matmul_shapes(mode: str, batch: int) -> list[tuple[int, int, int, int]]:
    """Every matrix product of one step of the default ViT, as (stack, m, k, n): m x k times k x n.

    Per Linear y = x W^T: forward (rows, in) @ (in, out); backward dx = g W and dW = g^T x (the
    patch projection needs no dx). Per attention: q k^T and P v forward, four products backward.
    The last block computes [CLS] alone (one query row, and B rows after the attention).
    """
    from vit_np.config import ViTConfig

    c = ViTConfig()
    C, F, T, nh, hs = c.hidden_size, c.intermediate_size, c.num_patches + 1, c.num_attention_heads, c.attention_head_size
    train = mode == "train"

    def linear(rows: int, n_in: int, n_out: int, needs_dx: bool = True) -> list:
        fwd = [(1, rows, n_in, n_out)]
        return fwd + ([(1, rows, n_out, n_in)] if needs_dx else []) + [(1, n_out, rows, n_in)] if train else fwd

    def attention(tq: int) -> list:
        fwd = [(batch * nh, tq, hs, T), (batch * nh, tq, T, hs)]
        return fwd + [(batch * nh, T, tq, hs), (batch * nh, tq, hs, T), (batch * nh, tq, T, hs),
                      (batch * nh, T, tq, hs)] if train else fwd

    shapes = linear(batch * c.num_patches, c.num_channels * c.patch_size ** 2, C, needs_dx=False)
    for block in range(c.num_hidden_layers):
        rows = batch if block == c.num_hidden_layers - 1 else batch * T  # the last block: [CLS] only
        shapes += linear(batch * T, C, 3 * C) + attention(1 if rows == batch else T)
        shapes += linear(rows, C, C) + linear(rows, C, F) + linear(rows, F, C)
    return shapes + linear(batch, C, c.num_classes)


def time_matmuls(mode: str, batch: int, repeats: int = 5) -> float:
    """Seconds for one step's matrix products alone, each one BLAS call (median of `repeats`)."""
    import numpy as np

    rng = np.random.default_rng(0)
    operands = [(rng.standard_normal((b, m, k), dtype=np.float32).squeeze(0) if b == 1 else
                 rng.standard_normal((b, m, k), dtype=np.float32),
                 rng.standard_normal((b, k, n), dtype=np.float32).squeeze(0) if b == 1 else
                 rng.standard_normal((b, k, n), dtype=np.float32)) for b, m, k, n in matmul_shapes(mode, batch)]
    totals = []
    for _ in range(repeats + 1):  # the first round warms up the BLAS
        started = time.perf_counter()
        for a, b in operands:
            np.matmul(a, b)
        totals.append(time.perf_counter() - started)
    return statistics.median(totals[1:])


def run_child(framework: str, mode: str, threads: int, args: argparse.Namespace) -> dict[str, Any]:
    """Build, warm up, then time `args.steps` steps; the result goes to the parent as one JSON line."""
    if framework == "matmuls":
        return {"framework": framework, "mode": mode, "threads": threads,
                "matmul_seconds": time_matmuls(mode, args.batch_size)}
    if framework == "torch":
        step, info = build_torch(mode, args.seed, threads)
    else:
        step, info = build_minigrad(mode, args.seed, threads)
        if framework == "reference":
            import minigrad as mg
            from minigrad.kernels import memory

            memory.tune_once()  # what the kernels do on first use, which reference mode never makes:
            # malloc as in the kernels' runs, so that kernels/ref compares the ops alone
            inner = step

            def step(x: Any, y: Any) -> None:
                with mg.reference():
                    inner(x, y)
    x, y = random_batch(args.batch_size, args.seed)
    setup_rss = peak_rss_mib()  # imports, model, optimizer and batch: before the first step
    for _ in range(args.warmup):  # first steps allocate buffers and optimizer state
        step(x, y)
    seconds = []
    for _ in range(args.steps):
        started = time.perf_counter()
        step(x, y)
        seconds.append(time.perf_counter() - started)
    result = {"framework": framework, "mode": mode, "threads": threads, "step_seconds": seconds,
              "peak_rss_mib": peak_rss_mib(), "setup_rss_mib": setup_rss, **info}
    if args.profile and framework != "torch":
        from minigrad.tools import profile

        total, prof = profile.timed(lambda: step(x, y), args.steps)
        result["profile"] = {"table": prof.table(per=args.steps, total=total), "seconds": dict(prof.seconds)}
    return result


# -- the parent: start the children, alternate the frameworks, summarise ------------------------


def child_env(threads: int) -> dict[str, str]:
    """A copy of our environment with the thread count set and the repository importable."""
    env = {**os.environ, **{name: str(threads) for name in THREAD_VARS}}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


SHOWN_WARNINGS: set[str] = set()


def measure(framework: str, mode: str, threads: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", framework, mode, str(threads),
               "--batch-size", str(args.batch_size), "--warmup", str(args.warmup),
               "--steps", str(args.steps), "--seed", str(args.seed)]
    if args.profile and framework in ("minigrad", "reference"):
        command.append("--profile")
    done = subprocess.run(command, env=child_env(threads), capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"benchmark: the {framework} {mode} child ({threads} threads) failed:\n{done.stderr}")
    if done.stderr and done.stderr not in SHOWN_WARNINGS:  # each child warning once, not once per child
        SHOWN_WARNINGS.add(done.stderr)
        print(done.stderr, end="", file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict[str, Any]], batch_size: int) -> dict[str, Any]:
    """Median images/s over every timed step of every round, its quartiles, and the largest peak RSS."""
    rates = [batch_size / s for run in runs for s in run["step_seconds"]]
    q1, _, q3 = statistics.quantiles(rates, n=4, method="inclusive") if len(rates) > 1 else rates * 3
    summary = {
        "images_per_s": statistics.median(rates), "q1": q1, "q3": q3,
        "round_medians": [statistics.median([batch_size / s for s in run["step_seconds"]]) for run in runs],
        "peak_rss_mib": max(run["peak_rss_mib"] for run in runs),
        "setup_rss_mib": max(run["setup_rss_mib"] for run in runs),
        "step_seconds": [s for run in runs for s in run["step_seconds"]],
    }
    for key in ("minigrad_threads", "torch_threads"):
        if key in runs[0]:
            summary[key] = runs[0][key]
    return summary


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str) -> float | None:
    return a[key] / b[key] if a is not None and b is not None else None


def benchmark(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per (mode, threads): each framework's summary and the minigrad / torch ratios."""
    rows = []
    for mode in args.modes:
        for threads in args.threads:
            runs: dict[str, list] = {fw: [] for fw in args.frameworks}
            for _ in range(args.rounds):
                for fw in args.frameworks:  # alternate, so load drifts reach both frameworks
                    runs[fw].append(measure(fw, mode, threads, args))
            mg, ref, pt = (summarize(runs[fw], args.batch_size) if fw in runs else None for fw in FRAMEWORKS)
            row = {"mode": mode, "threads": threads, "minigrad": mg, "reference": ref, "torch": pt,
                   "ratio": ratio(mg, pt, "images_per_s"), "rss_ratio": ratio(mg, pt, "peak_rss_mib"),
                   "kernel_speedup": ratio(mg, ref, "images_per_s")}
            if args.matmuls and mg is not None:
                matmul = statistics.median(measure("matmuls", mode, threads, args)["matmul_seconds"]
                                           for _ in range(args.rounds))
                step = statistics.median(mg["step_seconds"])
                row["matmul_seconds"], row["outside_matmul_share"] = matmul, 1.0 - matmul / step
            if args.profile:
                row["profiles"] = {fw: [run["profile"] for run in runs[fw] if "profile" in run] for fw in runs}
            rows.append(row)
    return rows


def machine_info() -> dict[str, Any]:
    """CPU model, cores, library versions and BLAS: what a reader needs to compare two tables."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": version("numpy"), "torch": version("torch"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    try:  # numpy >= 1.25
        import numpy as np

        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{blas['name']} {blas['version']}"
    except Exception:  # noqa: BLE001 - the BLAS line is a nicety, never a reason to fail
        info["numpy_blas"] = None
    return info


def second_core_gain(work: Callable[[], None], repeats: int = 5) -> float:
    """What a second thread adds, in cores: `work` (NumPy that releases the GIL) on 1 thread and then
    on 2 at once. 1.0 is a whole second core; less means the machine shares it (other tenants of
    a VM, a turbo limit) or the threads wait for each other, and no framework can gain more than
    that from it on that kind of work."""
    gains = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        one = time.perf_counter() - started
        other = threading.Thread(target=work)
        started = time.perf_counter()
        other.start()
        work()
        other.join()
        gains.append(2.0 * one / (time.perf_counter() - started) - 1.0)
    return statistics.median(gains)


def long_calls() -> None:
    """Four NumPy calls of tens of ms each (float64 sin of 2M values): what the cores themselves give."""
    import numpy as np

    a = np.linspace(0.0, 1.0, 1 << 21)
    for _ in range(4):
        np.sin(a)


def chunk_calls() -> None:
    """Float32 passes over one chunk of minigrad's kernels (1 MiB; an exp, a multiply and an add, tens to
    hundreds of microseconds each), 100 times: every call returns through the GIL, so two threads
    doing this also wait for each other there, as the kernels' threads do."""
    import numpy as np

    from minigrad.kernels.parallel import CHUNK

    a = np.linspace(-1.0, 1.0, CHUNK, dtype=np.float32)
    out = np.empty_like(a)
    for _ in range(100):
        np.multiply(a, -0.5, out=out)
        np.exp(out, out=out)
        np.add(out, a, out=out)


def wake_seconds(samples: int = 100) -> float:
    """Median time from waking a sleeping thread to its running: what each hand-over of work
    between threads costs (a training step of the tiny ViT runs 99 ops across the pool, about
    1,000 chunks)."""
    wake, done, woken_at = threading.Event(), threading.Event(), []

    def sleeper() -> None:
        for _ in range(samples):
            wake.wait()
            woken_at.append(time.perf_counter())
            wake.clear()
            done.set()

    worker = threading.Thread(target=sleeper)
    worker.start()
    delays = []
    for _ in range(samples):
        time.sleep(0.001)  # long enough for the sleeper to be asleep again
        started = time.perf_counter()
        wake.set()
        done.wait()
        done.clear()
        delays.append(woken_at[-1] - started)
    worker.join()
    return statistics.median(delays)


def machine_parallelism() -> dict[str, float]:
    return {"second_core": second_core_gain(long_calls), "second_core_chunks": second_core_gain(chunk_calls),
            "wake_ms": 1e3 * wake_seconds()}


def version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cell(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "n/a"
    return f"{summary['images_per_s']:.0f} [{summary['q1']:.0f}, {summary['q3']:.0f}]"


def print_table(report: dict[str, Any]) -> None:
    m, s = report["machine"], report["settings"]
    print(f"machine: {m['cpu']}, {m['cores']} cores ({m.get('usable_cores', '?')} usable); python {m['python']}, "
          f"numpy {m['numpy']} ({m['numpy_blas'] or 'BLAS unknown'}), torch {m['torch'] or 'not installed'}; "
          f"OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE'] or 'unset'}")
    before, after = report["parallelism"]["before"], report["parallelism"]["after"]
    print(f"this machine, before / after the timings: a second thread adds {before['second_core']:.2f} / "
          f"{after['second_core']:.2f} of a core to long NumPy calls and {before['second_core_chunks']:.2f} / "
          f"{after['second_core_chunks']:.2f} to calls on the kernels' 1 MiB chunks; a sleeping thread wakes in "
          f"{before['wake_ms']:.2f} / {after['wake_ms']:.2f} ms (median)")
    print(f"batch {s['batch_size']}; each child process: {s['warmup']} warm-up + {s['steps']} timed step(s); "
          f"{s['rounds']} round(s) alternating the frameworks; img/s = median [quartiles]\n")
    has_ref = any(row["reference"] for row in report["results"])
    header = f"{'mode':<6}{'threads':>8}  {'minigrad img/s':>22}  {'torch img/s':>22}  {'ratio':>6}  "
    header += f"{'reference img/s':>22}  {'kernels/ref':>11}  " if has_ref else ""
    print(header + f"{'minigrad RSS MiB':>16}  {'torch RSS MiB':>13}  {'RSS ratio':>9}")
    for row in report["results"]:
        mg, pt, ref = row["minigrad"], row["torch"], row["reference"]
        line = f"{row['mode']:<6}{row['threads']:>8}  {cell(mg):>22}  {cell(pt):>22}  {fmt(row['ratio'], 'x'):>6}  "
        line += f"{cell(ref):>22}  {fmt(row['kernel_speedup'], 'x'):>11}  " if has_ref else ""
        print(line + f"{fmt(mg and mg['peak_rss_mib']):>16}  {fmt(pt and pt['peak_rss_mib']):>13}  "
              f"{fmt(row['rss_ratio'], 'x'):>9}")
    print("\nratio = minigrad img/s / torch img/s (> 1: minigrad faster); RSS ratio = minigrad / torch peak RSS"
          + ("; kernels/ref = minigrad / its reference formulas" if has_ref else ""))
    for row in report["results"]:
        if "matmul_seconds" in row:
            step = statistics.median(row["minigrad"]["step_seconds"])
            print(f"{row['mode']}, {row['threads']} thread(s): the step's matrix products alone take "
                  f"{1e3 * row['matmul_seconds']:.1f} ms of minigrad's {1e3 * step:.1f} ms: "
                  f"{100 * row['outside_matmul_share']:.0f}% of the step is outside them")
        for fw, profiles in row.get("profiles", {}).items():
            if profiles:
                print(f"\n{fw}, {row['mode']}, {row['threads']} thread(s), ms per step (first round):\n"
                      + profiles[0]["table"])


def fmt(value: float | None, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}{suffix}" if suffix else f"{value:.0f}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--modes", nargs="+", choices=MODES, default=DEFAULT_MODES)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="BLAS/OpenMP threads per run")
    p.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=["minigrad", "torch"],
                   help="reference: minigrad in reference mode (every op through its plain formula)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    p.add_argument("--steps", type=int, default=10, help="timed steps per child process")
    p.add_argument("--rounds", type=int, default=3, help="child processes per framework and setting")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--matmuls", action="store_true",
                   help="also time the step's matrix products alone: the share of a step outside them")
    p.add_argument("--profile", action="store_true", help="also print minigrad's time inside each op")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--child", nargs=3, metavar=("FRAMEWORK", "MODE", "THREADS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("batch_size", "steps", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0 or min(args.threads) < 1:
        p.error(f"--warmup must be >= 0 and --threads >= 1, got {args.warmup} and {args.threads}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        framework, mode, threads = args.child
        print(json.dumps(run_child(framework, mode, int(threads), args)))
        return 0
    args.frameworks = [fw for fw in FRAMEWORKS if fw in args.frameworks]  # minigrad first, no repeats
    if "torch" in args.frameworks and importlib.util.find_spec("torch") is None:
        print("benchmark: torch is not installed; timing minigrad only (ratios: n/a)", file=sys.stderr)
        args.frameworks.remove("torch")
    if not args.frameworks:
        sys.exit("benchmark: nothing to run (only torch was asked for, and it is not installed)")
    settings = {k: getattr(args, k) for k in ("batch_size", "warmup", "steps", "rounds", "seed")}
    before = machine_parallelism()  # the 2-thread rows can only be read against these
    results = benchmark(args)
    report = {"machine": machine_info(), "settings": settings, "results": results,
              "parallelism": {"before": before, "after": machine_parallelism()}}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
