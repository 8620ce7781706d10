"""conv2d (im2col + linear) against torch.nn.functional.conv2d.

Run alone: `pytest tests/test_conv.py -k conv2d`, or one case: `-k patchify`.
"""
import numpy as np
import pytest
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import DTYPES, check_op, random_inputs

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


@pytest.mark.parametrize("case", ["patchify", "general"])
def test_conv2d_gradcheck(case):
    stride, padding = (2, 0) if case == "patchify" else (2, 1)
    arrays = random_inputs([(1, 2, 4, 4), (3, 2, 2, 2), (3,)], np.float64)
    assert mg.gradcheck(lambda *a: F.conv2d(*a, stride=stride, padding=padding),
                        [mg.Tensor(a, requires_grad=True) for a in arrays])


def test_conv2d_wrong_channels_names_shapes():
    x, w = mg.Tensor(np.zeros((2, 4, 8, 8))), mg.Tensor(np.zeros((5, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: input has 4 channels \(shape \(2, 4, 8, 8\)\), "
                                         r"weight \(5, 3, 3, 3\) expects 3"):
        F.conv2d(x, w)


def test_conv2d_needs_4d_input():
    with pytest.raises(ValueError, match=r"conv2d: input must be \(B, C, H, W\), got shape \(3, 8, 8\)"):
        F.conv2d(mg.Tensor(np.zeros((3, 8, 8))), mg.Tensor(np.zeros((5, 3, 3, 3))))


def test_conv2d_kernel_larger_than_input():
    with pytest.raises(ValueError, match=r"conv2d: kernel \(5, 5\) is larger than the padded input"):
        F.conv2d(mg.Tensor(np.zeros((1, 3, 4, 4))), mg.Tensor(np.zeros((2, 3, 5, 5))))
