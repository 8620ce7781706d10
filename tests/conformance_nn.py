"""module_db and optim_db: PyTorch's module and optimizer cases, for those minigrad has (see conformance).

A module case builds both modules from its constructor input, copies PyTorch's parameters into
minigrad's through load_state_dict, runs the forward input, and compares the output, then every input's
and every parameter's gradient under one random upstream gradient. nn.Dropout has no module_db entry:
its cases here compare the statistics of its masks (conformance_random.dropout). An optimizer case runs
both optimizers for STEPS steps on the same parameters and the same random gradients and compares the
parameters, the state and the hyperparameters after every step.
"""
from __future__ import annotations

import copy
import warnings
import zlib
from typing import Any

import numpy as np
import torch

import minigrad as mg
from conformance import (
    DTYPES, Outcome, Subject, Translation, attempt, backward_ours, call_ours, close, compare, compare_grads,
    each_mode, numpy_dtype, pytorch_raises, tensors, torch_runs,
)
from conformance_random import dropout as dropout_statistics
from conformance_report import Results

STEPS = 5
PARAM_SHAPES = [(4, 3), (4,), ()]  # a weight, a bias and a scalar


def _seed(*parts: Any) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


# -- modules -----------------------------------------------------------------------------------------------------


def run_module_input(info: Any, module_input: Any, dtype: str, seed: int) -> Outcome:
    name = info.module_cls.__name__
    subject = Subject(f"nn.{name}", getattr(mg.nn, name), (name, f"nn.{name}"))
    tr, ctor = Translation(), Translation()
    c, f = module_input.constructor_input, module_input.forward_input
    try:
        theirs = info.module_cls(*tr.fresh(tuple(c.args)), **tr.fresh(dict(c.kwargs))).to(DTYPES[dtype])
    except Exception as err:  # noqa: BLE001
        return Outcome("not applicable", pytorch_raises(err))
    theirs64 = copy.deepcopy(theirs).double()  # the float64 arbiter of float32 disagreements
    names = [n for n, _ in theirs.named_parameters()]
    leaves64 = {id(p): p64 for p, p64 in zip(theirs.parameters(), theirs64.parameters())}
    call = (tr.fresh(tuple(f.args)), tr.fresh(dict(f.kwargs)))
    runs = torch_runs(theirs, tr, call, seed, theirs64, leaves64)
    if isinstance(runs, Outcome):
        return runs
    run, exact = runs
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    our_args, our_kwargs = ctor.ours(tuple(c.args)), ctor.ours(dict(c.kwargs))

    def check(where: str) -> Outcome:
        ours = attempt(subject, subject.ours, our_args, our_kwargs, where)
        if isinstance(ours, Outcome):
            return ours
        ours.to(numpy_dtype(DTYPES[dtype])).load_state_dict(state)  # strict: the same names, the same shapes
        assert [n for n, _ in ours.named_parameters()] == names, f"parameters {list(ours.state_dict())}, PyTorch {names}"
        got = call_ours(subject, tr, call, where, ours=ours)
        if isinstance(got, Outcome):
            return got
        compare(got, run.output, "output" + where, None if exact is None else exact.output)
        if run.differentiated:
            backward_ours(list(zip([o for o, t in zip(tensors(got), tensors(run.output)) if t.requires_grad],
                                   run.douts)))
        compare_grads(tr.pairs, run, exact, where)
        compare_grads(list(zip(theirs.parameters(), ours.parameters())), run, exact, where, names)
        return Outcome("matched")

    return each_mode(check)


