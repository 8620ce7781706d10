"""Run a learner's PyTorch script on PyTorch and on minigrad from the same random draws, and say how it ended.

A script in this folder is the public source's code as written, its notebook cells marked `# %%`
(jupytext's percent format; magics such as `# %matplotlib inline` stay comments). The harness binds its
`import torch` lines to either framework: `__import__` in the script's builtins returns a stand-in module
for `torch` whose attributes are the framework's own, except the random functions (`randn`, `rand`,
`randint`, `randperm`, `multinomial`, `*_like`, `Generator`, `manual_seed`, `nn.Linear`'s init). Those
first call the framework's function with the script's arguments (so a missing function or argument stops
the run as it would for a learner), then replace the values it drew by draws from one NumPy generator,
the same on both sides: README difference 8 says the frameworks' streams differ by design.

A cell whose last statement is an expression prints its repr, as a notebook shows `Out[n]` (unless the
line ends with `;`). `open('names.txt')` reads the generated names (names.py). Python's `random`, torch's
and minigrad's generators are seeded before and restored after each run.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import math
import random
import sys
import time
import tokenize
import traceback
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from names import NAMES_TXT  # noqa: E402

SEED = 0  # the shared generator's seed before a script's own manual_seed


# -- one NumPy source of random draws, bound to either framework ------------------------------------------------------


class SharedGenerator:
    """`torch.Generator()`: the framework's own generator (so `generator=` is checked), drawing NumPy's values."""

    def __init__(self, real_module: Any, own: Any):
        self._own = own  # the framework's Generator, passed to its functions
        self.rng = np.random.default_rng(SEED)

    def manual_seed(self, seed: int) -> "SharedGenerator":
        self._own.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._own, name)


def framework_call(module: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """The framework's own function on the script's arguments: its refusal, if any, is the learner's."""
    return getattr(module, name)(*args, **kwargs)


def _own_generator(kwargs: dict) -> tuple[dict, np.random.Generator | None]:
    g = kwargs.get("generator")
    if isinstance(g, SharedGenerator):
        return {**kwargs, "generator": g._own}, g.rng
    return kwargs, None


def _randint_bounds(args: tuple, kwargs: dict) -> tuple[int, int, tuple]:
    """torch.randint(high, size) / randint(low, high, size), size also as size=."""
    args = list(args)
    size = kwargs.get("size", args.pop() if args and not isinstance(args[-1], int) else None)
    low, high = (0, args[0]) if len(args) == 1 else (args[0], args[1])
    return int(low), int(high), tuple(size)


def _multinomial(rng: np.random.Generator, probs: np.ndarray, n: int, replacement: bool) -> np.ndarray:
    rows = probs.reshape(-1, probs.shape[-1]).astype(np.float64)
    out = np.empty((rows.shape[0], n), dtype=np.int64)
    for r, row in enumerate(rows):
        w = row.copy()
        for k in range(n):
            cdf = np.cumsum(w / w.sum())
            out[r, k] = min(int(np.searchsorted(cdf, rng.random(), side="right")), len(w) - 1)
            if not replacement:
                w[out[r, k]] = 0.0
    return out.reshape(probs.shape[:-1] + (n,))


