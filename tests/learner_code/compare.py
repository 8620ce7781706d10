"""Compare a script's two runs: what it printed, and the values it left in its namespace.

Printed output is read as a stream of tokens, numbers and text: text must be equal, numbers equal within
the dtype's tolerance plus half a unit in the last printed digit (a printed `2.4544` is any value that
rounds to it). Whitespace and line breaks are not compared (minigrad wraps a long tensor at another column).
Before tokenizing, both outputs go through COSMETIC: rewrites of how a value is *shown* that change no
value: each has a name, and the outcome lists the ones that changed either output, so the lead sees them.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

# dtype -> (rtol, atol) for values and printed numbers. float32 allows for a few hundred training steps
# computed in another summation order; integers and bools are exact.
TOLERANCE = {"float64": (1e-7, 1e-9), "float32": (2e-3, 2e-5)}

ADDRESS = (re.compile(r" at 0x[0-9a-fA-F]+"), " at 0x?")  # object reprs: never the same run to run
DTYPE_NAMES = "float16|float32|float64|int8|int16|int32|int64|uint8|bool"
COSMETIC: list[tuple[str, re.Pattern, Any]] = [
    # README difference 7: size() and .shape are tuples, not torch.Size
    ("torch.Size is a tuple", re.compile(r"torch\.Size\(\[([^\]]*)\]\)"),
     lambda m: "(" + m.group(1) + ("," if m.group(1) and "," not in m.group(1) else "") + ")"),
    # a tensor's repr names its dtype even when PyTorch leaves it out (its defaults: float32, int64, bool)
    ("repr leaves out default dtypes", re.compile(r",\s*dtype=(torch\.)?(float32|int64|bool)\b"), ""),
    # a dtype's repr is NumPy's: dtype('int64') where PyTorch shows torch.int64
    ("dtype repr is NumPy's", re.compile(rf"\bdtype\('({DTYPE_NAMES})'\)"), r"\1"),
    # dtypes print as NumPy's names, without `torch.`
    ("dtype without torch.", re.compile(rf"\btorch\.({DTYPE_NAMES})\b"), r"\1"),
]

NUMBER = re.compile(r"[-+]?(?:nan|inf|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)")
TOKEN = re.compile(rf"(?P<num>{NUMBER.pattern})|(?P<text>\S)")


def normalize(text: str) -> tuple[str, set[str]]:
    """text with addresses masked and the cosmetic rewrites applied; the names of the rewrites that fired."""
    text = ADDRESS[0].sub(ADDRESS[1], text)
    fired = set()
    for name, pattern, repl in COSMETIC:
        text, n = pattern.subn(repl, text)
        if n:
            fired.add(name)
    return text, fired


@dataclass
class Token:
    text: str
    line: int
    number: float | None = None

    @property
    def slack(self) -> float:
        """Half a unit in the last printed digit (0 for integers and `1.`: those print exactly)."""
        mantissa, _, exponent = self.text.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        if decimals == 0:
            return 0.0
        return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        for m in TOKEN.finditer(line):
            if m.group("num") is not None:
                out.append(Token(m.group(0), line_no, float(m.group(0))))
            elif out and out[-1].number is None and out[-1].line == line_no:
                out[-1].text += m.group(0)  # consecutive text characters form one token
            else:
                out.append(Token(m.group(0), line_no))
    return out


def numbers_close(a: Token, b: Token, rtol: float, atol: float) -> bool:
    if np.isnan(a.number) or np.isnan(b.number):
        return np.isnan(a.number) and np.isnan(b.number)
    if "." not in a.text + b.text and "e" not in (a.text + b.text).lower():
        return a.number == b.number  # integers: counters, indices, counts
    return abs(a.number - b.number) <= atol + rtol * abs(b.number) + a.slack + b.slack


def compare_output(ours: str, theirs: str, tol: tuple[float, float], prefix: bool = False) -> tuple[str | None, set[str]]:
    """None if ours matches theirs (or its start, when prefix: a run that stopped); else where they part."""
    rtol, atol = tol
    (a_text, fired_a), (b_text, fired_b) = normalize(ours), normalize(theirs)
    a, b = tokens(a_text), tokens(b_text)
    b_lines = b_text.splitlines()
    for i, (x, y) in enumerate(zip(a, b)):
        same = x.number is None and y.number is None and x.text == y.text
        same = same or (x.number is not None and y.number is not None and numbers_close(x, y, rtol, atol))
        if not same:
            where = b_lines[y.line - 1] if y.line <= len(b_lines) else ""
            return (f"printed output, line {y.line} of PyTorch's ({where.strip()[:120]!r}): "
                    f"minigrad printed {x.text!r} where PyTorch printed {y.text!r}"), fired_a | fired_b
    if len(a) != len(b) and not (prefix and len(a) < len(b)):
        return f"printed output: minigrad printed {len(a)} tokens, PyTorch {len(b)}", fired_a | fired_b
    return None, fired_a | fired_b


# -- the values a script leaves behind -------------------------------------------------------------------------------


def is_tensor(value: Any) -> bool:
    return type(value).__name__ in ("Tensor", "Parameter") and hasattr(value, "detach")


def dtype_name(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.")


def state(value: Any, path: str, depth: int = 0, seen: set | None = None) -> Iterator[tuple[str, Any]]:
    """(path, comparable value) for every tensor, number and string reachable from value."""
    seen = set() if seen is None else seen
    if id(value) in seen or depth > 4:
        return
    seen.add(id(value))
    if is_tensor(value):
        yield path, value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch warns on .grad of a non-leaf
            grad = value.grad if value.is_leaf or getattr(value, "retains_grad", False) else None
        if grad is not None:
            yield path + ".grad", grad
    elif isinstance(value, (bool, int, float, str, np.ndarray)) or value is None:
        yield path, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from state(v, f"{path}[{i}]", depth + 1, seen)
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, (str, int, tuple)):
                yield from state(v, f"{path}[{k!r}]", depth + 1, seen)
    elif hasattr(value, "state_dict") and hasattr(value, "named_parameters"):  # an nn.Module
        for name, t in value.state_dict().items():
            yield from state(t, f"{path}.{name}", depth + 1, seen)
        for name, p in value.named_parameters():
            yield from state(p, f"{path}.{name}", depth + 1, seen)
    elif type(value).__module__ == "__main__" and hasattr(value, "__dict__"):  # the script's own classes
        for name, v in vars(value).items():
            yield from state(v, f"{path}.{name}", depth + 1, seen)


def namespace_state(ns: dict) -> dict[str, Any]:
    skip = (type(re), type(len), type)
    out: dict[str, Any] = {}
    for name, value in ns.items():
        if name.startswith("_") or isinstance(value, skip) or callable(value) and not is_tensor(value) \
                and not hasattr(value, "state_dict") and type(value).__module__ != "__main__":
            continue
        out.update(state(value, name))
    return out


def compare_values(ours: Any, theirs: Any, tolerance: dict[str, tuple[float, float]], dtype: str) -> str | None:
    if is_tensor(theirs):
        if not is_tensor(ours):
            return f"minigrad has a {type(ours).__name__}, PyTorch a tensor"
        if dtype_name(ours) != dtype_name(theirs) or tuple(ours.shape) != tuple(theirs.shape):
            return f"{dtype_name(ours)} {tuple(ours.shape)} vs PyTorch's {dtype_name(theirs)} {tuple(theirs.shape)}"
        if bool(ours.requires_grad) != bool(theirs.requires_grad):
            return f"requires_grad {ours.requires_grad} vs PyTorch's {theirs.requires_grad}"
        a, b = np.asarray(ours.detach().numpy()), np.asarray(theirs.detach().numpy())
        rtol, atol = tolerance.get(dtype_name(theirs), (0, 0))
        if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            worst = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))
            return f"values differ (max abs difference {worst:.3g}, rtol {rtol}, atol {atol})"
        return None
    if isinstance(theirs, np.ndarray):
        same = isinstance(ours, np.ndarray) and ours.shape == theirs.shape and np.allclose(ours, theirs, equal_nan=True)
        return None if same else f"array {ours!r} vs PyTorch's {theirs!r}"
    if isinstance(theirs, float) and isinstance(ours, float):
        rtol, atol = tolerance[dtype]
        return None if np.isclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True) else f"{ours!r} vs {theirs!r}"
    return None if ours == theirs else f"{ours!r} vs PyTorch's {theirs!r}"


def compare_namespaces(ours: dict, theirs: dict, tolerance: dict[str, tuple[float, float]], dtype: str,
                       not_compared: tuple[str, ...] = ()) -> str | None:
    """None if every tensor, number and string the PyTorch run left is in ours, equal within tolerance[dtype]."""
    a, b = namespace_state(ours), namespace_state(theirs)
    missing = sorted(set(b) - set(a))
    if missing:
        return f"minigrad's run lacks {missing[:5]}"
    for path in b:
        if path.endswith(not_compared):
            continue
        problem = compare_values(a[path], b[path], tolerance, dtype)
        if problem:
            return f"variable {path}: {problem}"
    return None