def dropout_module(dtype: str, p: float, training: bool, seed: int) -> Outcome:
    """nn.Dropout(p) in training or eval mode on 2000 elements: eval and p = 0 exactly, else by statistics."""
    def module(cls: Any) -> Any:
        def call(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
            return cls(p).train(training)(input)
        return call

    subject = Subject("nn.Dropout", module(mg.nn.Dropout), ("Dropout", "dropout"), module(torch.nn.Dropout))
    tr = Translation()
    x = torch.from_numpy(np.random.default_rng(seed).uniform(1, 2, (40, 50))).to(DTYPES[dtype]).requires_grad_()
    return dropout_statistics(subject, tr, ((tr.fresh(x),), {"p": p, "training": training}), seed)


def run_modules(module_db: list, dtypes: tuple[str, ...] = tuple(DTYPES)) -> Results:
    results = Results()

    for info in module_db:
        name = info.module_cls.__name__
        if not hasattr(mg.nn, name):
            continue
        for dtype in dtypes:
            torch.manual_seed(0)
            inputs = info.module_inputs_func(info, device="cpu", dtype=DTYPES[dtype], requires_grad=True, training=True)
            for i, module_input in enumerate(inputs):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outcome = run_module_input(info, module_input, dtype, _seed(name, dtype, i))
                results.record(f"nn.{name}", dtype, outcome, module_input.desc or f"input {i}")
    for dtype in dtypes:
        for p in (0.0, 0.1, 0.5, 1.0):
            for training in (True, False):
                outcome = dropout_module(dtype, p, training, _seed("Dropout", dtype, p, training))
                results.record("nn.Dropout", dtype, outcome, f"p={p}, training={training}")
    return results


# -- optimizers -----------------------------------------------------------------------------------------------------


def _state_value(value: Any) -> np.ndarray:
    return np.asarray(value.detach().numpy() if isinstance(value, torch.Tensor) else value)


def compare_optimizer(ours: Any, params: list, snapshot: tuple, where: str) -> None:
    """Parameters, per-parameter state and hyperparameters after a step, against PyTorch's after the same step."""
    their_params, their_state = snapshot
    for i, (p, t) in enumerate(zip(params, their_params)):
        close(p.numpy(), t.numpy(), None, f"parameter {i}{where}")
        mine, expected = ours.state.get(p, {}), their_state["state"].get(i, {})
        assert set(mine) == set(expected), f"state of parameter {i}: keys {sorted(mine)}, PyTorch {sorted(expected)}"
        for key, value in expected.items():
            if key == "step":  # a Python int here, a 0-d float32 tensor in PyTorch (deliberate)
                assert float(mine[key]) == float(value), f"state {key!r}: {mine[key]}, PyTorch {float(value)}{where}"
            else:
                close(mine[key], _state_value(value), None, f"state {key!r} of parameter {i}{where}")
    for group, their_group in zip(ours.param_groups, their_state["param_groups"]):
        for key in set(group) & set(their_group) - {"params"}:
            assert np.all(_state_value(group[key]) == _state_value(their_group[key])), (
                f"param_groups[{key!r}]: {group[key]!r}, PyTorch {their_group[key]!r}")


def run_optimizer_input(info: Any, kwargs: dict, dtype: str, seed: int) -> Outcome:
    name = info.optim_cls.__name__
    subject = Subject(f"optim.{name}", getattr(mg.optim, name), (name, f"optim.{name}"))
    rng = np.random.default_rng(seed)
    np_dtype = numpy_dtype(DTYPES[dtype])
    initial = [rng.standard_normal(s).astype(np_dtype) for s in PARAM_SHAPES]
    grads = [[rng.standard_normal(s).astype(np_dtype) for s in PARAM_SHAPES] for _ in range(STEPS)]
    tr = Translation()
    kwargs = tr.fresh(kwargs)
    their_params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in initial]
    try:
        theirs = info.optim_cls(their_params, **kwargs)
        snapshots = []  # PyTorch after each step, to compare with at the same step
        for step_grads in grads:
            for t, g in zip(their_params, step_grads):
                t.grad = torch.from_numpy(g.copy())
            theirs.step()
            snapshots.append(([t.detach().clone() for t in their_params], copy.deepcopy(theirs.state_dict())))
    except Exception as err:  # noqa: BLE001
        return Outcome("not applicable", pytorch_raises(err))

    def check(where: str) -> Outcome:
        params = [mg.nn.Parameter(a.copy()) for a in initial]
        tr.start()
        our_kwargs = tr.ours(kwargs)
        ours = attempt(subject, subject.ours, (params,), our_kwargs, where)
        if isinstance(ours, Outcome):
            return ours
        for step, step_grads in enumerate(grads):
            for p, g in zip(params, step_grads):
                p.grad = mg.Tensor(g.copy())
            ours.step()
            compare_optimizer(ours, params, snapshots[step], f" after step {step + 1}{where}")
        return Outcome("matched")

    return each_mode(check)


def run_optimizers(optim_db: list, dtypes: tuple[str, ...] = tuple(DTYPES)) -> Results:
    """Each OptimizerInput as it is, then with each of the implementation flags PyTorch supports set to True."""
    results = Results()
    for info in optim_db:
        name = info.optim_cls.__name__
        if not hasattr(mg.optim, name):
            continue
        flags = [None, *info.supported_impls] + (["capturable"] if info.has_capturable_arg else [])
        for dtype in dtypes:
            for i, optim_input in enumerate(info.optim_inputs_func(device="cpu")):
                for flag in flags:
                    kwargs = {**optim_input.kwargs, **({flag: True} if flag else {})}
                    outcome = run_optimizer_input(info, kwargs, dtype, _seed(name, dtype, i))
                    results.record(f"optim.{name}", dtype, outcome, f"{optim_input.desc} {kwargs}")
    return results


def load_module_db() -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_modules import module_db
    return module_db


def load_optim_db() -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_optimizers import optim_db
    return optim_db