class RandomBinding:
    """The random functions of one framework, each drawing its values from the shared NumPy generator."""

    def __init__(self, real: Any):
        self.real = real
        self.rng = np.random.default_rng(SEED)

    def _src(self, gen_rng: np.random.Generator | None) -> np.random.Generator:
        return self.rng if gen_rng is None else gen_rng

    def _like(self, out: Any, values: np.ndarray) -> Any:
        made = self.real.tensor(np.asarray(values), dtype=out.dtype)
        return made.requires_grad_(True) if out.requires_grad else made

    def _drawn(self, name: str, draw: Any, args: tuple, kwargs: dict) -> Any:
        own_kwargs, gen_rng = _own_generator(kwargs)
        out = framework_call(self.real, name, *args, **own_kwargs)
        return self._like(out, draw(self._src(gen_rng), tuple(out.shape)))

    def randn(self, *args: Any, **kwargs: Any) -> Any:
        return self._drawn("randn", lambda rng, shape: rng.standard_normal(shape), args, kwargs)

    def rand(self, *args: Any, **kwargs: Any) -> Any:
        return self._drawn("rand", lambda rng, shape: rng.random(shape), args, kwargs)

    def randn_like(self, *args: Any, **kwargs: Any) -> Any:
        return self._drawn("randn_like", lambda rng, shape: rng.standard_normal(shape), args, kwargs)

    def rand_like(self, *args: Any, **kwargs: Any) -> Any:
        return self._drawn("rand_like", lambda rng, shape: rng.random(shape), args, kwargs)

    def randint(self, *args: Any, **kwargs: Any) -> Any:
        low, high, _ = _randint_bounds(args, kwargs)
        return self._drawn("randint", lambda rng, shape: rng.integers(low, high, size=shape), args, kwargs)

    def randperm(self, n: int, **kwargs: Any) -> Any:
        return self._drawn("randperm", lambda rng, shape: rng.permutation(n), (n,), kwargs)

    def multinomial(self, input: Any, num_samples: int, replacement: bool = False, **kwargs: Any) -> Any:
        probs = np.asarray(input.detach().numpy())
        draw = lambda rng, shape: _multinomial(rng, probs, num_samples, replacement)  # noqa: E731
        return self._drawn("multinomial", draw, (input, num_samples, replacement), kwargs)

    def Generator(self, *args: Any, **kwargs: Any) -> SharedGenerator:
        return SharedGenerator(self.real, framework_call(self.real, "Generator", *args, **kwargs))

    def manual_seed(self, seed: int) -> Any:
        own = framework_call(self.real, "manual_seed", seed)
        self.rng = np.random.default_rng(seed)
        return own

    def linear_class(self) -> type:
        """nn.Linear whose init draws U(-1/sqrt(in), 1/sqrt(in)) (both frameworks' rule) from the shared source."""
        binding, real = self, self.real

        class Linear(real.nn.Linear):
            def __init__(self, in_features: int, out_features: int, *args: Any, **kwargs: Any):
                super().__init__(in_features, out_features, *args, **kwargs)
                bound = 1 / math.sqrt(in_features)
                with real.no_grad():
                    for p in (self.weight, self.bias):
                        if p is not None:
                            p.copy_(real.tensor(binding.rng.uniform(-bound, bound, tuple(p.shape)), dtype=p.dtype))

        Linear.__qualname__ = "Linear"
        return Linear


RANDOM_NAMES = ("randn", "rand", "randint", "randperm", "multinomial", "randn_like", "rand_like", "Generator",
                "manual_seed")


class FrameworkModule(types.ModuleType):
    """`torch` (or `torch.nn`) as the script sees it: the framework's attributes, some replaced."""

    def __init__(self, name: str, real: Any, overrides: dict[str, Any]):
        super().__init__(name)
        self._real, self._overrides = real, overrides

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._overrides:
            return self._overrides[name]
        try:
            return getattr(self._real, name)
        except AttributeError:  # as Python says it when the learner's `torch.X` is missing
            raise AttributeError(f"module '{self._real.__name__}' has no attribute '{name}'") from None


def bind(real: Any) -> FrameworkModule:
    """The `torch` a script imports: real's attributes, random ones drawing from a fresh shared source."""
    binding = RandomBinding(real)
    nn = FrameworkModule("torch.nn", real.nn, {"Linear": binding.linear_class(), "functional": real.nn.functional})
    overrides = {name: getattr(binding, name) for name in RANDOM_NAMES}
    return FrameworkModule("torch", real, {**overrides, "nn": nn})


