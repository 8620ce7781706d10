"""linspace / logspace / arange / *_like, Generator and the samplers, comparisons, sorting and counting,
against PyTorch on the same inputs (random draws: by their statistics, shapes, dtypes and reproducibility)."""
import math

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import assert_close

TORCH = {np.float32: torch.float32, np.float64: torch.float64, np.int64: torch.int64}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("start, end, steps", [(0, 1, 5), (-3.7, 12.1, 1000), (5, -2, 7), (2.5, 2.5, 3), (0, 1, 1),
                                               (0, 1, 0)])
def test_linspace_logspace_match_torch(dtype, start, end, steps):
    ours, theirs = mg.linspace(start, end, steps, dtype=dtype), torch.linspace(start, end, steps, dtype=TORCH[dtype])
    assert ours.dtype == dtype and ours.shape == tuple(theirs.shape)
    ulp = {np.float32: 2e-6, np.float64: 1e-15, np.int64: 0}[dtype] * max(abs(start), abs(end))  # PyTorch's SIMD rounding
    assert_close(ours.numpy(), theirs.numpy(), "linspace", rtol=0, atol=ulp)
    if dtype != np.int64:
        ours, theirs = mg.logspace(start / 10, end / 10, steps, dtype=dtype), torch.logspace(start / 10, end / 10, steps,
                                                                                              dtype=TORCH[dtype])
        assert_close(ours.numpy(), theirs.numpy(), "logspace", rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)


def test_creation_dtypes_and_out():
    assert mg.linspace(0, 1, 3).dtype == np.float32 and mg.arange(5).dtype == np.int64
    assert mg.arange(5.0).dtype == np.float32 and mg.arange(mg.tensor(3)).dtype == np.int64
    assert_close(mg.arange(0, 1, 0.1, dtype=np.float64).numpy(), torch.arange(0, 1, 0.1, dtype=torch.float64).numpy(),
                 "arange", rtol=0, atol=0)
    x = mg.zeros(2, 3, dtype=np.int64)
    assert mg.full_like(x, 2.7).numpy().tolist() == [[2, 2, 2]] * 2  # as torch.full_like: x's dtype
    assert mg.empty_like(x).shape == (2, 3) and mg.empty_like(x).dtype == np.int64
    out = mg.empty(2, 3)
    assert mg.ones(2, 3, out=out) is out and out.numpy().sum() == 6 and out._version == 1
    with pytest.raises(ValueError, match=r"ones: out has shape \(5,\)"):
        mg.ones(2, 3, out=mg.empty(5))
    assert mg.linspace(0, 1, 4, out=mg.empty(4, dtype=np.float64)).dtype == np.float64
    mg.set_default_device("cpu")
    mg.set_default_dtype(mg.float32)
    assert mg.get_default_dtype() is np.float32 and mg.get_default_device() == mg.device("cpu")
    with pytest.raises(NotImplementedError, match="set_default_dtype: .*float64"):
        mg.set_default_dtype(mg.float64)
    with pytest.raises(RuntimeError, match="cuda"):
        mg.set_default_device("cuda")


# -- generators -----------------------------------------------------------------------------------------


