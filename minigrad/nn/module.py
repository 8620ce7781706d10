"""Module: a tree of layers that owns Parameters, named and ordered as PyTorch names them.

Assigning a Parameter or a Module to an attribute registers it (`Module.__setattr__`), in
assignment order, which is how `named_parameters()` and `state_dict()` find
`encoder.blocks.0.mlp.dense_1.weight` without being told. A state dict maps those dotted
names to NumPy arrays, so a PyTorch checkpoint converts with `{k: v.numpy()}`.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from minigrad.device import refuse_gpu, to_args
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers and an optimizer updates: float data, requires grad."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data)  # a Tensor's or an ndarray's data is shared, not copied
        if self._data.dtype.kind != "f":
            raise TypeError(
                f"Parameter: data must be floating point, got dtype {self._data.dtype} "
                "(convert it first, e.g. data.astype(np.float32))"
            )
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped: keys the model has but the dict lacks, and back."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclasses set attributes in __init__ and define forward."""

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already
        object.__setattr__(self, "_parameters", {})  # name -> Parameter | None, own only
        object.__setattr__(self, "_buffers", {})  # name -> Tensor | None (state, not trained)
        object.__setattr__(self, "_non_persistent", set())  # buffers left out of state_dict
        object.__setattr__(self, "_modules", {})  # name -> Module, direct children only
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- registration ------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() call "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name, keep=params)  # a name already there keeps its place, as in PyTorch
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__} (a Parameter or None is required)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to submodule {name!r}")
            modules[name] = None
        elif name in buffers:
            buffers[name] = None if value is None else _as_buffer(value, name)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: parameters, buffers and modules live in dicts
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if any(name in r for r in (self._parameters, self._buffers, self._modules)):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Remove `name` from every registry but `keep` and from the plain attributes, before re-registering
        it (in `keep`, where it keeps its place: parameters() and state_dict() order as PyTorch's)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (or None, e.g. a Linear without bias) under `name`."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, array: Any, persistent: bool = True) -> None:
        """A tensor that is state but not trained (e.g. a fixed mask); in state_dict if persistent."""
        self._forget(name)
        self._buffers[name] = None if array is None else _as_buffer(array, name)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    # -- walking the tree -------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        """This module and all below it, depth first (pre-order), each once, with dotted names."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every Parameter once (shared ones under their first name): own first, then each child's."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_prefix, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_prefix}.{name}" if module_prefix else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for module_prefix, module in self.named_modules(prefix):
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{module_prefix}.{name}" if module_prefix else name), buf

    def buffers(self) -> Iterator[Tensor]:
        for _, buf in self.named_buffers():
            yield buf

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call fn on every submodule (children first) and then on self, as torch's apply (for init)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalars in all parameters (only those that require grad if trainable_only)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- modes and housekeeping --------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode here and below (Dropout drops only in training mode)."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget gradients: None (PyTorch's default), or zeros if set_to_none=False."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.zero_()

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """to(dtype), to(device[, dtype]) or to(tensor): convert every float parameter (and its grad)
        and float buffer to the dtype, in place; the device can only be the CPU."""
        dtype, _ = to_args("Module.to", args, kwargs)
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(f"Module.to: dtype must be floating point, got {dtype}")
        for param in self.parameters():
            param._data = param._data.astype(dtype, copy=False)
            if param.grad is not None:
                param._grad = param.grad.detach().to(dtype)
        for buf in self.buffers():
            if buf.dtype.kind == "f":
                buf._data = buf._data.astype(dtype, copy=False)
        return self

    def cpu(self) -> Module:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Module:
        refuse_gpu("Module.cuda")

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # -- state dict ----------------------------------------------------------------------------------
    def _state_tensors(self, prefix: str = "") -> dict[str, Tensor]:
        """name -> the live Tensor, in PyTorch's state_dict order (own params, own buffers, children)."""
        out: dict[str, Tensor] = {}
        for name, param in self._parameters.items():
            if param is not None:
                out[prefix + name] = param
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent:
                out[prefix + name] = buf
        for name, child in self.named_children():
            out.update(child._state_tensors(f"{prefix}{name}."))
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Dotted name -> a copy of each parameter and persistent buffer (np.ndarray)."""
        return {name: t._data.copy() for name, t in self._state_tensors().items()}

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters in place (cast to each parameter's dtype).

        Everything is checked before anything is copied: a size mismatch always raises; missing
        and unexpected keys raise when strict. All offending names appear in one error.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict of name -> array, got {type(state_dict).__name__}")
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        values, errors = {}, []
        for k, v in state_dict.items():
            if k in own:
                value, problem = _loadable(k, v, own[k])
                if problem:
                    errors.append(problem)
                values[k] = value
        if strict and unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:  # all checked before anything is copied: a refused load changes nothing
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
            )
        for k, v in values.items():
            own[k]._data[...] = v  # in place: optimizers keep pointing at the same arrays
            own[k]._version_counter.value += 1
        return IncompatibleKeys(missing, unexpected)

    # -- printing ------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's own settings, shown inside its parentheses by __repr__."""
        return ""

    def __repr__(self) -> str:
        extra_lines = self.extra_repr().split("\n") if self.extra_repr() else []
        child_lines = [f"({name}): " + _indent(repr(child), 2) for name, child in self.named_children()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


def _indent(text: str, spaces: int) -> str:
    """Indent every line but the first (a child's repr sits after its "(name): " label)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line for line in rest])


def _loadable(key: str, value: Any, target: Tensor) -> tuple[np.ndarray | None, str | None]:
    """(the array to copy into target, None) or (None, what is wrong with it, naming the key)."""
    if isinstance(value, Tensor):
        value = value._data
    if not isinstance(value, np.ndarray | np.generic | int | float | bool):
        return None, f"{key}: got a {type(value).__name__}, where an array belongs"
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        return None, f"{key}: got dtype {array.dtype}, not a real number type"
    if array.shape != target.shape:
        return None, (f"size mismatch for {key}: copying a param with shape {array.shape} from checkpoint, "
                      f"the shape in current model is {target.shape}.")
    return array, None


def _as_buffer(value: Any, name: str) -> Tensor:
    if isinstance(value, Parameter):
        raise TypeError(f"buffer {name!r}: got a Parameter; assign it as a parameter instead")
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(f"buffer {name!r} must be a Tensor or np.ndarray, got {type(value).__name__}")

