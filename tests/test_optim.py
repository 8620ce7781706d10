"""minigrad.optim against torch.optim: 25 steps on the same parameters and gradient sequence.

Gradients are set directly (not computed from a loss), so these tests check only the update
rules, the schedules and the bookkeeping, one concept per test.
"""
import math

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import nn, optim
from minigrad.optim import lr_scheduler
from minigrad.testing import DTYPES, TOLERANCES, assert_close

SHAPES = [(4, 3), (3,), (2, 2, 2), ()]  # () : a 0-d parameter, whose NumPy arithmetic gives scalars, not arrays
STEPS = 25

CASES = {
    "sgd": (optim.SGD, torch.optim.SGD, dict(lr=0.1)),
    "sgd-momentum-wd": (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd-dampening": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3)),
    "sgd-nesterov": (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adam": (optim.Adam, torch.optim.Adam, dict(lr=0.01)),
    "adam-l2": (optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adamw": (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    # maximize: ascend (the gradient's sign flips before weight decay); amsgrad: v never shrinks
    "sgd-maximize": (optim.SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=0.01, maximize=True)),
    "sgd-momentum-maximize": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    "adam-amsgrad": (optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    "adam-amsgrad-l2-maximize": (optim.Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True,
                                                                   maximize=True)),
    "adam-decoupled": (optim.Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    "adamw-amsgrad": (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "adamw-maximize": (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1, maximize=True)),
    "rmsprop": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    "rmsprop-centered-momentum": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.9,
                                                                         centered=True, weight_decay=0.1)),
    "rmsprop-maximize": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, maximize=True)),
    "adagrad": (optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1)),
    "adagrad-decay-init": (optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                                                    initial_accumulator_value=0.5, maximize=True)),
}


def initial_params(dtype) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def gradient(step: int, i: int, shape: tuple, dtype) -> np.ndarray | None:
    """The same pseudo-random gradient for both frameworks; parameter 2 gets none every third step."""
    if i == 2 and step % 3 == 0:
        return None  # a parameter without a gradient must be skipped (momentum and step count too)
    return np.random.default_rng(1000 * step + i).standard_normal(shape).astype(dtype)


def run(params, opt, sched, steps: range, dtype, to_grad) -> None:
    """Set the step's gradients (to_grad: ndarray -> the framework's gradient), step, then schedule."""
    for step in steps:
        for i, p in enumerate(params):
            g = gradient(step, i, SHAPES[i], dtype)
            p.grad = None if g is None else to_grad(g)
        opt.step()
        if sched is not None:
            sched.step()


def groups(params) -> list[dict]:
    """Two groups, as for weight-decay exclusions: the matrix with the defaults, the rest without decay."""
    return [{"params": params[:1]}, {"params": params[1:], "weight_decay": 0.0}]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype):
    ours_cls, torch_cls, kwargs = CASES[case]
    start = initial_params(dtype)
    ours = [nn.Parameter(a.copy()) for a in start]
    theirs = [torch.nn.Parameter(torch.tensor(a.copy())) for a in start]
    our_opt, their_opt = ours_cls(groups(ours), **kwargs), torch_cls(groups(theirs), **kwargs)
    our_sched = lr_scheduler.StepLR(our_opt, step_size=10, gamma=0.5)
    their_sched = torch.optim.lr_scheduler.StepLR(their_opt, step_size=10, gamma=0.5)
    run(ours, our_opt, our_sched, range(STEPS), dtype, mg.Tensor)
    run(theirs, their_opt, their_sched, range(STEPS), dtype, torch.tensor)
    for i, (p, t) in enumerate(zip(ours, theirs)):
        assert p.dtype == dtype
        assert_close(p.numpy(), t.detach().numpy(), f"parameter {i} after {STEPS} steps", **TOLERANCES[dtype])
    for p in ours:  # optimizer state in the parameter's dtype: no float64 creep
        assert all(v.dtype == dtype for v in our_opt.state[p].values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("case", CASES)
def test_state_dict_layout_like_torch(case):
    ours_cls, torch_cls, kwargs = CASES[case]
    ours = [nn.Parameter(a) for a in initial_params(np.float32)]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in initial_params(np.float32)]
    our_opt, their_opt = ours_cls(groups(ours), **kwargs), torch_cls(groups(theirs), **kwargs)
    run(ours, our_opt, None, range(2), np.float32, mg.Tensor)
    run(theirs, their_opt, None, range(2), np.float32, torch.tensor)
    our_sd, their_sd = our_opt.state_dict(), their_opt.state_dict()
    assert {k: set(v) for k, v in our_sd["state"].items()} == {k: set(v) for k, v in their_sd["state"].items()}
    for ours_group, their_group in zip(our_sd["param_groups"], their_sd["param_groups"]):
        assert ours_group["params"] == their_group["params"]
        assert {k: ours_group[k] for k in ours_group} == {k: their_group[k] for k in ours_group}


