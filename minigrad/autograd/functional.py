"""minigrad.autograd.functional, as torch.autograd.functional: the derivatives of a whole function at a point.

    def f(x, y):
        return (x ** 3).sum() + (x.tanh() * y).sum()
    (H_xx, H_xy), (H_yx, H_yy) = hessian(f, (x, y))     # H_xy has shape x.shape + y.shape

Each function is a few calls of `minigrad.autograd.grad`, the reverse pass, on J = d func / d inputs:
    vjp       v^T J                            one backward pass
    jvp       J v = d/du <J^T u, v>            J^T u is linear in u, so the vjp of u -> J^T u with v is J v
    vhp       v^T H = d/dx <grad f(x), v>      a backward pass through the (create_graph) gradient
    hvp       H v, by jvp's trick on grad f    equal to vhp, H being symmetric
    jacobian  one row of J per backward pass, one pass per output element
    hessian   the jacobian of the jacobian, the inner one built with create_graph=True

`func` takes the inputs as separate arguments and returns a Tensor or a tuple of Tensors. A Tensor given
alone gives results alone; a tuple gives tuples (nested, for the blocks of jacobian and hessian).
minigrad has no forward-mode AD: jacobian's strategy="forward-mode" is refused. It has no vmap either:
vectorize=True is accepted and gives the same Jacobian, computed one row at a time.
"""
from __future__ import annotations

from typing import Any, Callable

from minigrad import engine
from minigrad.autograd import grad
from minigrad.creation import zeros_like
from minigrad.ops.movement import stack
from minigrad.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

Inputs = Tensor | tuple[Tensor, ...]

# strict=True: the error when a function's result does not depend on input {i} at all, by the step that found it
_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in strict "
            "mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients. This is not allowed in strict "
                  "mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed in "
                   "strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the grad_jacobian. "
                         "This is not allowed in strict mode as it prevents from using the double backward trick to "
                         "replace forward mode AD.",
}
# strict=True: the error when a result should depend on the inputs (it has a graph) but does not require grad
_CONSTANT = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The outputs must be computed in "
               "a differentiable manner from the input when running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the user-provided "
                   "function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with respect to "
                "input {i} is independent of the input. This is not allowed in strict mode. You should ensure that "
                "your function is twice differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).",
}


# ----------------------------------------------------------------------------------------------
# The shared steps: inputs in, gradients, results out
# ----------------------------------------------------------------------------------------------


def _as_tuple(value: Any, arg_name: str, fn_name: str) -> tuple[bool, tuple[Tensor, ...]]:
    """(was value a tuple, value as a tuple of Tensors)."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but "
                            f"{where} has type {type(v).__name__}.")
    return is_tuple, values


def _prepare(tensors: tuple[Tensor, ...], create_graph: bool, need_graph: bool) -> tuple[Tensor, ...]:
    """What func runs on. With create_graph, a view of a tensor that requires grad, so that the results stay
    differentiable with respect to it; otherwise a detached alias, so that the results depend on its value only."""
    return tuple(t.view(t.shape) if create_graph and t.requires_grad else t.detach().requires_grad_(need_graph)
                 for t in tensors)


def _prepare_v(fn_name: str, v: Any, like: tuple[Tensor, ...], like_is_tuple: bool, create_graph: bool,
               like_is: str = "the input to the user-provided function is") -> tuple[Tensor, ...] | None:
    """The vector v, checked against `like` (one Tensor of the same shape each); None only if `like` is one number."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if {like_is} a single Tensor with a single element.")
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _prepare(v, create_graph, need_graph=False)
    if len(v) != len(like):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}." if like_is_tuple
                           else "The given v should contain a single Tensor.")
    for i, (v_i, like_i) in enumerate(zip(v, like)):
        if v_i.shape != like_i.shape:
            entry = f"Entry {i} in " if like_is_tuple else ""
            raise RuntimeError(f"{entry}v has invalid size: should be {like_i.shape} but got {v_i.shape}.")
    return v


