"""scaled_dot_product_attention (and attention_composed) against PyTorch.

Run alone: `pytest tests/test_attention.py`, or one case: `-k causal`.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from oracle import DTYPES, TOLERANCES, assert_close, check_op, random_inputs
from twins import check_twins, seeded

DTYPE_IDS = ["f64", "f32"]
sdpa = F.scaled_dot_product_attention


def bool_mask(tq: int, tk: int) -> np.ndarray:
    """A random keep-mask (True = may attend) in which every query keeps at least one key."""
    keep = np.random.default_rng(5).random((tq, tk)) < 0.6
    keep[:, 0] = True
    return keep


def float_mask(tq: int, tk: int) -> np.ndarray:
    """An additive mask: random biases, and -inf where bool_mask says no."""
    bias = np.random.default_rng(6).standard_normal((tq, tk))
    return np.where(bool_mask(tq, tk), bias, -np.inf)


# name -> (q, k, v shapes, keyword arguments shared by both frameworks)
CASES = {
    "B2_h3_T5_d4": (((2, 3, 5, 4),) * 3, {}),
    "3d_B2_T5_d4": (((2, 5, 4),) * 3, {}),
    "Tq3_Tk6": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)), {}),
    "dv7_ne_d4": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 7)), {}),
    "bool_mask": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)), {"attn_mask": bool_mask(3, 6)}),
    "bool_mask_per_batch": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)),
                            {"attn_mask": np.stack([bool_mask(3, 6), bool_mask(3, 6)[:, ::-1]])[:, None]}),
    "float_mask": (((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)), {"attn_mask": float_mask(3, 6)}),
    "causal": (((2, 2, 5, 4),) * 3, {"is_causal": True}),
    "causal_Tq4_Tk6": (((2, 2, 4, 4), (2, 2, 6, 4), (2, 2, 6, 4)), {"is_causal": True}),
    "scale_0.3": (((2, 2, 5, 4),) * 3, {"scale": 0.3}),
}


def torch_kwargs(kwargs: dict, dtype) -> dict:
    """The same arguments for PyTorch: a float mask has the inputs' dtype."""
    kw = dict(kwargs)
    if "attn_mask" in kw:
        mask = kw["attn_mask"]
        kw["attn_mask"] = torch.tensor(mask if mask.dtype == bool else mask.astype(dtype))
    return kw


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", CASES)
def test_sdpa_matches_torch(case, dtype):
    shapes, kwargs = CASES[case]
    check_op(lambda q, k, v: sdpa(q, k, v, **kwargs),
             lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **torch_kwargs(kwargs, dtype)),
             shapes, dtype)


def test_sdpa_mask_may_be_a_tensor():
    shapes, kwargs = CASES["bool_mask"]
    q, k, v = [mg.Tensor(a) for a in random_inputs(shapes, np.float64)]
    from_array = sdpa(q, k, v, attn_mask=kwargs["attn_mask"])
    from_tensor = sdpa(q, k, v, attn_mask=mg.Tensor(kwargs["attn_mask"]))
    np.testing.assert_array_equal(from_tensor.data, from_array.data)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", CASES)
def test_sdpa_weights_are_torch_softmax(case, dtype):
    """need_weights (eval) returns softmax(q k^T * scale + mask), and the same output as without."""
    shapes, kwargs = CASES[case]
    q, k, v = random_inputs(shapes, dtype)
    out, weights = sdpa(mg.Tensor(q), mg.Tensor(k), mg.Tensor(v), need_weights=True, **kwargs)
    tq, tk, tkw = torch.tensor(q), torch.tensor(k), torch_kwargs(kwargs, dtype)
    scale = kwargs.get("scale", 1 / np.sqrt(q.shape[-1]))
    scores = tq @ tk.transpose(-2, -1) * scale
    if "attn_mask" in tkw:
        mask = tkw["attn_mask"]
        scores = scores.masked_fill(~mask, -torch.inf) if mask.dtype == torch.bool else scores + mask
    if kwargs.get("is_causal"):
        scores = scores.masked_fill(~torch.ones(scores.shape[-2:], dtype=torch.bool).tril(), -torch.inf)
    assert weights.dtype == dtype
    assert_close(weights.data, torch.softmax(scores, dim=-1).numpy(), "weights", **TOLERANCES[dtype])
    # without the weights (and no gradient asked) the unmasked cases take the inference path: same values
    assert_close(sdpa(mg.Tensor(q), mg.Tensor(k), mg.Tensor(v), **kwargs).data, out.data, "out", **TOLERANCES[dtype])


