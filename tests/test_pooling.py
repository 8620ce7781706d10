"""max_pool2d and avg_pool2d (im2col + a max or a mean over each window) against PyTorch.

Run one alone, e.g. `pytest tests/test_pooling.py -k max`.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.testing import DTYPES, check_finite_differences, check_op, check_refused


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


# name: (input shape, keyword arguments both frameworks take)
MAX_POOLS = {
    "2x2": ((2, 3, 6, 6), dict(kernel_size=2)),
    "3x3_stride_2_overlapping": ((1, 2, 7, 7), dict(kernel_size=3, stride=2)),
    "padded": ((2, 2, 5, 6), dict(kernel_size=3, stride=2, padding=1)),
    "ceil_mode": ((1, 2, 6, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "ceil_mode_padded": ((1, 2, 6, 5), dict(kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True)),
    "dilated": ((1, 2, 7, 8), dict(kernel_size=2, stride=1, dilation=(2, 3))),
    "unbatched": ((3, 5, 5), dict(kernel_size=2, stride=1)),
}


@pytest.mark.parametrize("name", MAX_POOLS)
def test_max_pool2d(name, dtype):
    shape, kwargs = MAX_POOLS[name]
    check_op(lambda x: F.max_pool2d(x, **kwargs), lambda x: TF.max_pool2d(x, **kwargs), [shape], dtype)
    check_op(mg.nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), [shape], dtype)
    check_finite_differences(lambda x: F.max_pool2d(x, **kwargs), [shape])  # random values: no ties


@pytest.mark.parametrize("name", MAX_POOLS)
def test_max_pool2d_indices(name):
    shape, kwargs = MAX_POOLS[name]
    x = np.random.default_rng(0).standard_normal(shape)
    (y, index), (ty, tindex) = (F.max_pool2d(mg.tensor(x), **kwargs, return_indices=True),
                                TF.max_pool2d(torch.tensor(x), **kwargs, return_indices=True))
    assert index.dtype == np.int64
    np.testing.assert_array_equal(index.numpy(), tindex.numpy())
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_max_pool2d_gives_a_tie_to_the_first_max(dtype):
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 0.0, 3.0]]]], dtype=dtype)  # ties in both windows
    check_op(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), inputs=[x])


AVG_POOLS = {
    "2x2": ((2, 3, 6, 6), dict(kernel_size=2)),
    "3x3_stride_2": ((1, 2, 7, 7), dict(kernel_size=3, stride=2)),
    "padded_counts_padding": ((2, 2, 5, 6), dict(kernel_size=3, stride=2, padding=1)),
    "padded_without_padding": ((2, 2, 5, 6), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    "ceil_mode": ((1, 2, 6, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
    "ceil_mode_padded": ((1, 2, 6, 5), dict(kernel_size=(2, 3), stride=2, padding=1, ceil_mode=True)),
    "divisor_override": ((1, 2, 4, 4), dict(kernel_size=2, divisor_override=3)),
    "unbatched": ((3, 5, 5), dict(kernel_size=2, stride=1)),
}


@pytest.mark.parametrize("name", AVG_POOLS)
def test_avg_pool2d(name, dtype):
    shape, kwargs = AVG_POOLS[name]
    check_op(lambda x: F.avg_pool2d(x, **kwargs), lambda x: TF.avg_pool2d(x, **kwargs), [shape], dtype)
    check_op(mg.nn.AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs), [shape], dtype)
    check_finite_differences(lambda x: F.avg_pool2d(x, **kwargs), [shape])


BAD = {  # name: (call on x (1, 1, 4, 4), the refusal's start)
    "padding_over_half_the_kernel": (lambda p, x: p.max_pool2d(x, 2, padding=2), "^max_pool2d: padding should be at most half"),
    "empty_output": (lambda p, x: p.avg_pool2d(x, 5), r"^avg_pool2d: the output would be empty"),
    "zero_stride": (lambda p, x: p.max_pool2d(x, 2, stride=0), "^max_pool2d: kernel_size, stride and dilation must be >= 1"),
    "zero_divisor": (lambda p, x: p.avg_pool2d(x, 2, divisor_override=0), "^avg_pool2d: divisor_override must be"),
    "two_dims": (lambda p, x: p.max_pool2d(x[0, 0], 2), r"^max_pool2d: input must be \(B, C, H, W\) or \(C, H, W\)"),
}


@pytest.mark.parametrize("name", BAD)
def test_refusals(name):
    call, match = BAD[name]
    check_refused(lambda x: call(F, x), lambda x: call(TF, x), [np.ones((1, 1, 4, 4))], match, ValueError)
