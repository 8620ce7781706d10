"""Runs and files: a run is never replaced by accident, a resume is the same run, a checkpoint from
anywhere gives one clear error, and a disk that fails leaves the last checkpoint whole.

Each run trains a 1-block ViT (hidden size 8) on 40 random images written by the test in CIFAR-10's
layout (cifar_fixture.make_cifar), 16 images per step: 3 steps per epoch.
"""
import dataclasses
import errno
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from cifar_fixture import make_cifar
from vit_np import checkpoint
from vit_np.checkpoint import CheckpointError, model_size
from vit_np.config import ViTConfig
from vit_np.model import ViTForClassification
from vit_np.runs import RunConfig, fingerprint
from vit_np.settings import FREE, MATCH, SCHEDULED, flag_name
from vit_np.train import CheckpointWriteError, TrainConfig, Trainer

from test_train import TINY, assert_trees_equal, cli, skip_figures, train_cifar

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    make_cifar(root, per_batch=40, n_test=40)
    return root


@pytest.fixture(autouse=True)
def no_figures(monkeypatch):
    skip_figures(monkeypatch)


def one_epoch_run(data_dir, out, *extra):
    assert train_cifar.main(cli(data_dir, out, "--epochs", "1", *extra)) == 0
    return out


@pytest.fixture(scope="module")
def base(data_dir, tmp_path_factory):
    """The out-dir of a finished 1-epoch run (constant learning rate): what the resume tests start from."""
    with pytest.MonkeyPatch.context() as mp:
        skip_figures(mp)
        return one_epoch_run(data_dir, tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def scheduled_base(data_dir, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        skip_figures(mp)
        return one_epoch_run(data_dir, tmp_path_factory.mktemp("scheduled"), "--lr-schedule", "warmup-cosine")


def files(out):
    return {p.name: p.read_bytes() for p in sorted(Path(out).iterdir()) if p.is_file()}


# ----------------------------------------------------------------------------------------------
# A run is never overwritten by accident
# ----------------------------------------------------------------------------------------------


def test_a_fresh_run_refuses_an_out_dir_that_holds_a_run(data_dir, base, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(base, out)
    before = files(out)
    assert train_cifar.main(cli(data_dir, out, "--epochs", "1")) == 2
    err = capsys.readouterr().err
    assert f"--out-dir {out} already holds a run (checkpoint.npz, best.npz, metrics.csv)" in err
    assert "--resume" in err and "--overwrite" in err and err.count("\n") == 1
    assert files(out) == before  # nothing touched


@pytest.mark.parametrize("only", ["checkpoint.npz", "best.npz", "metrics.csv"])
def test_any_one_of_a_runs_files_is_enough_to_refuse(data_dir, base, tmp_path, capsys, only):
    shutil.copy(base / only, tmp_path / only)
    assert train_cifar.main(cli(data_dir, tmp_path, "--epochs", "1")) == 2
    assert f"already holds a run ({only})" in capsys.readouterr().err


def test_overwrite_moves_the_old_run_aside_and_starts_over(data_dir, base, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(base, out)
    before = files(out)
    for n in (1, 2):
        assert train_cifar.main(cli(data_dir, out, "--epochs", "1", "--overwrite")) == 0
        assert f"moved the previous run's files into {out / f'replaced-{n}'}" in capsys.readouterr().out
    assert files(out / "replaced-1") == before  # the first run, byte for byte
    assert_trees_equal(mg.load(out / "checkpoint.npz")["model"], mg.load(base / "checkpoint.npz")["model"])


@pytest.mark.parametrize("flags, message", [
    (["--resume", "--overwrite"], "choose one"), (["--eval-only", "--overwrite"], "--eval-only trains nothing")])
def test_contradictory_flags(data_dir, base, tmp_path, capsys, flags, message):
    assert train_cifar.main(cli(data_dir, tmp_path, *flags)) == 2
    assert message in capsys.readouterr().err


def test_a_refused_overwrite_moves_nothing(data_dir, base, tmp_path, capsys):
    """--overwrite with a bad setting: the error, and the old run still in place."""
    shutil.copytree(base, tmp_path / "run")
    assert train_cifar.main(cli(data_dir, tmp_path / "run", "--overwrite", "--lr", "-1")) == 2
    assert "lr must be > 0" in capsys.readouterr().err and not (tmp_path / "run" / "replaced-1").exists()


def test_a_negative_seed_names_the_flag(data_dir, tmp_path, capsys):
    assert train_cifar.main(cli(data_dir, tmp_path, "--seed", "-1")) == 2
    assert capsys.readouterr().err == "error: TrainConfig: seed must be an integer >= 0, got -1 (flag --seed)\n"


# ----------------------------------------------------------------------------------------------
# Resume means the same run: every setting, declared once, is walked
# ----------------------------------------------------------------------------------------------

# A value that differs from the base run's and is valid (with what else it needs, for some).
CHANGES = {"patch_drop_ramp": ["0.2", "--patch-drop-rate", "0.5"],
           "randaugment_num_ops": ["3", "--augment", "crop-flip-randaugment"],
           "randaugment_magnitude": ["5", "--augment", "crop-flip-randaugment"],
           "data_dir": None, "limit_train": ["39"], "limit_test": ["39"], "threads": ["1"]}
NOT_WALKED = {"resume": "the mode under test", "overwrite": "refused beside --resume (test_contradictory_flags)",
              "eval_only": "not a resume", "out_dir": "FREE, and changed in every case below (the checkpoint is copied)"}


def changed(field, default):
    """The flag and a new value for `field` (the base run has its default, or TINY's value)."""
    if field in CHANGES:
        return CHANGES[field]
    in_tiny = flag_name(field) in TINY
    value = type(default)(TINY[TINY.index(flag_name(field)) + 1]) if in_tiny else default
    if isinstance(value, bool):
        return None  # a bool is flipped with its --no- form
    if field in ("augment", "lr_schedule", "test_crops"):
        return [{"augment": "crop-flip", "lr_schedule": "warmup-cosine", "test_crops": "9"}[field]]
    if isinstance(value, int):
        return [str(value * 2 if value else 1)]
    if isinstance(value, float):
        return [str(value / 2 if value else 0.25)]
    return ["elsewhere"]  # a str: --checkpoint


def walk():
    for cls in (TrainConfig, ViTConfig, RunConfig):
        for f in dataclasses.fields(cls):
            if f.metadata["flag"] and f.name not in NOT_WALKED:
                yield pytest.param(f, id=f.name)


def resume_args(field, data_dir, out):
    default = field.default
    change = changed(field.name, default)
    if change is None and isinstance(default, bool):
        flag = flag_name(field.name) if not default else "--no-" + flag_name(field.name)[2:]
        return cli(data_dir, out, "--epochs", "1", "--resume", flag)
    return cli(data_dir, out, "--epochs", "1", "--resume", flag_name(field.name), *change)


@pytest.mark.parametrize("field", list(walk()))
def test_every_setting_on_resume_is_refused_or_free_as_declared(data_dir, base, scheduled_base, tmp_path, capsys,
                                                                field):
    """MATCH: refused, naming the field; FREE: accepted; SCHEDULED: refused under a schedule, free without."""
    rule = field.metadata["resume"]
    if field.name == "data_dir":  # a copy of the same data elsewhere: free (the data's fingerprint matches)
        shutil.copytree(data_dir, tmp_path / "moved")
        args = cli(tmp_path / "moved", tmp_path / "out", "--epochs", "1", "--resume")
    else:
        args = resume_args(field, data_dir, tmp_path / "out")
    for start, scheduled in ((base, False), (scheduled_base, True)):
        if scheduled and rule != SCHEDULED:
            continue
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        shutil.copytree(start, tmp_path / "out")
        extra = ["--lr-schedule", "warmup-cosine"] if scheduled else []
        code = train_cifar.main(args + extra)
        out, err = capsys.readouterr()
        if rule == MATCH or (rule == SCHEDULED and scheduled):
            assert code == 2 and f"{field.name}=" in err and "checkpoint.npz" in err, err
        else:
            assert rule in (FREE, SCHEDULED)
            assert code == 0 and "Resuming at epoch" in out, err


def test_every_script_flag_is_declared():
    """Nothing outside the three declared dataclasses: each flag of --help comes from a setting()."""
    args = vars(train_cifar.parse_args([]))
    declared = {f.name for cls in (TrainConfig, ViTConfig, RunConfig) for f in dataclasses.fields(cls)}
    assert set(args) - {"recipe"} <= declared  # --recipe only picks the defaults of the others


def test_other_data_in_the_same_place_is_refused(data_dir, base, tmp_path, capsys):
    """--data-dir unchanged, the files in it changed: the fingerprints differ."""
    make_cifar(tmp_path / "other", per_batch=40, n_test=40, seed=1)
    shutil.copytree(base, tmp_path / "out")
    assert train_cifar.main(cli(tmp_path / "other", tmp_path / "out", "--epochs", "1", "--resume")) == 2
    err = capsys.readouterr().err
    assert "train_data='blake2b:" in err and "test_data='blake2b:" in err


def test_a_checkpoint_older_than_the_run_settings_and_fingerprints_still_resumes(data_dir, base, tmp_path, capsys):
    state = mg.load(base / "checkpoint.npz")
    info = json.loads(state["info"])
    del info["run"], state["data"]
    shutil.copytree(base, tmp_path / "out")
    mg.save({**state, "info": json.dumps(info)}, tmp_path / "out" / "checkpoint.npz")
    assert train_cifar.main(cli(data_dir, tmp_path / "out", "--epochs", "1", "--resume")) == 0


def test_fingerprint_sees_values_shapes_and_labels():
    images, labels = np.zeros((4, 3, 2, 2), np.uint8), np.arange(4)
    same = fingerprint(images.copy(), labels.copy())
    assert fingerprint(images, labels) == same
    other = images.copy()
    other[3, 2, 1, 1] = 1
    assert len({same, fingerprint(other, labels), fingerprint(images, labels[::-1].copy()),
                fingerprint(images.reshape(2, 6, 2, 2), labels)}) == 4


# ----------------------------------------------------------------------------------------------
# Untrusted checkpoints: one clear error naming the file and the fault, and nothing changed
# ----------------------------------------------------------------------------------------------


def edited(state, part, change):
    """A copy of the checkpoint tree with state[part] passed through change (a function of the old value)."""
    state = dict(state)
    state[part] = change(state[part]) if part in state else change(None)
    return state


def json_edit(key, value):
    return lambda text: json.dumps({**json.loads(text), key: value})


def first_state(opt):
    return min(opt["state"])


DAMAGED = {  # name: (a function of the checkpoint tree giving the damaged tree, words the error must hold)
    "model_missing_an_array": (lambda s: edited(s, "model", lambda m: dict(list(m.items())[1:])), "lacks 1 of the model's arrays"),
    "model_extra_array": (lambda s: edited(s, "model", lambda m: {**m, "extra": np.zeros(3, np.float32)}), "does not ('extra')"),
    "model_wrong_shape": (lambda s: edited(s, "model", lambda m: {**m, "classifier.bias": np.zeros(7, np.float32)}),
                          "'model/classifier.bias' has shape (7,)"),
    "model_int_array": (lambda s: edited(s, "model", lambda m: {**m, "classifier.bias": np.zeros(10, np.int64)}),
                        "'model/classifier.bias' is a int64 array"),
    "model_nan": (lambda s: edited(s, "model", lambda m: {**m, "classifier.bias": np.full(10, np.nan, np.float32)}),
                  "NaN or infinite"),
    "model_a_string": (lambda s: edited(s, "model", lambda m: "weights"), "'model' is a str"),
    "optimizer_missing": (lambda s: {k: v for k, v in s.items() if k != "optimizer"}, "has no 'optimizer' entry"),
    "optimizer_groups": (lambda s: edited(s, "optimizer", lambda o: {**o, "param_groups": o["param_groups"] * 2}),
                         "has 2 groups"),
    "optimizer_lr_negative": (lambda s: edited(s, "optimizer", lambda o: {**o, "param_groups": [
        {**o["param_groups"][0], "lr": -1.0}]}), "lr"),
    "optimizer_lr_a_string": (lambda s: edited(s, "optimizer", lambda o: {**o, "param_groups": [
        {**o["param_groups"][0], "lr": "fast"}]}), "'optimizer/param_groups/0/lr' is 'fast'"),
    "optimizer_state_lacks_exp_avg": (lambda s: edited(s, "optimizer", lambda o: {**o, "state": {
        **o["state"], first_state(o): {"step": 3, "exp_avg_sq": o["state"][first_state(o)]["exp_avg_sq"]}}}),
        "where this optimizer keeps ['step', 'exp_avg', 'exp_avg_sq']"),
    "optimizer_state_shape": (lambda s: edited(s, "optimizer", lambda o: {**o, "state": {
        **o["state"], first_state(o): {**o["state"][first_state(o)], "exp_avg": np.zeros(2, np.float32)}}}),
        "exp_avg' has shape (2,)"),
    "optimizer_step_a_string": (lambda s: edited(s, "optimizer", lambda o: {**o, "state": {
        **o["state"], first_state(o): {**o["state"][first_state(o)], "step": "3"}}}), "step' is a str"),
    "optimizer_unknown_parameter": (lambda s: edited(s, "optimizer", lambda o: {**o, "state": {
        **o["state"], 999: o["state"][first_state(o)]}}), "names parameter 999"),
    "scheduler_not_json": (lambda s: edited(s, "scheduler", lambda t: "{not json"), "'scheduler' is not valid JSON"),
    "scheduler_wrong_step": (lambda s: edited(s, "scheduler", json_edit("last_epoch", 99)), "taken 99 steps"),
    "scheduler_unknown_entry": (lambda s: edited(s, "scheduler", json_edit("lr_lambdas", [1])), "unknown 'lr_lambdas'"),
    "position_epoch_a_string": (lambda s: edited(s, "position", lambda p: {**p, "epoch": "1"}), "'position/epoch' is '1'"),
    "position_batch_too_far": (lambda s: edited(s, "position", lambda p: {**p, "batch": 7}), "not a place in a run"),
    "rng_garbage": (lambda s: edited(s, "rng", lambda r: json.dumps({"bit_generator": "MT19937"})), "'rng' is not a state"),
    "rng_an_array": (lambda s: edited(s, "rng", lambda r: np.zeros(3)), "'rng' is a float64 array"),
    "history_a_dict": (lambda s: edited(s, "history", lambda h: "{}"), "'history' holds a dict of JSON"),
    "history_too_short": (lambda s: edited(s, "history", lambda h: "[]"), "'history' is not 1 rows"),
    "best_accuracy_a_list": (lambda s: edited(s, "best_accuracy", lambda b: [1.0]), "'best_accuracy' is a list"),
    "train_config_a_list": (lambda s: edited(s, "train_config", lambda t: "[1, 2]"), "'train_config' holds a list"),
    "info_deeply_nested": (lambda s: edited(s, "info", lambda t: "[" * 100_000 + "]" * 100_000), "'info' is not valid JSON"),
    "data_fingerprint_a_number": (lambda s: edited(s, "data", lambda d: {**d, "train": 3}), "'data/train' is 3"),
    "a_list_not_a_dict": (lambda s: [1, 2, 3], "holds a list"),
    "best_npz_instead": (None, "it holds weights only, as best.npz does"),
}
FILES = {  # name: (bytes of a file that is not a checkpoint at all, words the error must hold)
    "empty_file": (b"", "not a readable checkpoint"),
    "random_bytes": (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "not a readable checkpoint"),
}


def write_damaged(base, path, name):
    if name == "best_npz_instead":
        shutil.copy(base / "best.npz", path)
    elif name == "truncated":
        path.write_bytes((base / "checkpoint.npz").read_bytes()[:5000])
    elif name == "plain_np_savez":
        np.savez(path, **{f"w{i}": v for i, v in enumerate(mg.load(base / "checkpoint.npz")["model"].values())})
    elif name in FILES:
        path.write_bytes(FILES[name][0])
    else:
        mg.save(DAMAGED[name][0](mg.load(base / "checkpoint.npz")), path)


WORDS = {**{k: v[1] for k, v in DAMAGED.items()}, **{k: v[1] for k, v in FILES.items()},
         "truncated": "not a readable checkpoint", "plain_np_savez": "only loose arrays, as numpy.savez writes"}


@pytest.mark.parametrize("name", list(WORDS))
def test_resume_from_a_damaged_or_foreign_checkpoint(data_dir, base, tmp_path, capsys, name):
    shutil.copytree(base, tmp_path / "out")
    write_damaged(base, tmp_path / "out" / "checkpoint.npz", name)
    assert train_cifar.main(cli(data_dir, tmp_path / "out", "--epochs", "2", "--resume")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --resume cannot use the checkpoint {tmp_path / 'out' / 'checkpoint.npz'}: ") or (
        err.startswith("error: --resume: the checkpoint ")), err
    assert WORDS[name] in err and err.count("\n") == 1, err


def trainer_state(trainer):
    return {k: v for k, v in trainer.checkpoint_state().items() if k not in ("elapsed",)}


@pytest.mark.parametrize("name", [n for n in WORDS if n not in ("a_list_not_a_dict",)])
def test_a_refused_load_changes_nothing(data_dir, base, tmp_path, name):
    """All or nothing: model, optimizer, schedule, position, RNG and history as before the refused load."""
    args = train_cifar.parse_args(cli(data_dir, tmp_path, "--epochs", "2"))
    train, test = (train_cifar.load_cifar10(data_dir, train=t, limit=40) for t in (True, False))
    trainer = train_cifar.build_trainer(args, train_cifar.from_flags(args, ViTConfig), train, test, tmp_path)
    trainer.fit()  # two epochs: a state unlike the checkpoint's in every part
    before = trainer_state(trainer)
    write_damaged(base, tmp_path / "damaged.npz", name)
    with pytest.raises(ValueError):
        trainer.load_checkpoint(tmp_path / "damaged.npz")
    assert_trees_equal(trainer_state(trainer), before, "trainer")


EVAL_ONLY = ["model_missing_an_array", "model_wrong_shape", "model_int_array", "model_nan", "model_a_string",
             "info_deeply_nested", "a_list_not_a_dict", "empty_file", "random_bytes", "truncated", "plain_np_savez"]


@pytest.mark.parametrize("name", EVAL_ONLY)
def test_eval_only_and_from_checkpoint_with_a_damaged_or_foreign_file(data_dir, base, tmp_path, capsys, name):
    path = tmp_path / "given.npz"
    write_damaged(base, path, name)
    with pytest.raises(CheckpointError) as error:
        ViTForClassification.from_checkpoint(path)
    assert error.value.path == str(path) and WORDS[name] in error.value.problem
    args = ["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--limit-test", "40", "--no-download"]
    assert train_cifar.main([*args, "--eval-only", "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --eval-only cannot use the checkpoint {path}: ") and err.count("\n") == 1, err


def with_model_config(base, path, **fields):
    best = mg.load(base / "best.npz")
    info = json.loads(best["info"])
    mg.save({**best, "info": json.dumps({**info, "model_config": {**info["model_config"], **fields}})}, path)


@pytest.mark.parametrize("fields, words", [
    ({"hidden_size": 2**18, "intermediate_size": 2**20}, "parameters (the limit is 50,000,000)"),
    ({"num_hidden_layers": 10**6}, "modules (the limit is 20,000)"),
    ({"patch_size": 1, "image_size": 1024, "hidden_size": 2, "num_attention_heads": 1}, "activation bytes"),
    ({"hidden_size": "48"}, "hidden_size must be a positive integer, got '48'"),
    ({"hidden_size": 10, "num_attention_heads": 4}, "must be divisible"),
    ({"depth": 3}, "unknown config key(s) 'depth'"),
])
def test_a_model_config_from_a_file_is_checked_and_bounded_before_anything_is_built(base, tmp_path, fields, words):
    with_model_config(base, tmp_path / "big.npz", **fields)
    with pytest.raises(CheckpointError) as error:
        ViTForClassification.from_checkpoint(tmp_path / "big.npz")  # at once: nothing allocated
    assert words in error.value.problem and error.value.path == str(tmp_path / "big.npz")


def test_allow_large_model_builds_what_the_bounds_refuse(data_dir, base, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoint, "MAX_PARAMETERS", 100)  # the tiny model is "large" now
    args = ["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--limit-test", "40", "--no-download",
            "--eval-only", "--checkpoint", str(base / "best.npz")]
    assert train_cifar.main(args) == 2
    err = capsys.readouterr().err
    assert "(the limit is 100)" in err and "--allow-large-model" in err and "Fix: pass --checkpoint" not in err
    assert train_cifar.main([*args, "--allow-large-model"]) == 0
    assert ViTForClassification.from_checkpoint(base / "best.npz", allow_large=True).num_parameters() > 100


@pytest.mark.parametrize("fields", [{}, {"qkv_bias": False, "final_layernorm": True},
                                    {"use_faster_attention": False, "hidden_size": 12, "num_attention_heads": 3},
                                    {"patch_size": 8, "num_classes": 7, "num_channels": 1, "intermediate_size": 5}])
def test_model_size_counts_the_parameters_exactly_and_bounds_the_modules(fields):
    config = ViTConfig(**fields)
    model = ViTForClassification(config)
    size = model_size(config)
    assert size["parameters"] == model.num_parameters()
    assert size["modules"] >= len(list(model.modules()))


def test_pretrained_files_still_load():
    for path in sorted((ROOT / "examples" / "pretrained").glob("*.npz")):
        assert ViTForClassification.from_checkpoint(path).num_parameters() > 0


# ----------------------------------------------------------------------------------------------
# Disk and OS failures while checkpointing: one line, and the last checkpoint whole
# ----------------------------------------------------------------------------------------------


def tiny_data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 40)


def tiny_trainer(out, epochs, seed=0, dropout=0.1, warn=None):
    mg.manual_seed(seed)
    model = ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=16, hidden_dropout_prob=dropout,
                                           attention_probs_dropout_prob=dropout))
    data = tiny_data(seed)
    return Trainer(model, data, data, TrainConfig(epochs=epochs, batch_size=16, seed=seed, checkpoint_every=0), out,
                   warn=warn)


def same_run(out_a, out_b, parts=("model", "optimizer", "scheduler", "rng", "position")):
    a, b = mg.load(Path(out_a) / "checkpoint.npz"), mg.load(Path(out_b) / "checkpoint.npz")
    for part in parts:
        assert_trees_equal(a[part], b[part], part)


class Disk:
    """A 1 MB tmpfs mounted for the test (as root), which fill() fills and free() empties; without root (or
    where mounting is refused) a simulated one: minigrad.save raises the same OSError while 'full'."""

    def __init__(self, root: Path, monkeypatch):
        self.path, self.full, self.why = root / "disk", False, ""
        self.path.mkdir()
        if os.geteuid() != 0:
            self.why = "not running as root, so no tmpfs can be mounted"
        else:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(self.path)],
                                  capture_output=True, text=True)
            self.why = f"mount refused: {done.stderr.strip()}" if done.returncode else ""
        self.real = not self.why
        if not self.real:
            print(f"A simulated full disk: {self.why}")  # shown with -s; the messages are still asserted
            save = mg.save

            def failing_save(obj, path):
                if self.full:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
                return save(obj, path)

            monkeypatch.setattr(mg, "save", failing_save)

    def fill(self):
        self.full = True
        if self.real:
            with open(self.path / "filler", "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError as err:
                    assert err.errno == errno.ENOSPC

    def free(self):
        self.full = False
        if self.real:
            (self.path / "filler").unlink()

    def unmount(self):
        if self.real:
            subprocess.run(["umount", str(self.path)], check=True)


@pytest.fixture
def disk(tmp_path, monkeypatch):
    d = Disk(tmp_path, monkeypatch)
    yield d
    d.unmount()


def leftovers(out):
    return [p.name for p in Path(out).iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_mid_run_warns_goes_on_and_ends_as_an_unbroken_run(disk, tmp_path):
    tiny_trainer(tmp_path / "reference", 3).fit()
    warnings, out = [], disk.path / "run"
    trainer = tiny_trainer(out, 3, warn=warnings.append)
    trainer.fit(lambda row: disk.fill() if row["epoch"] == 1 else disk.free() if row["epoch"] == 2 else None)
    line = f"warning: could not write {out / 'checkpoint.npz'} (No space left on device); it still holds epoch 2, step 0"
    assert any(w.startswith(line) and w.endswith("training goes on and the next save tries again") for w in warnings)
    assert all("\n" not in w for w in warnings)
    same_run(out, tmp_path / "reference")
    assert leftovers(out) == []


def test_a_full_disk_at_the_end_stops_and_the_last_checkpoint_resumes(disk, tmp_path):
    tiny_trainer(tmp_path / "reference", 2).fit()
    out = disk.path / "run"
    with pytest.raises(CheckpointWriteError) as error:
        tiny_trainer(out, 2).fit(lambda row: disk.fill())
    message = str(error.value)
    assert message.startswith(f"could not write {out}/") and "(No space left on device)" in message
    assert leftovers(out) == []
    disk.free()
    trainer = tiny_trainer(out, 2)
    trainer.load_checkpoint()  # the end of epoch 1: whole
    assert trainer.position.epoch == 1
    trainer.fit()
    same_run(out, tmp_path / "reference")


def test_ctrl_c_on_a_full_disk_says_the_save_failed(disk, monkeypatch):
    out, steps = disk.path / "run", [0]
    trainer = tiny_trainer(out, 2)
    step = trainer.train_step

    def interrupted(x, y):
        steps[0] += 1
        if steps[0] == 5:
            disk.fill()
            raise KeyboardInterrupt
        return step(x, y)

    monkeypatch.setattr(trainer, "train_step", interrupted)
    with pytest.raises(CheckpointWriteError) as error:
        trainer.fit()
    assert str(error.value).startswith(f"interrupted, and could not write {out / 'checkpoint.npz'} "
                                       "(No space left on device); it still holds epoch 2, step 0")


def test_the_script_on_a_full_disk_prints_one_line_and_exits_1(disk, data_dir, monkeypatch, capsys):
    monkeypatch.setattr(train_cifar.plots, "plot_curves", lambda history, path: disk.fill())
    assert train_cifar.main(cli(data_dir, disk.path / "run", "--epochs", "2")) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "(No space left on device)" in errors[0] and "Traceback" not in err, err
    disk.free()
    assert train_cifar.main(cli(data_dir, disk.path / "run", "--epochs", "2", "--resume")) == 0


def test_a_read_only_directory(disk, tmp_path):
    if not disk.real:
        pytest.skip(f"a read-only mount needs root: {disk.why}")  # the message is the full-disk test's, other words
    out, warnings = disk.path / "run", []
    trainer = tiny_trainer(out, 2, warn=warnings.append)
    remount = ["mount", "-o", "remount,ro", str(disk.path)]
    with pytest.raises(CheckpointWriteError) as error:
        trainer.fit(lambda row: subprocess.run(remount, check=True))
    subprocess.run(["mount", "-o", "remount,rw", str(disk.path)], check=True)
    assert "(Read-only file system)" in str(error.value) and str(out) in str(error.value)
    assert any("metrics.csv (Read-only file system)" in w for w in warnings) or warnings == []
    assert mg.load(out / "checkpoint.npz")["position"]["epoch"] == 1


def test_a_vanished_directory(tmp_path):
    out, warnings = tmp_path / "run", []
    trainer = tiny_trainer(out, 3, warn=warnings.append)
    with pytest.raises(CheckpointWriteError) as error:
        trainer.fit(lambda row: shutil.rmtree(out, ignore_errors=True))
    assert f"(the directory {out} is gone); no earlier one exists" in str(error.value)
    assert any(f"could not write {out / 'checkpoint.npz'} (the directory {out} is gone)" in w for w in warnings)
    assert not out.exists()  # not silently made again somewhere the user no longer looks


def test_permission_denied(tmp_path, monkeypatch):
    """As root no mode bit denies a write, so the OS's answer is simulated; as a user, a directory of mode 0500."""
    out, warnings = tmp_path / "run", []
    trainer = tiny_trainer(out, 2, warn=warnings.append)
    if os.geteuid() == 0:
        save = mg.save

        def denied(obj, path):
            if mg.load(out / "checkpoint.npz")["position"]["epoch"] >= 1 if (out / "checkpoint.npz").exists() else False:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return save(obj, path)

        monkeypatch.setattr(mg, "save", denied)
        on_epoch_end = None
    else:
        on_epoch_end = lambda row: out.chmod(0o500)  # noqa: E731
    with pytest.raises(CheckpointWriteError) as error:
        trainer.fit(on_epoch_end)
    out.chmod(0o700)
    assert "(Permission denied)" in str(error.value) and "it still holds epoch 2, step 0" in str(error.value)
    assert mg.load(out / "checkpoint.npz")["position"]["epoch"] == 1


# ----------------------------------------------------------------------------------------------
# Two Trainers in two threads, each writing its own out-dir
# ----------------------------------------------------------------------------------------------


def test_two_trainers_in_two_threads_write_their_own_runs(tmp_path):
    """Without dropout nothing draws from the process-wide generator during training, so each run in a thread
    ends on the bits of the same run alone; the files of each out-dir are whole and its own. (The 'rng' a
    checkpoint records is that process-wide generator's: two runs in one process share it, so with dropout
    neither would resume exactly.)"""
    for seed in (0, 1):
        tiny_trainer(tmp_path / f"alone{seed}", 2, seed=seed, dropout=0.0).fit()
    trainers = [tiny_trainer(tmp_path / f"thread{seed}", 2, seed=seed, dropout=0.0) for seed in (0, 1)]
    errors = []

    def fit(trainer):
        try:
            trainer.fit()
        except BaseException as err:  # reported below: an error in a thread would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=fit, args=(t,)) for t in trainers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for seed in (0, 1):
        same_run(tmp_path / f"thread{seed}", tmp_path / f"alone{seed}", ("model", "optimizer", "scheduler", "position"))
        assert json.loads(mg.load(tmp_path / f"thread{seed}" / "checkpoint.npz")["train_config"])["seed"] == seed
        assert len((tmp_path / f"thread{seed}" / "metrics.csv").read_text().splitlines()) == 3


def test_a_second_run_in_an_out_dir_in_use_is_refused(tmp_path):
    """Two runs started in one empty out-dir at the same moment both pass the fresh-run check: the out-dir's
    lock refuses the second, and the first's run is untouched."""
    from vit_np.runs import RunLock
    from vit_np.train import TrainConfig, Trainer, TrainingError

    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=16))
    data = (np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8), np.arange(8) % 10)
    config = TrainConfig(epochs=1, batch_size=4, eval_batch_size=8, checkpoint_every=0)
    with RunLock(tmp_path):  # the first run, holding the out-dir
        with pytest.raises(TrainingError, match=rf"--out-dir {tmp_path} is in use by another run; wait"):
            Trainer(model, data, data, config, tmp_path).fit()
        assert not (tmp_path / "checkpoint.npz").exists()
    Trainer(model, data, data, config, tmp_path).fit()  # once it has ended, the out-dir is free
    assert (tmp_path / "checkpoint.npz").exists()