def test_generator_reproducible_and_independent():
    g = mg.Generator()
    assert g.manual_seed(2147483647) is g and g.initial_seed() == 2147483647
    a = mg.randn(3, 4, generator=g)
    mg.manual_seed(0)
    b = mg.randn(3, 4, generator=mg.Generator().manual_seed(2147483647))  # the global stream does not matter
    assert np.array_equal(a.numpy(), b.numpy())
    g1, g2 = mg.Generator().manual_seed(1), mg.Generator().manual_seed(1)
    mg.randn(10, generator=g1)  # advancing g1 leaves g2 and the global stream alone
    mg.manual_seed(5)
    first = mg.rand(3)
    mg.manual_seed(5)
    mg.rand(3, generator=g2)
    assert np.array_equal(mg.rand(3).numpy(), first.numpy())
    state = g1.get_state()
    x = mg.randint(0, 10, (5,), generator=g1)
    assert np.array_equal(g1.set_state(state) and mg.randint(0, 10, (5,), generator=g1).numpy(), x.numpy())
    assert mg.Generator().manual_seed(-1).initial_seed() == torch.Generator().manual_seed(-1).initial_seed()
    with pytest.raises(ValueError, match="manual_seed: seed"):
        mg.manual_seed(2**64)
    with pytest.raises(TypeError, match="randn: generator"):
        mg.randn(3, generator=1)
    s = g.seed()
    assert g.initial_seed() == s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sampler_statistics_shapes_dtypes(dtype):
    g = mg.Generator().manual_seed(0)
    x = mg.zeros(200, 100, dtype=dtype)
    for y in (mg.randn_like(x, generator=g), mg.normal(mg.zeros(200, 100, dtype=dtype), 1.0, generator=g)):
        assert y.dtype == dtype and y.shape == x.shape
        assert abs(float(y.numpy().mean())) < 5 / math.sqrt(x.numel()) and abs(float(y.numpy().std()) - 1) < 0.02
    u = mg.rand_like(x, generator=g).numpy()
    assert u.dtype == dtype and 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    b = mg.bernoulli(mg.full_like(x, 0.3), generator=g).numpy()
    assert b.dtype == dtype and set(np.unique(b)) <= {0, 1} and abs(b.mean() - 0.3) < 0.01
    n = mg.normal(2.0, 3.0, size=(20000,), generator=g, dtype=dtype).numpy()
    assert n.dtype == dtype and abs(n.mean() - 2) < 0.1 and abs(n.std() - 3) < 0.1
    r = mg.randint_like(x, 3, 7, generator=g).numpy()
    assert r.dtype == dtype and r.min() == 3 and r.max() == 6
    p = mg.randperm(50, generator=g)
    assert p.dtype == np.int64 and sorted(p.numpy().tolist()) == list(range(50))


def test_multinomial():
    g = mg.Generator().manual_seed(0)
    weights = mg.tensor([1.0, 0.0, 3.0])  # unnormalised
    draws = mg.multinomial(weights, 40000, replacement=True, generator=g).numpy()
    assert draws.dtype == np.int64 and abs((draws == 2).mean() - 0.75) < 0.01 and not (draws == 1).any()
    two = mg.multinomial(mg.tensor([[0.2, 0.8, 0.0], [0.0, 0.0, 1.0]]), 2, generator=g).numpy()
    assert two.shape == (2, 2) and set(two[0]) == {0, 1} and two[1, 0] == 2  # without replacement: distinct
    ix = mg.multinomial(mg.tensor([0.1, 0.9]), num_samples=1, replacement=True, generator=g).item()
    assert ix in (0, 1)
    for bad, match in [(mg.tensor([-1.0, 1.0]), "element < 0"), (mg.tensor([0.0, 0.0]), "sum of probabilities"),
                       (mg.tensor([1, 2]), "floating-point"), (mg.ones(1, 1, 2), "1 or 2 dim")]:
        with pytest.raises(RuntimeError, match=match):
            mg.multinomial(bad, 1)
    with pytest.raises(RuntimeError, match="without replacement"):
        mg.multinomial(mg.tensor([1.0, 1.0]), 3)


# -- comparisons, sorting, counting ----------------------------------------------------------------------


