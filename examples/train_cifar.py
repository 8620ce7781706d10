"""Train the tutorial's Vision Transformer on CIFAR-10 with minigrad, on the CPU.

    python examples/train_cifar.py                      # the tutorial's run: 15 epochs, AdamW 1e-3
    python examples/train_cifar.py --limit-train 2000 --limit-test 500 --epochs 2 --out-dir runs/quick
                                                        # a quick look: a few minutes
    python examples/train_cifar.py --resume             # continue the interrupted run in --out-dir exactly
    python examples/train_cifar.py --overwrite          # start over in an --out-dir that holds a run
    python examples/train_cifar.py --eval-only --checkpoint examples/pretrained/tutorial.npz [--test-crops 9]
                                                        # test a checkpoint and draw its figures
    python examples/train_cifar.py --recipe fast-cpu    # a recipe: a wider, deeper ViT for 2 hours of CPU

Leaves in --out-dir (it says where at the end): checkpoint.npz, best.npz, metrics.csv, and PNG
figures (samples, curves, accuracy against wall-clock time, attention maps, confusion matrix).
A fresh run refuses an --out-dir that already holds a run's checkpoint.npz, best.npz or
metrics.csv: --resume continues that run, --overwrite moves its files into --out-dir/replaced-N/
(nothing is deleted) and starts over.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import minigrad as mg
from vit_np import plots
from vit_np.augment import eval_transform
from vit_np.config import ViTConfig
from vit_np.checkpoint import CheckpointError
from vit_np.data import DatasetError, load_cifar10, load_class_names
from vit_np.model import ViTForClassification
from vit_np.runs import BEST, CHECKPOINT, RUN_FILES, RunConfig, move_aside, run_files
from vit_np.settings import add_flags, from_flags
from vit_np.train import TTA_FIELD, TrainConfig, Trainer, TrainingError, evaluate

FIGURES = ("samples.png", "curves.png", "accuracy_vs_time.png", "attention.png", "confusion_matrix.png")

# Named recipes: values for the settings of TrainConfig, ViTConfig and RunConfig; a flag given on the
# command line still wins. What each reached, and in how long: examples/RESULTS.md. Every recipe turns on
# cls_only_last_block, a speed option of the model (the same logits and gradients, a fifth less work).
FAST = {"cls_only_last_block": True}
RECIPES: dict[str, dict] = {
    "tutorial": dict(FAST),  # the tutorial's tiny ViT and training setup: the defaults
    # A plain ViT sized for 2 hours of training + evaluation on 2 CPU cores on a slow day: 6 blocks
    # of width 96 (3 heads of 32, MLP 192), 22 epochs of batch 256 with the classic CIFAR
    # augmentation (padded random crop + flip), label smoothing, a 3-epoch warmup then cosine
    # decay, gradient clipping, and no weight decay on biases, LayerNorm weights, [CLS] and position
    # embeddings. No dropout and no image mixing: a run this short does not overfit.
    "fast-cpu": dict(
        FAST, epochs=22, batch_size=256, lr=1.5e-3, weight_decay=0.05, hidden_size=96, num_hidden_layers=6,
        num_attention_heads=3, intermediate_size=192, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        augment="crop-flip", lr_schedule="warmup-cosine", warmup_epochs=3.0, min_lr_ratio=0.01,
        label_smoothing=0.1, grad_clip=1.0, decay_exclusions=True, eval_every=2, out_dir="runs/cifar10-fast-cpu",
    ),
}
# The same ViT for 2 hours on a machine about 3 times as fast: 66 epochs of batch 128, with MixUp / CutMix
# on 80% of the batches against the overfitting a run this long shows.
RECIPES["fast-cpu-66"] = {**RECIPES["fast-cpu"], "epochs": 66, "batch_size": 128, "lr": 1e-3, "mix_prob": 0.8,
                          "warmup_epochs": 5.0, "eval_every": 1, "out_dir": "runs/cifar10-fast-cpu-66"}
# fast-cpu-66 trained on half of each image's 64 patches (PatchDropout; tested on all of them): a step costs
# about half, so 100 epochs fit 2 hours on a slow machine. The last 2 epochs see every patch, as the test
# does; MixUp alone on half the batches, as the model underfits with PatchDropout and more mixing.
RECIPES["fast-cpu-patch-drop"] = {**RECIPES["fast-cpu-66"], "patch_drop_rate": 0.5, "epochs": 100, "eval_every": 4,
                                  "full_patch_epochs": 2, "min_lr_ratio": 0.05, "mix_prob": 0.5,
                                  "mix_switch_prob": 0.0, "out_dir": "runs/cifar10-fast-cpu-patch-drop"}
# fast-cpu-patch-drop plus RandAugment(2, 9) on every image and no MixUp, cut to 90 epochs to fit 2 hours:
# 86 with PatchDropout, then 4 on every patch (the epochs on every patch gain the most); tested every 10th
# epoch (a test costs seconds, an epoch more than a minute).
RECIPES["fast-cpu-randaugment"] = {**RECIPES["fast-cpu-patch-drop"], "augment": "crop-flip-randaugment", "epochs": 90,
                                   "full_patch_epochs": 4, "mix_prob": 0.0, "eval_every": 10,
                                   "out_dir": "runs/cifar10-fast-cpu-randaugment"}
# fast-cpu-randaugment cut to 72 epochs (68 with PatchDropout, then 4 on every patch) to fit 2 hours on a
# slower machine, and after the last epoch also tested on 9 crops of each image (the mean of their logits).
RECIPES["fast-cpu-tta"] = {**RECIPES["fast-cpu-randaugment"], "epochs": 72, "test_crops": 9,
                           "out_dir": "runs/cifar10-fast-cpu-tta"}


# --help: what a learner needs first. --help-all: every setting, grouped, with its default.
RECIPE_NOTES = {  # one line per recipe for --help; the recipes themselves are above
    "tutorial": "the tutorial's tiny ViT (4 blocks of width 48), 15 epochs of AdamW: the default",
    "fast-cpu": "6 blocks of width 96, 22 epochs, warmup + cosine, crop + flip: for a 2-hour CPU budget",
    "fast-cpu-66": "fast-cpu for 66 epochs with MixUp / CutMix: 2 hours on a machine 3 times as fast",
    "fast-cpu-patch-drop": "fast-cpu-66 on half of each image's patches (PatchDropout), 100 epochs",
    "fast-cpu-randaugment": "fast-cpu-patch-drop with RandAugment and no MixUp, 90 epochs",
    "fast-cpu-tta": "fast-cpu-randaugment cut to 72 epochs, then also tested on 9 crops of each image",
}
COMMON = [  # (flags, what they do) for --help; "{name}" is replaced by that setting's default
    ("--epochs N", "passes over the training set ({epochs})"),
    ("--limit-train N, --limit-test N", "use only the first N training / test images"),
    ("--out-dir DIR", "where the run's files go ({out_dir})"),
    ("--data-dir DIR", "holds cifar-10-batches-py/ ({data_dir}); --no-download: never fetch it"),
    ("--resume", "continue the run in --out-dir from its checkpoint.npz"),
    ("--overwrite", "start over: the old run's files move into --out-dir/replaced-N/"),
    ("--eval-only", "test a checkpoint and draw its figures (--checkpoint PATH, --test-crops 9)"),
    ("--threads N", "threads the kernels use ({threads}); any count gives the same numbers"),
    ("--no-progress", "no progress bar (e.g. in a log)"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    recipe = _recipe_parser().parse_known_args(argv)[0].recipe
    return build_parser(recipe).parse_args(argv)


def build_parser(recipe: str) -> argparse.ArgumentParser:
    """Every setting's flag, with the recipe's values as defaults."""
    p = argparse.ArgumentParser(description=__doc__, parents=[_recipe_parser(recipe)], add_help=False,
                                usage="%(prog)s [--recipe NAME] [--SETTING VALUE ...] [--resume | --overwrite | "
                                      "--eval-only]",
                                formatter_class=_Formatter,
                                epilog=f"The defaults above are the {recipe} recipe's (--recipe NAME --help-all: "
                                       "another's).\nWhat each recipe reached: examples/RESULTS.md; settings, data "
                                       "and checkpoints: examples/TRAINING.md.")
    p.add_argument("-h", "--help", action=_ShortHelp, help="the common commands and settings")
    p.add_argument("--help-all", action="help", help="this list: every setting, grouped, with its default")
    add_flags(p.add_argument_group("training (vit_np.train.TrainConfig)"), TrainConfig, RECIPES[recipe])
    add_flags(p.add_argument_group("model (vit_np.config.ViTConfig; defaults: the tutorial's tiny ViT)"),
              ViTConfig, RECIPES[recipe])
    add_flags(p.add_argument_group("data, output and resuming (vit_np.runs.RunConfig)"), RunConfig, RECIPES[recipe])
    return p


def _recipe_parser(default: str = "tutorial") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--recipe", choices=list(RECIPES), default=default, metavar="NAME",
                   help=f"a named set of defaults for the settings below: {', '.join(RECIPES)}")
    return p


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """The docstring as written; each setting's default once (not when its help already says it, nor None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _ShortHelp(argparse.Action):
    """-h/--help: usage, the docstring's commands, the recipes and the common settings; then exit."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(short_help(parser), end="")  # to stdout, as argparse prints --help
        parser.exit()


def short_help(parser: argparse.ArgumentParser) -> str:
    defaults = {action.dest: action.default for action in parser._actions}
    width = max(len(flags) for flags, _ in COMMON) + 2
    lines = [parser.format_usage().rstrip(), "", __doc__.rstrip(), "",
             "recipes (--recipe NAME sets the defaults; a flag you give still wins):"]
    lines += [f"  {name:<22}{RECIPE_NOTES[name]}" for name in RECIPES]
    lines += ["  What each reached, in how long, and the command: examples/RESULTS.md; what every setting does:",
              "  examples/TRAINING.md.", "", f"common settings (in parentheses: the {defaults['recipe']} recipe's default):"]
    lines += [f"  {flags:<{width}}{text.format(**defaults)}" for flags, text in COMMON]
    n_settings = sum(1 for action in parser._actions if action.default is not argparse.SUPPRESS)  # not the helps
    lines += ["", f"All {n_settings} settings, grouped, with their defaults: --help-all."]
    return "\n".join(lines) + "\n"


def draw_results(model, test_images, test_labels, class_names, out_dir: Path, batch_size: int, drawn: set[str],
                 crops: int = 1) -> float:
    """Evaluate (with crops=9 also on 9 crops of each image), then draw the attention maps of 10 test
    images and the confusion matrix (their names join `drawn`)."""
    test_loss, accuracy, preds = evaluate(model, test_images, test_labels, batch_size)
    if crops > 1:
        print(f"{evaluate(model, test_images, test_labels, batch_size, crops=crops)[1]:.2f}% test accuracy as "
              f"the mean of {crops} crops; ", end="")
    model.eval()
    with mg.no_grad():
        x = mg.Tensor(eval_transform(test_images[:10]))  # (10, 3, 32, 32)
        _, attentions = model(x, output_attentions=True)  # one (10, heads, T, T) per block
    maps = plots.cls_attention_map(attentions[-1].numpy())  # last block, [CLS] row, mean over heads
    draw(plots.plot_attention, test_images[:10], maps, test_labels[:10], preds[:10], class_names,
         out_dir / "attention.png", drawn=drawn)
    draw(plots.plot_confusion_matrix, test_labels, preds, class_names, out_dir / "confusion_matrix.png", drawn=drawn)
    print(f"Test Loss: {test_loss:.4f}, Accuracy: {accuracy:.2f}% on {len(test_labels)} test images")
    return accuracy


class UsageError(Exception):
    """Something the user can fix: printed as one `error:` line, exit code 2."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        mg.set_num_threads(args.threads)  # the process-wide tuning, chosen here by the program
        out_dir = writable(Path(args.out_dir))
        check_out_dir(args, out_dir)
        config = from_flags(args, ViTConfig)
        test = load_cifar10(args.data_dir, train=False, download=args.download, limit=args.limit_test)
        class_names = load_class_names(args.data_dir)
        if args.eval_only:
            return evaluate_checkpoint(Path(args.checkpoint) if args.checkpoint else out_dir / BEST, test,
                                       class_names, out_dir, args.eval_batch_size, args.test_crops,
                                       args.allow_large_model)
        train = load_cifar10(args.data_dir, train=True, limit=args.limit_train)
        trainer = build_trainer(args, config, train, test, out_dir)
        if args.overwrite and (moved := move_aside(out_dir, [*RUN_FILES, *FIGURES])):
            print(f"--overwrite: moved the previous run's files into {moved}")
    except (UsageError, ValueError, DatasetError) as err:  # a bad flag, config, data or checkpoint
        print(f"error: {err}", file=sys.stderr)
        return 2
    return run(trainer, args, class_names, out_dir)


