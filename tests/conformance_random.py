"""The OpInfo samples whose output is random: they cannot match PyTorch value for value, so they are
compared by what the distribution promises (each checker has `conformance.compare_runs`'s signature).

- dropout: every element is 0 or x / (1 - p), the number zeroed is Binomial(n, p) (within 4 standard
  deviations), and the gradient is dout times the same factor; eval mode and p = 0 match exactly.
- scaled_dot_product_attention with dropout_p > 0: the mask minigrad draws is re-drawn (same seed) and
  checked as Binomial; given that mask, outputs and gradients match PyTorch's formula exactly.
- randn, randint, empty and the other samplers (the *_like twins, randperm, multinomial, normal,
  bernoulli): shape, dtype and requires_grad; randn's mean, randint's range.
"""
from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import torch

import minigrad as mg
import minigrad.nn.functional as MF
from conformance import Outcome, Subject, Translation, call_ours, compare_runs, each_mode, numpy_dtype, pytorch_raises
from minigrad.functional.dropout import dropout_keep
from minigrad.testing import assert_close


def binomial_ok(dropped: int, n: int, p: float) -> bool:
    """dropped ~ Binomial(n, p), to within 4 standard deviations."""
    return abs(dropped - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1e-9


def same_kind(got: mg.Tensor, expected: torch.Tensor, what: str) -> None:
    """Shape, dtype and requires_grad: what a random output must share with PyTorch's."""
    assert isinstance(got, mg.Tensor), f"{what}: minigrad returned {type(got).__name__}"
    assert got.shape == tuple(expected.shape), f"{what}: shape {got.shape}, PyTorch {tuple(expected.shape)}"
    assert got.dtype == numpy_dtype(expected.dtype), f"{what}: dtype {got.dtype}, PyTorch {expected.dtype}"
    assert got.requires_grad == expected.requires_grad, f"{what}: requires_grad {got.requires_grad}, PyTorch's is not"


def _torch_output(subject: Subject, call: tuple) -> torch.Tensor | Outcome:
    args, kwargs = call
    try:
        return subject.theirs(*args, **kwargs)
    except Exception as err:  # noqa: BLE001
        return Outcome("not applicable", pytorch_raises(err))


# -- dropout ------------------------------------------------------------------------------------------


def dropout(subject: Subject, tr: Translation, call: tuple, seed: int) -> Outcome:
    bound = inspect.signature(MF.dropout).bind(*call[0], **call[1])
    bound.apply_defaults()
    p, training = bound.arguments["p"], bound.arguments["training"]
    if not training or p == 0.0:  # the identity: exactly PyTorch's answer
        return compare_runs(subject, tr, call, seed)
    expected = _torch_output(subject, call)
    if isinstance(expected, Outcome):
        return expected
    x = call[0][0].detach()
    n, dropped = int((x != 0).sum()), int(((expected == 0) & (x != 0)).sum())
    if not binomial_ok(dropped, n, p):  # PyTorch's own mask must pass the test minigrad's is put to
        return Outcome("failed", f"PyTorch zeroed {dropped} of {n}, not Binomial(n, p={p}): the test is wrong")

    def check(where: str) -> Outcome:
        mg.manual_seed(seed)
        got = call_ours(subject, tr, call, where)
        if isinstance(got, Outcome):
            return got
        same_kind(got, expected, "output" + where)
        x, y = tr.pairs[0][1].numpy(), got.numpy()
        scale = x.dtype.type(0.0 if p == 1 else 1 / (1 - p))
        kept, known = y != 0, x != 0  # where x == 0 the mask cannot be read from y
        assert_close(y, np.where(kept, x * scale, 0), "output: 0 or x / (1 - p)" + where, rtol=1e-6, atol=0)
        dropped = int((known & ~kept).sum())
        assert binomial_ok(dropped, int(known.sum()), p), (
            f"{dropped} of {int(known.sum())} elements zeroed, not Binomial(n, p={p}){where}")
        if got.requires_grad:
            dout = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
            got.backward(dout)
            grad = tr.pairs[0][1].grad
            assert_close(grad[known], np.where(kept, dout * scale, 0)[known], "gradient: dout times the same factor" + where,
                         rtol=1e-6, atol=0)
        return Outcome("matched", "by its statistics")

    return each_mode(check)


# -- attention with dropout ------------------------------------------------------------------------------


def attention_with_keep(keep: np.ndarray, p: float) -> Any:
    """PyTorch's attention, written out, with a given dropout mask: softmax(q k^T * scale + mask) * keep / (1 - p) @ v."""
    def theirs(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attn_mask: torch.Tensor | None = None,
               dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
               enable_gqa: bool = False) -> torch.Tensor:
        q, k, v = query, key, value
        scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
        scores = q @ k.transpose(-2, -1) * scale
        tq, tk = scores.shape[-2:]
        if is_causal:
            scores = scores.masked_fill(~torch.ones(tq, tk, dtype=torch.bool).tril(), float("-inf"))
        if attn_mask is not None:
            scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
        factor = torch.from_numpy(keep).to(q.dtype) * (0.0 if p == 1 else 1 / (1 - p))
        return (torch.softmax(scores, dim=-1) * factor) @ v
    return theirs


def attention(subject: Subject, tr: Translation, call: tuple, seed: int) -> Outcome:
    bound = inspect.signature(MF.scaled_dot_product_attention).bind(*call[0], **call[1])
    bound.apply_defaults()
    p = bound.arguments["dropout_p"]
    if p == 0.0:
        return compare_runs(subject, tr, call, seed)
    q, k, v = (bound.arguments[n] for n in ("query", "key", "value"))
    with torch.no_grad():  # the formula itself must be PyTorch's attention when nothing is dropped
        plain = {**bound.arguments, "dropout_p": 0.0}
        formula = attention_with_keep(np.ones(1, dtype=bool), 0.0)(**plain)
        if not torch.allclose(formula, torch.nn.functional.scaled_dot_product_attention(**plain), rtol=1e-5, atol=1e-5):
            return Outcome("failed", "attention_with_keep is not PyTorch's attention (a bug in the test)")
    shape = (*np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]), q.shape[-2], k.shape[-2])
    mg.manual_seed(seed)
    keep = dropout_keep(shape, p)  # the mask minigrad draws first after that seed
    if not binomial_ok(int((~keep).sum()), keep.size, p):
        return Outcome("failed", f"{int((~keep).sum())} of {keep.size} attention weights dropped, not Binomial(n, p={p})")
    return compare_runs(subject, tr, call, seed, theirs=attention_with_keep(keep, p),
                        before_each=lambda: mg.manual_seed(seed))


