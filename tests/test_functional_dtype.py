"""dtype discipline: every functional op keeps its inputs' float dtype, forward and backward.

A float64 constant (np.sqrt(2/np.pi), a float64 mask, np.mean of ints) silently upcasting a
float32 activation doubles memory and time; this file catches it for every op at once.
Run alone: `pytest tests/test_functional_dtype.py -k gelu`.
"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import random_inputs, seeded

TARGETS = np.array([0, 2, 1, 2])
MASK64 = np.where(np.tril(np.ones((3, 6))) > 0, 0.5, -np.inf)  # a float64 additive mask

# name -> (function of the float inputs, their shapes)
OPS = {
    "softmax": (lambda x: F.softmax(x, dim=-1), [(3, 4)]),
    "softmax_composed": (F.softmax_composed, [(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=-1), [(3, 4)]),
    "log_softmax_composed": (F.log_softmax_composed, [(3, 4)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    "gelu_none": (lambda x: F.gelu(x, approximate="none"), [(3, 4)]),
    "gelu_composed": (F.gelu_composed, [(3, 4)]),
    "relu": (F.relu, [(3, 4)]),
    "cross_entropy_mean": (lambda x: F.cross_entropy(x, TARGETS, label_smoothing=0.1), [(4, 3)]),
    "cross_entropy_sum": (lambda x: F.cross_entropy(x, TARGETS, reduction="sum"), [(4, 3)]),
    "cross_entropy_none": (lambda x: F.cross_entropy(x, TARGETS, reduction="none"), [(4, 3)]),
    "cross_entropy_composed": (lambda x: F.cross_entropy_composed(x, TARGETS, label_smoothing=0.1), [(4, 3)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, 4, w, b), [(3, 4), (4,), (4,)]),
    "layer_norm_no_affine": (lambda x: F.layer_norm(x, (3, 4)), [(2, 3, 4)]),
    "layer_norm_composed": (lambda x, w, b: F.layer_norm_composed(x, 4, w, b), [(3, 4), (4,), (4,)]),
    "dropout": (seeded(lambda x: F.dropout(x, 0.3)), [(3, 4)]),
    "dropout_composed": (seeded(lambda x: F.dropout_composed(x, 0.3)), [(3, 4)]),
    "linear": (F.linear, [(2, 3, 5), (6, 5), (6,)]),
    "linear_composed": (F.linear_composed, [(2, 3, 5), (6, 5), (6,)]),
    "conv2d_patchify": (lambda x, w, b: F.conv2d(x, w, b, stride=2), [(1, 3, 4, 4), (2, 3, 2, 2), (2,)]),
    "conv2d_general": (lambda x, w, b: F.conv2d(x, w, b, padding=1), [(1, 3, 4, 4), (2, 3, 3, 3), (2,)]),
    "sdpa": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=0.2),
             [(2, 3, 4), (2, 6, 4), (2, 6, 5)]),
    "sdpa_float64_mask": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=MASK64),
                          [(2, 3, 4), (2, 6, 4), (2, 6, 5)]),
    "attention_composed": (lambda q, k, v: F.attention_composed(q, k, v, dropout_p=0.2)[0],
                           [(2, 3, 4), (2, 6, 4), (2, 6, 5)]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", OPS)
def test_functional_keeps_dtype(name, dtype):
    fn, shapes = OPS[name]
    inputs = [mg.Tensor(a, requires_grad=True) for a in random_inputs(shapes, dtype)]
    out = fn(*inputs)
    assert out.dtype == dtype, f"{name}: output is {out.dtype} for {np.dtype(dtype)} inputs"
    out.backward(np.ones(out.shape, dtype=dtype))
    for i, t in enumerate(inputs):
        assert t.grad is not None, f"{name}: input {i} got no gradient"
        assert t.grad.dtype == dtype, f"{name}: gradient of input {i} is {t.grad.dtype}, input is {np.dtype(dtype)}"