def _check_requires_grad(tensors: tuple[Tensor | None, ...], kind: str, strict: bool) -> None:
    """strict=True: every tensor must exist and require grad, i.e. depend on the inputs."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(_INDEPENDENT["back"].format(i=i))
        if not t.requires_grad:
            raise RuntimeError(_CONSTANT[kind].format(i=i))


def _grad(outputs: tuple, inputs: tuple[Tensor, ...], grad_outputs: tuple | None = None,
          create_graph: bool = False, retain_graph: bool | None = None) -> tuple[Tensor | None, ...]:
    """sum_k grad_outputs_k^T d outputs_k / d inputs over the outputs that have a graph; None for an input that
    none of them reaches (a constant output contributes zero)."""
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else grad_outputs
    pairs = [(out, g) for out, g in zip(outputs, grad_outputs) if out is not None and out.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([out for out, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain_graph,
                create_graph=create_graph, allow_unused=True)


def _fill_in_zeros(grads: tuple, refs: tuple[Tensor, ...], strict: bool, create_graph: bool,
                   stage: str) -> tuple[Tensor, ...]:
    """A missing gradient is zero (shaped as its ref), or under strict=True an error."""
    result = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None and strict:
            raise RuntimeError(_INDEPENDENT[stage].format(i=i))
        if g is not None and strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. This is not "
                               "allowed in strict mode when create_graph=True.")
        result.append(zeros_like(ref) if g is None else g)
    return tuple(result)


def _finish(tensors: tuple, create_graph: bool) -> tuple:
    """Results as they are with create_graph (differentiable again); otherwise detached, nested tuples too."""
    if create_graph:
        return tensors
    return tuple(t.detach() if isinstance(t, Tensor) else _finish(t, create_graph) for t in tensors)


def _unpack(result: tuple, is_tuple: bool) -> Any:
    return result if is_tuple else result[0]


def _unpack_blocks(blocks: tuple, outputs_are_tuple: bool, inputs_are_tuple: bool) -> Any:
    """blocks[i][j] = d output_i / d input_j, with the tuple levels the caller did not ask for removed."""
    if not inputs_are_tuple:
        blocks = tuple(row[0] for row in blocks)
    return blocks if outputs_are_tuple else blocks[0]


def _run(fn_name: str, func: Callable, inputs: tuple[Tensor, ...], strict: bool) -> tuple[bool, tuple[Tensor, ...]]:
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    return is_tuple, outputs


def _run_scalar(fn_name: str, func: Callable, inputs: tuple[Tensor, ...], strict: bool) -> Tensor:
    """func(*inputs), which must be one Tensor of one element (the f of a Hessian)."""
    is_tuple, outputs = _run(fn_name, func, inputs, strict)
    if is_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")
    return outputs[0]


# ----------------------------------------------------------------------------------------------
# The products: vjp, jvp, vhp, hvp
# ----------------------------------------------------------------------------------------------


def vjp(func: Callable, inputs: Inputs, v: Inputs | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """(func(x), v^T J) with J = d func / dx;  v: shaped as func(x) -> result shaped as x."""
    with engine.enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_are_tuple, outputs = _run("vjp", func, inputs, strict)
        v = _prepare_v("vjp", v, outputs, outputs_are_tuple, create_graph, "the user-provided function returns")
    with engine.set_grad_enabled(create_graph or engine.is_grad_enabled()):
        products = _grad(outputs, inputs, v, create_graph=create_graph)
        products = _fill_in_zeros(products, inputs, strict, create_graph, "back")
    return (_unpack(_finish(outputs, create_graph), outputs_are_tuple),
            _unpack(_finish(products, create_graph), inputs_are_tuple))


def jvp(func: Callable, inputs: Inputs, v: Inputs | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """(func(x), J v) = (func(x), d/du <J^T u, v>), J^T u being linear in u;  v: shaped as x -> shaped as func(x)."""
    with engine.enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _prepare_v("jvp", v, inputs, inputs_are_tuple, create_graph)
        outputs_are_tuple, outputs = _run("jvp", func, inputs, strict)
        # u's value never reaches J v (J^T u is linear in u): zeros do, as long as they are not inf or nan
        u = tuple(zeros_like(out, requires_grad=True) for out in outputs)
        vjp_of_u = _grad(outputs, inputs, u, create_graph=True)  # J^T u, a graph in u
        _check_requires_grad(vjp_of_u, "grad_inputs", strict)
    with engine.set_grad_enabled(create_graph or engine.is_grad_enabled()):
        products = _grad(vjp_of_u, u, v, create_graph=create_graph)
        products = _fill_in_zeros(products, outputs, strict, create_graph, "back_trick")
    return (_unpack(_finish(outputs, create_graph), outputs_are_tuple),
            _unpack(_finish(products, create_graph), outputs_are_tuple))


def vhp(func: Callable, inputs: Inputs, v: Inputs | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Tensor, Any]:
    """(f(x), v^T H) = (f(x), d/dx <grad f(x), v>) for a scalar f;  v: shaped as x -> shaped as x."""
    with engine.enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _prepare_v("vhp", v, inputs, inputs_are_tuple, create_graph)
        output = _run_scalar("vhp", func, inputs, strict)
        gradient = _grad((output,), inputs, create_graph=True)  # grad f(x), itself a graph in x
        _check_requires_grad(gradient, "jacobian", strict)
    with engine.set_grad_enabled(create_graph or engine.is_grad_enabled()):
        products = _grad(gradient, inputs, v, create_graph=create_graph)
        products = _fill_in_zeros(products, inputs, strict, create_graph, "double_back")
    return _finish((output,), create_graph)[0], _unpack(_finish(products, create_graph), inputs_are_tuple)


def hvp(func: Callable, inputs: Inputs, v: Inputs | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Tensor, Any]:
    """(f(x), H v) = (f(x), d/du <H u, v>) for a scalar f, with H u = d/dx <grad f(x), u> linear in u;
    v: shaped as x -> shaped as x. Equal to vhp, H being symmetric; computed as PyTorch does, by jvp's trick."""
    with engine.enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _prepare_v("hvp", v, inputs, inputs_are_tuple, create_graph)
        output = _run_scalar("hvp", func, inputs, strict)
        gradient = _grad((output,), inputs, create_graph=True)  # grad f(x), a graph in x
        _check_requires_grad(gradient, "jacobian", strict)
        u = tuple(zeros_like(x, requires_grad=True) for x in inputs)
        hessian_times_u = _grad(gradient, inputs, u, create_graph=True)  # H u, a graph in u
    with engine.set_grad_enabled(create_graph or engine.is_grad_enabled()):
        products = _grad(hessian_times_u, u, v, create_graph=create_graph)
        products = _fill_in_zeros(products, inputs, strict, create_graph, "double_back_trick")
    return _finish((output,), create_graph)[0], _unpack(_finish(products, create_graph), inputs_are_tuple)


