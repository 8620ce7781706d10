"""Optimizer base class: parameter groups, per-parameter state, and a saveable state dict.

As in PyTorch, `param_groups` is a list of dicts, each with its 'params' and its own
hyperparameters (e.g. one group with weight decay and one without, for biases and LayerNorm
weights), and `state[p]` holds what the update rule remembers about parameter p.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

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
        """Restore hyperparameters and state (arrays copied, cast to each parameter's dtype)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state dict has {len(saved_groups)} "
                f"parameter groups, this optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: group {i} has {len(saved['params'])} "
                    f"parameters in the state dict but {len(group['params'])} in this optimizer"
                )
            by_index.update(zip((int(k) for k in saved["params"]), group["params"]))
        for group, saved in zip(self.param_groups, saved_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for k, saved_state in state_dict["state"].items():
            p = by_index[int(k)]  # int(): keys may have become strings in a flat file
            self.state[p] = {name: _state_value(v, p, name, int(k)) for name, v in saved_state.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _state_value(value: Any, p: Tensor, name: str, index: int) -> Any:
    """A copy of a saved state array in the parameter's dtype (numbers such as 'step' unchanged)."""
    if not isinstance(value, np.ndarray):
        return value
    if value.shape != p.shape:
        raise ValueError(
            f"Optimizer.load_state_dict: state {name!r} of parameter {index} has shape {value.shape}, "
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
