"""minigrad.nn.init: sample statistics (tolerances of 5 standard errors), dtype, seeding, torch's formulas.

Random streams differ between NumPy and torch, so values cannot be compared one by one; the
statistics can, and each expected value below is derived from the distribution's formula.
"""
import math

import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import init

N = 200_000  # samples per statistics test: standard errors ~ 0.002 std


def check_mean_std(x: np.ndarray, mean: float, std: float) -> None:
    """Sample mean and std within 5 standard errors (std/sqrt(n) and about std/sqrt(2n))."""
    n = x.size
    x = x.astype(np.float64)
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(n), f"mean {x.mean()}, expected {mean}"
    assert abs(x.std() - std) < 5 * std / math.sqrt(2 * n), f"std {x.std()}, expected {std}"


def truncated_normal_moments(mean: float, std: float, a: float, b: float) -> tuple[float, float]:
    """Mean and std of N(mean, std^2) restricted to [a, b] (the textbook closed form)."""
    pdf = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    alpha, beta = (a - mean) / std, (b - mean) / std
    Z = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / Z
    var = std**2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / Z - shift**2)
    return mean + std * shift, math.sqrt(var)


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.5, 0.02)])
def test_normal(mean, std):
    mg.manual_seed(0)
    check_mean_std(init.normal_(np.empty(N, np.float32), mean, std), mean, std)


@pytest.mark.parametrize("a, b", [(0.0, 1.0), (-0.3, 0.7)])
def test_uniform(a, b):
    mg.manual_seed(0)
    x = init.uniform_(np.empty(N, np.float32), a, b)
    assert x.min() >= a and x.max() <= b
    check_mean_std(x, (a + b) / 2, (b - a) / math.sqrt(12))


@pytest.mark.parametrize("impl", ["minigrad", "torch"])  # torch's own sampler validates the formula
@pytest.mark.parametrize("mean, std, a, b", [
    (0.0, 1.0, -2.0, 2.0),  # the defaults
    (0.5, 1.0, -1.0, 1.2),  # asymmetric, most of the mass cut away
    (0.0, 0.02, -2.0, 2.0),  # the ViT's use: bounds far out, effectively N(0, 0.02^2)
])
def test_trunc_normal(impl, mean, std, a, b):
    mg.manual_seed(0)
    torch.manual_seed(0)
    if impl == "minigrad":
        x = init.trunc_normal_(np.empty(N, np.float32), mean, std, a, b)
    else:
        x = torch.nn.init.trunc_normal_(torch.empty(N), mean, std, a, b).numpy()
    assert x.min() >= a and x.max() <= b
    check_mean_std(x, *truncated_normal_moments(mean, std, a, b))


def test_trunc_normal_refuses_an_empty_window():
    with pytest.raises(ValueError, match="trunc_normal_"):
        init.trunc_normal_(np.empty(10), mean=0.0, std=1.0, a=8.0, b=9.0)


@pytest.mark.parametrize("fill", [
    lambda t: init.normal_(t), lambda t: init.trunc_normal_(t), lambda t: init.uniform_(t),
    lambda t: init.zeros_(t), lambda t: init.ones_(t), lambda t: init.kaiming_uniform_(t),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_and_dtype_kept(fill, dtype):
    param = nn.Parameter(np.full((4, 3), 5.0, dtype))
    data = param.numpy()
    assert fill(param) is param and param.numpy() is data and data.dtype == dtype
    assert not np.any(data == 5.0)


def test_zeros_and_ones():
    np.testing.assert_array_equal(init.zeros_(np.full(3, 2.0)), np.zeros(3))
    np.testing.assert_array_equal(init.ones_(mg.zeros(2, 2)).numpy(), np.ones((2, 2), np.float32))


@pytest.mark.parametrize("shape", [(4, 3), (8, 3, 5, 5), (2, 6, 1, 7)])
def test_fan_in_fan_out_like_torch(shape):
    assert init._calculate_fan_in_and_fan_out(np.empty(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match="fewer than 2"):
        init._calculate_fan_in_and_fan_out(np.empty(5))


@pytest.mark.parametrize("nonlinearity, param", [("relu", None), ("tanh", None), ("leaky_relu", math.sqrt(5)),
                                                 ("leaky_relu", None), ("linear", None)])
def test_gain_like_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def kaiming_bound(fan_in: int) -> float:
    """torch's reset_parameters: kaiming_uniform_(a=sqrt(5)) -> bound = sqrt(3) * gain / sqrt(fan_in)."""
    return math.sqrt(3.0) * torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(fan_in)


@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Linear(300, 400), 300),
    (lambda: nn.Conv2d(3, 200, kernel_size=8), 3 * 8 * 8),
])
def test_default_init_bounds_like_torch(make, fan_in):
    mg.manual_seed(0)
    layer = make()
    bound = kaiming_bound(fan_in)
    assert bound == pytest.approx(1 / math.sqrt(fan_in))
    for p in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(p).max() <= bound
    check_mean_std(layer.weight.numpy(), 0.0, bound / math.sqrt(3))  # U(-b, b) has std b/sqrt(3)
    assert np.abs(layer.bias.numpy()).max() > 0.9 * bound  # drawn from the whole range


def test_same_seed_same_model():
    mg.manual_seed(42)
    first = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 2)).state_dict()
    mg.manual_seed(42)  # replaces the generator: init must fetch it at call time
    second = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 2)).state_dict()
    third = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 2)).state_dict()  # the stream goes on
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not np.array_equal(first["0.weight"], third["0.weight"])