def check_out_dir(args: argparse.Namespace, out_dir: Path) -> None:
    """A fresh run never replaces a run's files by accident: it needs --resume or --overwrite."""
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out-dir, --overwrite moves it aside: choose one")
    if args.eval_only and (args.resume or args.overwrite):
        raise UsageError("--eval-only trains nothing: drop --resume and --overwrite")
    present = run_files(out_dir)
    if present and not (args.resume or args.overwrite or args.eval_only):
        raise UsageError(f"--out-dir {out_dir} already holds a run ({', '.join(present)}), which a fresh run would "
                         "replace. Fix: continue it with the same command plus --resume, start over with --overwrite "
                         f"(its files move into {out_dir}/replaced-N/), or choose another --out-dir.")


def writable(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / ".write_test").write_text("ok")
        (out_dir / ".write_test").unlink()
    except OSError as err:
        raise UsageError(f"cannot write to --out-dir {out_dir} ({err.strerror}). Fix: choose a directory you "
                         "can write to, e.g. --out-dir runs/cifar10.") from None
    return out_dir


def build_trainer(args: argparse.Namespace, config: ViTConfig, train, test, out_dir: Path) -> Trainer:
    """A seeded model and its Trainer (the recipe's settings); with --resume, restored from checkpoint.npz."""
    train_config = from_flags(args, TrainConfig)
    mg.manual_seed(train_config.seed)
    model = ViTForClassification(config)
    trainer = Trainer(model, train, test, train_config, out_dir, settings={"run": from_flags(args, RunConfig)},
                      progress=_tqdm() if args.progress else None)
    if args.resume:
        if not (out_dir / CHECKPOINT).is_file():
            raise UsageError(f"--resume found no {out_dir / CHECKPOINT}; start without --resume")
        try:
            trainer.load_checkpoint()  # a ValueError naming every setting that differs from this run's
        except CheckpointError as err:
            raise UsageError(f"--resume cannot use the checkpoint {err.path}: {err.problem}") from None
        print(f"Resuming at epoch {trainer.position.epoch + 1}, step {trainer.position.batch}")
    return trainer