def test_sdpa_weights_do_not_alias_the_graph():
    """Editing the returned weights in place must not change the gradients of q, k and v."""
    shapes, _ = CASES["B2_h3_T5_d4"]
    grads = []
    for edit in (False, True):
        q, k, v = [mg.Tensor(a, requires_grad=True) for a in random_inputs(shapes, np.float64)]
        out, weights = sdpa(q, k, v, need_weights=True)
        if edit:
            weights.zero_()
        out.backward(np.ones(out.shape))
        grads.append(q.grad)
    np.testing.assert_array_equal(grads[1], grads[0])


# -- attention_composed: the tutorial's softmax(q k^T / sqrt(d)) v, no mask -------------------------

COMPOSED_CASES = ["B2_h3_T5_d4", "3d_B2_T5_d4", "Tq3_Tk6", "dv7_ne_d4"]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", COMPOSED_CASES)
def test_attention_composed_matches_torch(case, dtype):
    shapes, _ = CASES[case]
    check_op(lambda q, k, v: F.attention_composed(q, k, v), TF.scaled_dot_product_attention, shapes, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("dropout_p", [0.0, 0.3])
@pytest.mark.parametrize("case", COMPOSED_CASES)
def test_sdpa_fused_equals_composed(case, dropout_p, dtype):
    """Same seed, same dropout mask: equal outputs and gradients, with and without dropout."""
    shapes, _ = CASES[case]
    check_twins(seeded(lambda q, k, v: sdpa(q, k, v, dropout_p=dropout_p)),
                seeded(lambda q, k, v: F.attention_composed(q, k, v, dropout_p=dropout_p)),
                random_inputs(shapes, dtype))


# -- dropout on the attention probabilities ----------------------------------------------------------

P = 0.4
DROP_SHAPES = ((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 5))


def dropout_factor(q, k, v, dtype) -> np.ndarray:
    """The 0 or 1/(1-p) factor seeded sdpa applied to each probability (probs are all > 0)."""
    _, weights = seeded(sdpa)(mg.Tensor(q), mg.Tensor(k), mg.Tensor(v), dropout_p=P, need_weights=True)
    return np.where(weights.data != 0, 1 / (1 - P), 0).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sdpa_dropout_weights_are_scaled_eval_weights(dtype):
    """weights = probs * keep / (1-p): each entry is dropped to 0 or scaled by exactly 1/(1-p)."""
    qkv = [mg.Tensor(a) for a in random_inputs(DROP_SHAPES, dtype)]
    out, weights = seeded(sdpa)(*qkv, dropout_p=P, need_weights=True)
    _, probs = sdpa(*qkv, need_weights=True)
    kept = weights.data != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(weights.data[kept], probs.data[kept] / (1 - P), rtol=4 * np.finfo(dtype).eps)
    assert_close(out.data, weights.data @ qkv[2].data, "out vs weights @ v", **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sdpa_dropout_matches_torch_with_same_mask(dtype):
    q, k, v = random_inputs(DROP_SHAPES, dtype)
    factor = torch.tensor(dropout_factor(q, k, v, dtype))

    def torch_fn(q, k, v):
        probs = torch.softmax(q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1]), dim=-1)
        return (probs * factor) @ v

    check_op(seeded(lambda q, k, v: sdpa(q, k, v, dropout_p=P)), torch_fn, inputs=[q, k, v], dtype=dtype)


@pytest.mark.parametrize("kwargs", [{}, {"dropout_p": P}, {"attn_mask": float_mask(3, 6), "scale": 0.3},
                                    {"is_causal": True}], ids=["plain", "dropout", "float_mask_scale", "causal"])