@pytest.mark.parametrize("case", CASES)
def test_resume_is_bit_for_bit(case, tmp_path):
    """Stop after 10 steps, save through minigrad.save, restore into fresh objects: identical to not stopping."""
    ours_cls, _, kwargs = CASES[case]
    make_sched = lambda opt: lr_scheduler.warmup_cosine(opt, warmup_steps=5, total_steps=STEPS)  # noqa: E731
    params = [nn.Parameter(a) for a in initial_params(np.float32)]
    opt = ours_cls(groups(params), **kwargs)
    sched = make_sched(opt)
    run(params, opt, sched, range(10), np.float32, mg.Tensor)
    mg.save({"params": [p.numpy() for p in params], "optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
            tmp_path / "ckpt.npz")
    run(params, opt, sched, range(10, STEPS), np.float32, mg.Tensor)

    ckpt = mg.load(tmp_path / "ckpt.npz")
    resumed = [nn.Parameter(a) for a in ckpt["params"]]
    resumed_opt = ours_cls(groups(resumed), **kwargs)
    resumed_opt.load_state_dict(ckpt["optimizer"])
    resumed_sched = make_sched(resumed_opt)
    resumed_sched.load_state_dict(ckpt["scheduler"])
    run(resumed, resumed_opt, resumed_sched, range(10, STEPS), np.float32, mg.Tensor)
    for p, q in zip(params, resumed):
        assert np.array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize("make, field", [
    (lambda p: optim.SGD(p, lr=-0.1), "lr"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.Adam(p, lr=-1e-3), "lr"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\]"),
    (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda p: optim.Adam(p, eps=-1e-8), "eps"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), "weight_decay"),
])
def test_invalid_hyperparameters_are_named(make, field):
    with pytest.raises(ValueError, match=field):
        make([nn.Parameter(np.zeros(2))])


def test_empty_and_wrong_params():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(nn.Parameter(np.zeros(2)), lr=0.1)
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


def test_zero_grad():
    params = [nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))]
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = mg.ones_like(p)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_load_state_dict_copies_and_casts_to_param_dtype():
    source = [nn.Parameter(a) for a in initial_params(np.float64)]
    opt = optim.Adam(source)
    run(source, opt, None, range(3), np.float64, mg.Tensor)
    sd = opt.state_dict()
    target = [nn.Parameter(a) for a in initial_params(np.float32)]
    opt32 = optim.Adam(target)
    opt32.load_state_dict(sd)
    state = opt32.state[target[0]]
    assert state["step"] == 3 and state["exp_avg"].dtype == np.float32
    sd["state"][0]["exp_avg"][...] = 0.0  # a copy: the optimizer does not share the dict's arrays
    assert state["exp_avg"].any()
    with pytest.raises(ValueError, match="2 parameters in the state dict but 1"):
        optim.Adam(target[1:2]).load_state_dict({"state": {}, "param_groups": [{"params": [0, 1]}]})


# -- learning-rate schedules ---------------------------------------------------------------------------


def lr_trajectory(make_sched, opt, steps=30) -> list[list[float]]:
    sched = make_sched(opt)
    lrs = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return lrs


