"""Optimizer base class: parameter groups, per-parameter state, and a saveable state dict.

As in PyTorch, `param_groups` is a list of dicts, each with its 'params' and its own
hyperparameters (e.g. one group with weight decay and one without, for biases and LayerNorm
weights), and `state[p]` holds what the update rule remembers about parameter p.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np

from minigrad.engine import enable_grad
from minigrad.tensor import Tensor


class Optimizer:
    """Base class: subclasses define `step()` using `self.param_groups` and `self.state`."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict[str, Any]):
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, got a "
                "single Tensor (wrap it in a list, or pass model.parameters())"
            )
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}  # keyed by the Parameter object itself
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group: its own 'params' and hyperparameters, the rest taken from the defaults."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor) or not p.is_leaf or p._data.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: can only optimize float leaf Tensors, got {p!r:.60}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear more than once (in one or several groups)")
        new_group = {**self.defaults, **group, "params": params}
        self._check_hyperparameters(new_group)
        self.param_groups.append(new_group)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Subclasses raise a ValueError naming the field and the rule it broke."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every gradient: None (PyTorch's default), or zeros if set_to_none=False."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; `closure` (optional) recomputes the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:  # a parameter that got no gradient is left alone
                    self._update(p, p.grad._data, group, self.state.setdefault(p, {}))
                    p._version_counter.value += 1  # p changed in place: a backward that saved it will refuse
        return loss

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update()")

    # -- state dict ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: array or int}}, 'param_groups': [{hyperparams, 'params': [index]}]}.

        Parameters are numbered in group order (as PyTorch), so the dict holds only arrays,
        numbers and strings and can go through minigrad.save.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {
            index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for p, s in self.state.items() if s  # SGD without momentum keeps nothing, as PyTorch
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state (arrays copied, cast to each parameter's dtype).

        The whole dict is checked before anything changes: a refused load leaves the optimizer as it was."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{where}: expected a dict with 'state' and 'param_groups' (as state_dict() gives), "
                             f"got {type(state_dict).__name__}" + (f" with keys {sorted(map(str, state_dict))[:6]}"
                                                                  if isinstance(state_dict, Mapping) else ""))
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list | tuple) or len(saved_groups) != len(self.param_groups):
            n = len(saved_groups) if isinstance(saved_groups, list | tuple) else type(saved_groups).__name__
            raise ValueError(f"{where}: the state dict has {n} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            by_index.update(_group_indices(where, i, group, saved))
            new_groups.append(_hyperparameters(where, i, group, saved, self))
        saved_state = state_dict["state"]
        if not isinstance(saved_state, Mapping):
            raise ValueError(f"{where}: 'state' must be a dict of parameter index -> state, got "
                             f"{type(saved_state).__name__}")
        new_state = {}
        for k, entry in saved_state.items():
            index = _index(where, k, f"state key {k!r}")
            if index not in by_index:
                raise ValueError(f"{where}: the state names parameter {index}, but the parameter groups number "
                                 f"{sorted(by_index)[:3]}...{max(by_index, default=-1)}")
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where}: the state of parameter {index} must be a dict, got {type(entry).__name__}")
            p = by_index[index]
            new_state[p] = {name: _state_value(v, p, name, index, where) for name, v in entry.items()}
        for group, new in zip(self.param_groups, new_groups):  # checked: now change
            group.update(new)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _index(where: str, value: Any, what: str) -> int:
    """A parameter index from a state dict (an int, or its string from a flat file)."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | str | np.integer):
            raise ValueError
        return int(value)
    except ValueError:
        raise ValueError(f"{where}: {what} is not a parameter index") from None


def _group_indices(where: str, i: int, group: dict[str, Any], saved: Any) -> dict[int, Tensor]:
    if not isinstance(saved, Mapping) or not isinstance(saved.get("params"), list | tuple):
        raise ValueError(f"{where}: parameter group {i} must be a dict with a 'params' list of indices")
    if len(group["params"]) != len(saved["params"]):
        raise ValueError(f"{where}: group {i} has {len(saved['params'])} parameters in the state dict but "
                         f"{len(group['params'])} in this optimizer")
    indices = [_index(where, k, f"group {i}'s parameter {k!r}") for k in saved["params"]]
    return dict(zip(indices, group["params"]))


def _hyperparameters(where: str, i: int, group: dict[str, Any], saved: Mapping, optimizer: Optimizer) -> dict:
    """Group i's hyperparameters from the state dict, each of its current value's kind, checked as the constructor does."""
    new = {k: v for k, v in saved.items() if k != "params"}
    for key, value in new.items():
        current = group.get(key)
        if key in group and not _same_kind(value, current):
            raise ValueError(f"{where}: group {i}'s {key!r} is {value!r}, where a value like {current!r} belongs")
    try:
        optimizer._check_hyperparameters({**group, **new})
    except ValueError as err:
        raise ValueError(f"{where}: group {i}: {err}") from None
    return new


def _same_kind(value: Any, current: Any) -> bool:
    if isinstance(current, bool) or current is None:
        return isinstance(value, bool) or value is None
    if isinstance(current, int | float):
        return isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if isinstance(current, tuple | list):
        return isinstance(value, tuple | list) and len(value) == len(current) and all(
            _same_kind(v, c) for v, c in zip(value, current))
    return isinstance(value, type(current))


def _state_value(value: Any, p: Tensor, name: str, index: int, where: str = "Optimizer.load_state_dict") -> Any:
    """A copy of a saved state array in the parameter's dtype (numbers such as 'step' unchanged)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, np.ndarray | int | float):
        raise ValueError(f"{where}: state {name!r} of parameter {index} is a {type(value).__name__}, "
                         "where an array or a number belongs")
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind not in "fiu":
        raise ValueError(f"{where}: state {name!r} of parameter {index} has dtype {value.dtype}")
    if value.shape != p.shape:
        raise ValueError(
            f"{where}: state {name!r} of parameter {index} has shape {value.shape}, "
            f"the parameter has shape {p.shape}"
        )
    return np.array(value, dtype=p._data.dtype)


def check_nonnegative(optimizer: str, group: dict[str, Any], *fields: str) -> None:
    """ValueError naming the first of `fields` that is negative (lr, eps, weight_decay, momentum)."""
    for field in fields:
        if not group[field] >= 0.0:
            raise ValueError(f"{optimizer}: {field} must be >= 0, got {group[field]!r}")


def check_implementation(optimizer: str, differentiable: bool = False, capturable: bool = False) -> None:
    """PyTorch's implementation switches. foreach= and fused= only choose which of PyTorch's kernels runs the
    same update: minigrad has one implementation, so it takes them and ignores them. differentiable=True (a
    step that autograd can go through) and capturable=True (CUDA graph capture) change what step() is: refused."""
    if differentiable:
        raise NotImplementedError(f"{optimizer}: differentiable=True is not supported: minigrad's step() updates "
                                  "the parameters in place, outside the graph")
    if capturable:
        raise NotImplementedError(f"{optimizer}: capturable=True (CUDA graph capture) is not supported: minigrad "
                                  "computes on the CPU only")
