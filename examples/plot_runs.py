"""Draw test accuracy against wall-clock time for one or more training runs.

    python examples/plot_runs.py runs/cifar10/metrics.csv runs/cifar10-fast-cpu/metrics.csv \
        --labels "tutorial recipe" "fast-cpu recipe" --target 78 --budget-minutes 120 --out accuracy_vs_time.png

Each argument is a metrics.csv written by examples/train_cifar.py (or a run directory holding
one); its `elapsed_seconds` column is the run's training + evaluation time.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vit_np import plots


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="metrics.csv files, or run directories holding one")
    p.add_argument("--labels", nargs="+", help="one legend label per run (default: the run directory names)")
    p.add_argument("--target", type=float, default=None, help="draw a dashed line at this accuracy (%%)")
    p.add_argument("--budget-minutes", type=float, default=None, help="draw a dotted line at this many minutes")
    p.add_argument("--out", default="accuracy_vs_time.png", help="the PNG to write")
    args = p.parse_args(argv)
    paths = [Path(r) / "metrics.csv" if Path(r).is_dir() else Path(r) for r in args.runs]
    labels = args.labels or [path.parent.name for path in paths]
    if len(labels) != len(paths):
        print(f"error: {len(paths)} runs but {len(labels)} --labels; give one label per run", file=sys.stderr)
        return 2
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"error: no metrics file at {', '.join(missing)} (train_cifar.py writes metrics.csv in its --out-dir)",
              file=sys.stderr)
        return 2
    plots.plot_accuracy_vs_time({label: plots.read_metrics(path) for label, path in zip(labels, paths)},
                                args.out, target=args.target, budget_minutes=args.budget_minutes)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