def run(trainer: Trainer, args: argparse.Namespace, class_names: list[str], out_dir: Path) -> int:
    """Train to the last epoch, printing the tutorial's line per epoch, then draw the results."""
    images, labels = trainer.train_images, trainer.train_labels
    test = (trainer.test_images, trainer.test_labels)
    epochs, threads = trainer.config.epochs, mg.get_num_threads()
    print(f"ViT with {trainer.model.num_parameters():,} parameters; {len(labels)} training and {len(test[1])} test "
          f"images; {threads} thread{'s' * (threads != 1)}; {json.dumps(trainer.run_info['model_config'])}")
    drawn: set[str] = set()  # the figures this run wrote
    draw(plots.plot_sample_images, images[:40], labels[:40], class_names, out_dir / "samples.png", drawn=drawn)

    def on_epoch_end(row: dict) -> None:
        tested = (f"Test Loss: {row['test_loss']:.4f}, Accuracy: {row['accuracy']:.2f}%"
                  if row["accuracy"] == row["accuracy"] else "not tested this epoch (--eval-every)")  # NaN != NaN
        if TTA_FIELD in row:
            tested += f" ({row[TTA_FIELD]:.2f}% on {trainer.config.test_crops} crops)"
        print(f"Epoch {row['epoch']}/{epochs} - Train Loss: {row['train_loss']:.4f}, {tested} "
              f"({row['epoch_seconds']:.0f} s, {row['train_images_per_second']:.0f} img/s)", flush=True)
        draw(plots.plot_curves, trainer.history, out_dir / "curves.png", drawn=drawn)
        draw(plots.plot_accuracy_vs_time, {f"{args.recipe} recipe": trainer.history}, out_dir / "accuracy_vs_time.png",
             threads=threads, drawn=drawn)

    try:
        trainer.fit(on_epoch_end)
    except KeyboardInterrupt:
        print(f"\nInterrupted: saved {out_dir / CHECKPOINT}; continue with the same command and --resume.",
              file=sys.stderr)
        return 130
    except TrainingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    last = trainer.history[-1]
    best = mg.load(out_dir / BEST)  # the file this run wrote: after a failed write, not always the best row
    crops = f" ({last[TTA_FIELD]:.2f}% as the mean of {trainer.config.test_crops} crops)" if TTA_FIELD in last else ""
    print(f"Final: {last['accuracy']:.2f}% test accuracy{crops} after epoch {last['epoch']}, "
          f"{last['elapsed_seconds']:.0f} s of training + evaluation. best.npz holds epoch {best['epoch']} "
          f"({best['accuracy']:.2f}%), picked on the test set, so quote the final figure.")
    trainer.model.load_state_dict(best["model"])
    print(f"best.npz (epoch {best['epoch']}), used for the figures: ", end="")
    draw_results(trainer.model, *test, class_names, out_dir, trainer.config.eval_batch_size, drawn)
    print_outputs(out_dir, [name for name in RUN_FILES if (out_dir / name).is_file()] +
                  [name for name in FIGURES if name in drawn])
    return 0