def two_groups(lib):
    """Two param groups with different base lrs, in torch.optim or minigrad.optim."""
    make = (lambda: nn.Parameter(np.zeros(2))) if lib is optim else (lambda: torch.nn.Parameter(torch.zeros(2)))
    return lib.SGD([{"params": [make()], "lr": 0.1}, {"params": [make()], "lr": 0.02}], lr=0.1)


@pytest.mark.parametrize("name, kwargs", [
    ("LambdaLR", dict(lr_lambda=lambda step: 0.95**step)),
    ("StepLR", dict(step_size=7, gamma=0.3)),
    ("CosineAnnealingLR", dict(T_max=12, eta_min=0.001)),  # 30 steps: past T_max, back up again
])
def test_schedulers_match_torch(name, kwargs):
    ours = lr_trajectory(lambda opt: getattr(lr_scheduler, name)(opt, **kwargs), two_groups(optim))
    theirs = lr_trajectory(lambda opt: getattr(torch.optim.lr_scheduler, name)(opt, **kwargs), two_groups(torch.optim))
    assert_close(np.array(ours), np.array(theirs), f"{name} learning rates", rtol=1e-12, atol=1e-15)


def test_warmup_cosine_matches_torch_lambda_lr():
    warmup, total, ratio = 5, 20, 0.1
    factor = lambda step: lr_scheduler.warmup_cosine_factor(step, warmup, total, ratio)  # noqa: E731
    ours = lr_trajectory(lambda opt: lr_scheduler.warmup_cosine(opt, warmup, total, ratio), two_groups(optim), 25)
    theirs = lr_trajectory(lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, factor), two_groups(torch.optim), 25)
    assert_close(np.array(ours), np.array(theirs), "warmup_cosine learning rates", rtol=1e-12, atol=1e-15)


def test_warmup_cosine_closed_form():
    warmup, total, ratio, base = 4, 12, 0.1, 0.1
    lrs = [lr for lr, _ in lr_trajectory(lambda opt: lr_scheduler.warmup_cosine(opt, warmup, total, ratio),
                                          two_groups(optim), 15)]
    assert lrs[:warmup] == pytest.approx([base * (s + 1) / warmup for s in range(warmup)])  # linear rise
    assert lrs[warmup] == pytest.approx(base)  # the peak
    mid = (warmup + total) // 2  # half way down the cosine: halfway between peak and floor
    assert lrs[mid] == pytest.approx(base * (ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * 0.5))))
    assert lrs[total:] == pytest.approx([base * ratio] * (len(lrs) - total))  # then it stays at the floor
    assert all(a >= b for a, b in zip(lrs[warmup:], lrs[warmup + 1:]))


# -- gradient clipping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_norm, norm_type", [(1.0, 2.0), (100.0, 2.0), (0.5, 1.0), (0.5, math.inf)])
def test_clip_grad_norm_matches_torch(dtype, max_norm, norm_type):
    grads = [g.astype(dtype) for g in initial_params(np.float64)]
    ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64 if dtype == np.float64 else torch.float32))
              for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = mg.Tensor(g.copy()), torch.tensor(g.copy())
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert_close(np.array(total), expected.numpy().astype(np.float64), "total norm", **TOLERANCES[dtype])
    assert isinstance(total, mg.Tensor) and total.shape == () and total.dtype == dtype  # as PyTorch: a 0-d tensor,
    assert isinstance(total.item(), float)  # so that clip_grad_norm_(...).item() works
    for i, (p, t) in enumerate(zip(ours, theirs)):
        assert p.grad.dtype == dtype
        assert_close(p.grad, t.grad.numpy(), f"clipped gradient {i}", **TOLERANCES[dtype])


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_pytorchs_implementation_flags(cls):
    """foreach / fused only choose among PyTorch's kernels: taken and ignored; differentiable / capturable: refused."""
    p = nn.Parameter(np.ones(3))
    cls([p], foreach=True, fused=True, differentiable=False)
    with pytest.raises(NotImplementedError, match=rf"{cls.__name__}: differentiable=True is not supported"):
        cls([p], differentiable=True)
    if cls is not optim.SGD:
        with pytest.raises(NotImplementedError, match=rf"{cls.__name__}: capturable=True \(CUDA graph capture\)"):
            cls([p], capturable=True)