# -- random factories ------------------------------------------------------------------------------------


def factory(subject: Subject, tr: Translation, call: tuple, seed: int) -> Outcome:
    """randn, randint, empty: the output's kind, and what its values promise."""
    expected = _torch_output(subject, call)
    if isinstance(expected, Outcome):
        return expected
    positional = call[0]

    def check(where: str) -> Outcome:
        got = call_ours(subject, tr, call, where)
        if isinstance(got, Outcome):
            return got
        same_kind(got, expected, "output" + where)
        values = got.numpy()
        if subject.row == "torch.randn":
            assert np.isfinite(values).all(), f"randn gave {values}{where}"
            assert abs(values.mean()) <= 5 / math.sqrt(values.size), f"randn: mean {values.mean()} of {values.size}{where}"
        if subject.row == "torch.randint" and values.size:
            low, high = (0, positional[0]) if len(positional) == 2 else positional[:2]
            assert (values == np.round(values)).all() and low <= values.min() and values.max() < high, (
                f"randint({low}, {high}) gave values from {values.min()} to {values.max()}{where}")
        if subject.row == "Tensor.uniform_" and values.size:
            low, high = (list(positional[1:]) + [0.0, 1.0][len(positional) - 1:])[:2]
            assert low <= values.min() and values.max() <= high, (
                f"uniform_({low}, {high}) gave values from {values.min()} to {values.max()}{where}")
        return Outcome("matched", "by its statistics")

    return each_mode(check)


RANDOM = {
    "F.dropout": dropout,
    "F.scaled_dot_product_attention": attention,
    "torch.randn": factory,
    "torch.randint": factory,
    "torch.empty": factory,  # uninitialised memory: only the kind of tensor can match
    "torch.empty_like": factory,
    "torch.randn_like": factory,
    "torch.rand_like": factory,
    "torch.randint_like": factory,
    "torch.randperm": factory,
    "torch.multinomial": factory,
    "torch.normal": factory,
    "torch.bernoulli": factory,
    "Tensor.normal_": factory,  # in place: the same kind of tensor, other draws
    "Tensor.uniform_": factory,
}

__all__ = ["RANDOM", "attention_with_keep", "binomial_ok"]