def draw(plot, *args, drawn: set[str], **kwargs) -> None:
    """plot(*args, **kwargs) writes the figure at args[-1] and its name joins `drawn`; if it cannot be written,
    one warning line, and its name leaves `drawn` (the file, if any, is older: --eval-only draws it again)."""
    name = Path(args[-1]).name
    try:
        plot(*args, **kwargs)
    except OSError as err:
        print(f"warning: could not draw {args[-1]} ({err.strerror or err})", file=sys.stderr)
        drawn.discard(name)
        return
    drawn.add(name)


def print_outputs(out_dir: Path, names: list[str]) -> None:
    """The last line of a run: where its files went."""
    print(f"Wrote into {out_dir.resolve()}: {', '.join(names) or 'nothing (see the warnings above)'}")


def evaluate_checkpoint(path: Path, test, class_names, out_dir: Path, batch_size: int, crops: int = 1,
                        allow_large: bool = False) -> int:
    """--eval-only: the model the checkpoint was trained as, with its weights: evaluate (--test-crops 9:
    also on 9 crops of each image) and draw."""
    try:
        model = ViTForClassification.from_checkpoint(path, allow_large=allow_large)
    except CheckpointError as err:
        fix = "" if "--allow-large-model" in err.problem else (
            ". Fix: pass --checkpoint PATH of a best.npz or checkpoint.npz written by this script")
        print(f"error: --eval-only cannot use the checkpoint {err.path}: {err.problem}{fix}.", file=sys.stderr)
        return 2
    drawn: set[str] = set()
    draw_results(model, *test, class_names, out_dir, batch_size, drawn, crops)
    print_outputs(out_dir, [name for name in FIGURES if name in drawn])
    return 0


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


if __name__ == "__main__":
    sys.exit(main())