def importer(torch_module: FrameworkModule) -> Any:
    """builtins.__import__ for a script: `torch...` resolves to the bound module, anything else as usual."""
    def __import__(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A001
        if level == 0 and (name == "torch" or name.startswith("torch.")):
            if not fromlist:
                return torch_module
            module = torch_module
            for part in name.split(".")[1:]:
                module = getattr(module, part)
            return module
        return builtins.__import__(name, globals, locals, fromlist, level)
    return __import__


def open_names(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    if str(file) == "names.txt":
        return io.StringIO(NAMES_TXT)
    return builtins.open(file, mode, *args, **kwargs)


# -- running a script -----------------------------------------------------------------------------------------------------


@dataclass
class Run:
    framework: str
    stdout: str
    namespace: dict
    error: BaseException | None = None
    error_line: int | None = None  # the script's line that raised
    refusal: bool = True  # False: the error came from inside NumPy or minigrad's own code, not from a `raise`
    seconds: float = 0.0
    trace: str = ""


def cells(path: Path) -> list[tuple[int, str]]:
    """(first line number, source) of each `# %%` cell."""
    lines = path.read_text().splitlines(keepends=True)
    starts = [0] + [i for i, line in enumerate(lines) if line.startswith("# %%") and i > 0]
    return [(s + 1, "".join(lines[s:e])) for s, e in zip(starts, starts[1:] + [len(lines)])]


def ends_with_semicolon(source: str) -> bool:
    """A notebook hides a cell's value when its last code token is `;` (comments after it don't count)."""
    code = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.DEDENT)]
    return bool(code) and code[-1].string == ";"


def run_cell(first_line: int, source: str, path: Path, ns: dict) -> None:
    tree = ast.parse(source, filename=str(path))
    ast.increment_lineno(tree, first_line - 1)
    shown = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not ends_with_semicolon(source):
        shown = ast.Expression(tree.body.pop().value)
    exec(compile(tree, str(path), "exec"), ns)
    if shown is not None:
        value = eval(compile(shown, str(path), "eval"), ns)
        if value is not None:
            print(repr(value))


def is_refusal(tb: traceback.StackSummary, path: Path) -> bool:
    """A refusal is raised by a `raise` in minigrad or Python's own at the call (a missing attribute or argument)."""
    last = tb[-1]
    if last.filename == str(path) or last.name in ("framework_call", "__getattr__") and last.filename == __file__:
        return True
    return "/minigrad/" in last.filename and (last.line or "").lstrip().startswith("raise")


@contextlib.contextmanager
def seeded(framework: Any):
    """Python's and the framework's global generators seeded for the run, put back after it (and the thread count)."""
    py_state = random.getstate()
    own_state = framework.random.get_rng_state()
    threads = framework.get_num_threads()
    random.seed(SEED)
    if framework.__name__ == "torch":
        framework.set_num_threads(1)  # PyTorch's spinning threads slow its small ops 10x on a shared machine
    try:
        yield
    finally:
        framework.set_num_threads(threads)
        random.setstate(py_state)
        framework.random.set_rng_state(own_state)


def run(path: Path, framework: Any) -> Run:
    """Run the script's cells in order on framework (the real module: torch or minigrad)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    torch_module = bind(framework)
    own_builtins = {**vars(builtins), "__import__": importer(torch_module), "open": open_names}
    ns: dict = {"__name__": "__main__", "__builtins__": own_builtins, "__file__": str(path)}
    out = io.StringIO()
    result = Run(framework.__name__, "", ns)
    start = time.perf_counter()
    with seeded(framework), contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's advice (e.g. on float() of a tensor that requires grad)
        try:
            for first_line, source in cells(path):
                run_cell(first_line, source, path, ns)
        except Exception as e:  # the outcome records it
            tb = traceback.extract_tb(e.__traceback__)
            result.error, result.refusal, result.trace = e, is_refusal(tb, path), "".join(traceback.format_exception(e))
            result.error_line = next((f.lineno for f in reversed(tb) if f.filename == str(path)), None)
        finally:
            plt.close("all")
    result.seconds, result.stdout = time.perf_counter() - start, out.getvalue()
    return result
