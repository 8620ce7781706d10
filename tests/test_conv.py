"""conv2d (im2col + linear) against torch.nn.functional.conv2d.

Run alone: `pytest tests/test_conv.py -k conv2d`, or one case: `-k patchify`.
"""
import numpy as np
import pytest
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, check_op, check_refused, random_inputs

DTYPE_IDS = ["f64", "f32"]
# name -> (x shape (B, C, H, W), weight shape (O, C, kh, kw), stride, padding, bias?)
CASES = {
    # kernel == stride, no padding: the ViT's patch embedding, a pure reshape (fast path)
    "patchify_vit_32x32_k4s4": ((2, 3, 32, 32), (8, 3, 4, 4), 4, 0, True),
    "patchify_1x1": ((2, 3, 5, 5), (4, 3, 1, 1), 1, 0, True),
    # the general path: sliding windows that overlap, skip or run past the edge
    "3x3_s1_p1": ((2, 3, 8, 8), (4, 3, 3, 3), 1, 1, True),
    "3x3_s2": ((2, 3, 9, 9), (4, 3, 3, 3), 2, 0, True),
    "3x3_s2_p1_even": ((2, 3, 8, 8), (4, 3, 3, 3), 2, 1, True),
    "nonsquare_kernel_2x3": ((2, 3, 7, 8), (4, 3, 2, 3), 1, 0, True),
    "tuple_stride_padding": ((2, 3, 7, 8), (4, 3, 3, 2), (2, 1), (1, 0), True),
    "no_bias_3x3_p1": ((2, 3, 8, 8), (4, 3, 3, 3), 1, 1, False),
    # kernel == stride, but the fast path does not apply
    "k4s4_with_padding": ((2, 3, 8, 8), (4, 3, 4, 4), 4, 1, True),
    "k4s4_not_divisible": ((2, 3, 10, 10), (4, 3, 4, 4), 4, 0, True),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", CASES)
def test_conv2d_matches_torch(case, dtype):
    x_shape, w_shape, stride, padding, bias = CASES[case]
    shapes = [x_shape, w_shape] + ([(w_shape[0],)] if bias else [])
    check_op(lambda *a: F.conv2d(*a, stride=stride, padding=padding),
             lambda *a: TF.conv2d(*a, stride=stride, padding=padding), shapes, dtype)


# PyTorch's other arguments: name -> (x shape, weight shape, keyword arguments); all with a bias
OPTIONS = {
    "same_3x3": ((2, 3, 7, 7), (4, 3, 3, 3), dict(padding="same")),
    "same_even_kernel_4x2": ((2, 3, 7, 6), (4, 3, 4, 2), dict(padding="same")),  # one more zero after
    "same_dilated": ((1, 2, 9, 8), (3, 2, 3, 2), dict(padding="same", dilation=(2, 3))),
    "valid": ((2, 3, 7, 7), (4, 3, 3, 3), dict(padding="valid")),
    "dilation_2_stride_2": ((2, 3, 11, 11), (4, 3, 3, 3), dict(stride=2, padding=1, dilation=2)),
    "dilation_nonsquare": ((1, 2, 9, 10), (3, 2, 2, 3), dict(dilation=(3, 2))),
    "groups_2": ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    "depthwise": ((2, 3, 6, 6), (3, 1, 3, 3), dict(groups=3)),
    "groups_patchify": ((2, 4, 8, 8), (8, 2, 4, 4), dict(groups=2, stride=4)),
    "unbatched": ((3, 8, 8), (4, 3, 3, 3), dict(padding=1)),
    "unbatched_same_groups": ((4, 6, 5), (2, 2, 2, 3), dict(padding="same", groups=2)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")  # PyTorch's own note
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", OPTIONS)
def test_conv2d_options_match_torch(case, dtype):
    x_shape, w_shape, kwargs = OPTIONS[case]
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kwargs), lambda x, w, b: TF.conv2d(x, w, b, **kwargs),
             [x_shape, w_shape, (w_shape[0],)], dtype)


@pytest.mark.parametrize("case", ["patchify", "general", "same_even_kernel_4x2", "dilation_2_stride_2", "groups_2"])
def test_conv2d_gradcheck(case):
    if case in OPTIONS:
        x_shape, w_shape, kwargs = OPTIONS[case]
        shapes = [(1, *x_shape[1:3], min(x_shape[3], 6)), w_shape, (w_shape[0],)]
    else:
        shapes, kwargs = [(1, 2, 4, 4), (3, 2, 2, 2), (3,)], dict(stride=2, padding=0 if case == "patchify" else 1)
    arrays = random_inputs(shapes, np.float64)
    assert mg.gradcheck(lambda *a: F.conv2d(*a, **kwargs), [mg.Tensor(a, requires_grad=True) for a in arrays])


def test_conv2d_wrong_channels_names_shapes():
    x, w = mg.Tensor(np.zeros((2, 4, 8, 8))), mg.Tensor(np.zeros((5, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: input has 4 channels \(shape \(2, 4, 8, 8\)\), "
                                         r"weight \(5, 3, 3, 3\) expects 3"):
        F.conv2d(x, w)


def test_conv2d_needs_3d_or_4d_input():
    with pytest.raises(ValueError, match=r"conv2d: input must be \(B, C, H, W\) or \(C, H, W\), got shape \(8, 8\)"):
        F.conv2d(mg.Tensor(np.zeros((8, 8))), mg.Tensor(np.zeros((5, 3, 3, 3))))


# (keyword arguments, x shape, weight shape, error pattern)
BAD_CALLS = {
    "same_with_stride": (dict(padding="same", stride=2), (1, 3, 8, 8), (4, 3, 3, 3),
                         r"conv2d: padding='same' is not supported for strided convolutions \(stride=\(2, 2\)\)"),
    "unknown_padding": (dict(padding="full"), (1, 3, 8, 8), (4, 3, 3, 3), r"conv2d: padding must be 'same', 'valid'"),
    "groups_channels": (dict(groups=2), (1, 4, 8, 8), (4, 3, 3, 3),
                        r"conv2d: input has 4 channels \(shape \(1, 4, 8, 8\)\), "
                        r"weight \(4, 3, 3, 3\) expects 3 \* groups=2 = 6"),
    "groups_out_channels": (dict(groups=2), (1, 4, 8, 8), (5, 2, 3, 3),
                            r"conv2d: weight \(5, 2, 3, 3\) has 5 output channels, not divisible by groups=2"),
    "dilated_kernel_too_big": (dict(dilation=3), (1, 3, 6, 6), (4, 3, 3, 3),
                               r"conv2d: kernel \(3, 3\) \(dilated to \(7, 7\)\) is larger than the padded "
                               r"input \(6, 6\)"),
    "zero_dilation": (dict(dilation=0), (1, 3, 6, 6), (4, 3, 3, 3), r"conv2d: stride and dilation must be >= 1"),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_conv2d_errors_name_the_argument(case):
    kwargs, x_shape, w_shape, pattern = BAD_CALLS[case]
    with pytest.raises(ValueError, match=pattern):
        F.conv2d(mg.Tensor(np.zeros(x_shape)), mg.Tensor(np.zeros(w_shape)), **kwargs)


def test_conv2d_kernel_larger_than_input():
    with pytest.raises(ValueError, match=r"conv2d: kernel \(5, 5\) is larger than the padded input"):
        F.conv2d(mg.Tensor(np.zeros((1, 3, 4, 4))), mg.Tensor(np.zeros((2, 3, 5, 5))))


@pytest.mark.parametrize("w_dtype, b_dtype, message", [
    (np.float32, None, r"int64 vs float32 \(input vs weight\)"),
    (np.int64, np.float32, r"int64 vs float32 \(input vs bias\)"),
], ids=["float_weight", "float_bias"])
def test_conv2d_refuses_mixed_dtypes_as_torch(w_dtype, b_dtype, message):
    x, w = np.ones((1, 1, 3, 3), dtype=np.int64), np.ones((2, 1, 2, 2), dtype=w_dtype)
    b = None if b_dtype is None else np.ones(2, dtype=b_dtype)
    check_refused(F.conv2d, TF.conv2d, [x, w, b], rf"^conv2d: dtype mismatch {message}")


def test_conv2d_of_integers_matches_torch():
    check_op(F.conv2d, TF.conv2d, inputs=[np.arange(32).reshape(1, 2, 4, 4), np.arange(16).reshape(2, 2, 2, 2) - 8])


BAD_PADDINGS = {"float": 1.5, "negative": -1, "negative_pair": (1, -1), "triple": (1, 2, 3), "bool": True,
                "unknown_string": "full", "same_strided": "same"}


@pytest.mark.parametrize("case", BAD_PADDINGS)
def test_bad_padding_is_refused_once_for_functional_and_nn(case):
    """One check (functional's), called by nn.Conv2d too: the same message, each naming its op; PyTorch refuses all."""
    import torch

    padding, stride = BAD_PADDINGS[case], 2 if case == "same_strided" else 1
    x, w = np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3))
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        TF.conv2d(torch.tensor(x), torch.tensor(w), stride=stride, padding=padding)
    with pytest.raises(ValueError, match=r"^conv2d: .*padding") as functional:
        F.conv2d(mg.Tensor(x), mg.Tensor(w), stride=stride, padding=padding)
    with pytest.raises(ValueError, match=r"^Conv2d: .*padding") as layer:
        mg.nn.Conv2d(1, 1, 3, stride=stride, padding=padding)
    assert str(layer.value).replace("Conv2d:", "conv2d:", 1) == str(functional.value)