# ----------------------------------------------------------------------------------------------
# The matrices: jacobian, hessian
# ----------------------------------------------------------------------------------------------


def _check_strategy(fn_name: str, argument: str, strategy: str) -> None:
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f'{fn_name}: {argument} must be "forward-mode" or "reverse-mode", got {strategy!r}')
    if strategy == "forward-mode":
        raise NotImplementedError(f'{fn_name}: {argument}="forward-mode" is not supported: minigrad has no '
                                  'forward-mode AD. "reverse-mode" gives the same result.')


def jacobian(func: Callable, inputs: Inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """J_ij = d output_i / d input_j, of shape output_i.shape + input_j.shape; row k of J_i. is the gradient of
    output_i.flatten()[k], one backward pass each."""
    _check_strategy("jacobian", "strategy", strategy)
    with engine.enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_are_tuple, outputs = _run("jacobian", func, inputs, strict)
        if vectorize and strict:
            raise RuntimeError("jacobian: `strict=True` and `vectorized=True` are not supported together. Please "
                               "either set `strict=False` or `vectorize=False`.")
        blocks = []
        for i, out in enumerate(outputs):
            rows: list[list[Tensor]] = [[] for _ in inputs]  # rows[j][k] = d out.flatten()[k] / d input_j
            for k in range(out.numel()):
                gradients = _grad((out.reshape(-1)[k],), inputs, retain_graph=True, create_graph=create_graph)
                for j, (g, x) in enumerate(zip(gradients, inputs)):
                    if g is None and strict:
                        raise RuntimeError(f"Output {i} of the user-provided function is independent of input {j}. "
                                           "This is not allowed in strict mode.")
                    if g is not None and strict and create_graph and not g.requires_grad:
                        raise RuntimeError(f"The jacobian of the user-provided function is independent of input "
                                           f"{j}. This is not allowed in strict mode when create_graph=True.")
                    rows[j].append(zeros_like(x) if g is None else g)
            blocks.append(tuple(stack(rows_j, dim=0).view(out.shape + x.shape) for rows_j, x in zip(rows, inputs)))
        return _unpack_blocks(_finish(tuple(blocks), create_graph), outputs_are_tuple, inputs_are_tuple)


def hessian(func: Callable, inputs: Inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """H_ij = d^2 f / d input_i d input_j for a scalar f, of shape input_i.shape + input_j.shape: the jacobian of
    x -> grad f(x), whose inner jacobian keeps its graph (create_graph=True) for the outer one to differentiate."""
    inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    _check_strategy("hessian", "outer_jacobian_strategy", outer_jacobian_strategy)

    def scalar_func(*x: Tensor) -> Tensor:
        return _run_scalar("hessian", func, x, strict).squeeze()  # () so that grad f is shaped as x

    def gradient_func(*x: Tensor) -> tuple[Tensor, ...]:
        gradient = jacobian(scalar_func, x, create_graph=True)
        _check_requires_grad(gradient, "jacobian", strict)
        return gradient

    blocks = jacobian(gradient_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize)
    return _unpack_blocks(blocks, inputs_are_tuple, inputs_are_tuple)