def test_sdpa_gradcheck(kwargs):
    arrays = random_inputs(DROP_SHAPES, np.float64)
    fn = seeded(lambda q, k, v: sdpa(q, k, v, **kwargs))  # reseeded: one dropout mask for every call
    assert mg.gradcheck(fn, [mg.Tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("dropout_p", [0.0, P], ids=["eval", "dropout"])
def test_attention_composed_gradcheck(dropout_p):
    arrays = random_inputs(DROP_SHAPES, np.float64)
    fn = seeded(lambda q, k, v: F.attention_composed(q, k, v, dropout_p=dropout_p)[0])  # (out, probs)
    assert mg.gradcheck(fn, [mg.Tensor(a, requires_grad=True) for a in arrays])


# -- errors ------------------------------------------------------------------------------------------

BAD_SHAPES = {
    "d_mismatch": ((2, 5, 4), (2, 5, 3), (2, 5, 4)),
    "Tk_mismatch": ((2, 5, 4), (2, 6, 4), (2, 5, 4)),
}


@pytest.mark.parametrize("case", BAD_SHAPES)
def test_sdpa_mismatched_shapes_name_all_three(case):
    q, k, v = (mg.Tensor(np.zeros(s)) for s in BAD_SHAPES[case])
    pattern = rf"scaled_dot_product_attention: q {q.shape}, k {k.shape}, v {v.shape} do not fit"
    with pytest.raises(ValueError, match=pattern.replace("(", r"\(").replace(")", r"\)")):
        sdpa(q, k, v)


def test_sdpa_bad_dropout_p():
    q = mg.Tensor(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: dropout_p must be in \[0, 1\], got 1.5"):
        sdpa(q, q, q, dropout_p=1.5)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_sdpa_rows_far_below_the_global_max_take_the_per_row_fallback(dtype):
    """One query row scores ~+60, another ~-60 below it: a single global shift would underflow
    the low row to all zeros, so the op must fall back to a per-row max (and match PyTorch)."""
    rng = np.random.default_rng(7)
    q = rng.standard_normal((2, 3, 4)) * 0.1
    k = np.ones((2, 5, 4)) + rng.standard_normal((2, 5, 4)) * 0.1
    q[0, 0] += 30.0  # scores of this row: about +60
    q[1, 2] -= 30.0  # and of this one: about -60, far below the global max
    v = rng.standard_normal((2, 5, 6))
    check_op(lambda a, b, c: F.scaled_dot_product_attention(a, b, c),
             lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c),
             inputs=[np.asarray(t, dtype=dtype) for t in (q, k, v)])


# -- the inference path: no gradient can be asked for (no_grad, or no input requires grad) ------------


def torch_sdpa(q, k, v):
    return TF.scaled_dot_product_attention(*(torch.tensor(a) for a in (q, k, v))).numpy()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(3, 2, 7, 4), (2, 130, 9, 5), (300, 6, 3)], ids=["small", "two_chunks", "3d_three_chunks"])
def test_sdpa_inference_path_equals_torch(shape, dtype):
    """Under no_grad the op goes through the score matrices in chunks of INFERENCE_CHUNK and divides
    after @ v; shapes with 1, 2 and 3 chunks (the last one partial) all match PyTorch."""
    from minigrad.functional import attention

    n = int(np.prod(shape[:-2]))
    assert n <= attention.INFERENCE_CHUNK or n % attention.INFERENCE_CHUNK  # the last chunk is partial
    rng = np.random.default_rng(3)
    qkv = rng.standard_normal((3, *shape[:-2], shape[-2], 3 * shape[-1])).astype(dtype) * 2
    q, k, v = np.split(qkv[0], 3, axis=-1)  # strided views, as a fused qkv projection gives them
    with mg.no_grad():
        out = sdpa(mg.Tensor(q), mg.Tensor(k), mg.Tensor(v))
    assert out.dtype == dtype and out._ctx is None
    assert_close(out.data, torch_sdpa(q, k, v), "out", **TOLERANCES[dtype])
    grad_mode = sdpa(mg.Tensor(q, requires_grad=True), mg.Tensor(k), mg.Tensor(v))  # the training path
    assert_close(out.data, grad_mode.data, "inference vs training path", **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sdpa_inference_path_falls_back_per_row(dtype, monkeypatch):
    """The rows ~60 below their chunk's max would underflow a chunk-wide shift: redone with per-row maxima."""
    from minigrad.functional import attention

    calls = []
    per_row = attention._softmax_rows
    monkeypatch.setattr(attention, "_softmax_rows", lambda *a, **kw: calls.append(1) or per_row(*a, **kw))
    rng = np.random.default_rng(7)
    q = rng.standard_normal((2, 3, 4)) * 0.1
    k = np.ones((2, 5, 4)) + rng.standard_normal((2, 5, 4)) * 0.1
    q[0, 0] += 30.0
    q[1, 2] -= 30.0
    v = rng.standard_normal((2, 5, 6))
    q, k, v = (a.astype(dtype) for a in (q, k, v))
    with mg.no_grad():
        out = sdpa(mg.Tensor(q), mg.Tensor(k), mg.Tensor(v)).data
    assert calls == [1] and np.isfinite(out).all()
    assert_close(out, torch_sdpa(q, k, v), "out", **TOLERANCES[dtype])