def test_comparisons_match_torch():
    a, b = np.array([[1.0, 2.0, np.nan], [4.0, 5.0, 6.0]], np.float32), np.array([1.0, 2.5, np.nan], np.float32)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        ours, theirs = getattr(mg, name)(mg.tensor(a), mg.tensor(b)), getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert ours.dtype == np.bool_ and np.array_equal(ours.numpy(), theirs.numpy()), name
    c = a + 1e-6
    assert np.array_equal(mg.isclose(mg.tensor(a), mg.tensor(c), equal_nan=True).numpy(),
                          torch.isclose(torch.tensor(a), torch.tensor(c), equal_nan=True).numpy())
    assert mg.allclose(mg.tensor(b), mg.tensor(b), equal_nan=True) is True
    assert mg.equal(mg.tensor([1, 2]), mg.tensor([1, 2])) and not mg.equal(mg.tensor([1, 2]), mg.tensor([[1, 2]]))
    assert mg.all(mg.tensor(a)).item() and not mg.any(mg.zeros(3)).item()
    assert np.array_equal(mg.count_nonzero(mg.tensor([[1, 0], [2, 3]]), dim=0).numpy(), [2, 1])


def test_sort_topk_values_carry_gradients():
    x = np.random.default_rng(0).standard_normal((3, 5))
    ours, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    dout = np.random.default_rng(1).standard_normal((3, 2))
    for fn in (lambda t, lib: lib.topk(t, 2, dim=1), lambda t, lib: lib.sort(t, dim=1, descending=True)):
        o, t = fn(ours, mg), fn(theirs, torch)
        assert np.array_equal(o.indices.numpy(), t.indices.numpy())
        assert_close(o.values.numpy(), t.values.detach().numpy(), "values", rtol=0, atol=0)
    mg.topk(ours, 2, dim=1).values.backward(dout)
    torch.topk(theirs, 2, dim=1).values.backward(torch.tensor(dout))
    assert_close(ours.grad.numpy(), theirs.grad.numpy(), "topk gradient", rtol=0, atol=0)
    assert np.array_equal(mg.argsort(mg.tensor(x)).numpy(), torch.argsort(torch.tensor(x)).numpy())


def test_histograms_and_counts_match_torch():
    x = np.random.default_rng(0).standard_normal(500).astype(np.float32)
    h, edges = mg.histogram(mg.tensor(x), bins=7, range=(-2.0, 2.0))
    th = torch.histogram(torch.tensor(x), bins=7, range=(-2.0, 2.0))
    assert_close(h.numpy(), th.hist.numpy(), "hist", rtol=0, atol=0)
    assert_close(edges.numpy(), th.bin_edges.numpy(), "edges", rtol=1e-6, atol=1e-6)
    assert_close(mg.histc(mg.tensor(x), bins=5).numpy(), torch.histc(torch.tensor(x), bins=5).numpy(), "histc",
                 rtol=0, atol=0)
    labels = np.array([1, 4, 1, 0, 4, 4])
    assert np.array_equal(mg.bincount(mg.tensor(labels), minlength=7).numpy(),
                          torch.bincount(torch.tensor(labels), minlength=7).numpy())
    values, counts = mg.unique(mg.tensor(labels), return_counts=True)
    assert values.numpy().tolist() == [0, 1, 4] and counts.numpy().tolist() == [1, 2, 3]


@pytest.mark.parametrize("method, args, mean, std", [("normal_", (2.0, 0.5), 2.0, 0.5),
                                                     ("uniform_", (-1.0, 3.0), 1.0, 4 / 12 ** 0.5)])
def test_tensor_normal_and_uniform_fill_in_place_from_a_generator(method, args, mean, std):
    t = mg.empty(200_000)
    alias = t
    assert getattr(t, method)(*args, generator=mg.Generator().manual_seed(5)) is t and alias is t
    assert abs(float(t.mean()) - mean) < 0.02 and abs(float(t.std()) - std) < 0.02
    again = getattr(mg.empty(200_000), method)(*args, generator=mg.Generator().manual_seed(5))
    np.testing.assert_array_equal(again.numpy(), t.numpy())  # the same seed, the same draws
    w = mg.empty(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"{method}: a leaf Variable that requires grad"):
        getattr(w, method)(*args)  # as PyTorch: only under no_grad (what nn.init does)
    with mg.no_grad():
        getattr(w, method)(*args)
