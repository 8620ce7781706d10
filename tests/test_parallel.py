"""Data parallelism: splitting a batch across threads must give the gradient of the whole batch."""
import threading

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import nn
from minigrad.nn.parallel import DataParallel
from minigrad.random import default_generator, fork_rng
from minigrad.testing import assert_close


def make_mlp(dropout: float = 0.0) -> nn.Module:
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.GELU("tanh"), nn.Dropout(dropout), nn.Linear(16, 4)).double()


def loss_fn(model, x, y):
    return F.cross_entropy(model(mg.Tensor(x)), y)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("batch", [12, 13])  # 13: shards of unequal size must be weighted by size
def test_data_parallel_gradient_equals_whole_batch_gradient(workers, batch):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((batch, 6)), rng.integers(0, 4, batch)
    model = make_mlp()
    whole = loss_fn(model, x, y)
    whole.backward()
    expected = {name: p.grad.copy() for name, p in model.named_parameters()}
    model.zero_grad()
    loss = DataParallel(model, workers).forward_backward(loss_fn, x, y)
    assert loss == pytest.approx(whole.item(), rel=1e-12)
    for name, p in model.named_parameters():
        assert_close(p.grad, expected[name], f"gradient of {name}", rtol=1e-10, atol=1e-12, reference="whole batch")


def test_replicas_share_parameters_so_optimizer_updates_reach_them():
    model = make_mlp()
    dp = DataParallel(model, workers=2)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 6)), rng.integers(0, 4, 8)
    dp.forward_backward(loss_fn, x, y)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    opt.step()
    replica = dp._replicas[0]
    for p, rp in zip(model.parameters(), replica.parameters()):
        assert rp.data is p.data and rp.grad is None


def test_data_parallel_with_dropout_is_reproducible_under_a_seed():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 6)), rng.integers(0, 4, 16)
    grads = []
    for _ in range(2):
        model = make_mlp(dropout=0.5)
        mg.manual_seed(7)
        DataParallel(model, workers=2).forward_backward(loss_fn, x, y)
        grads.append([p.grad.copy() for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_predict_equals_one_forward():
    model = make_mlp()
    x = np.random.default_rng(3).standard_normal((9, 6))
    with mg.no_grad():
        expected = model(mg.Tensor(x)).data
    got = DataParallel(model, workers=2).predict(lambda m, s: m(mg.Tensor(s)).data, x)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("micro_batch", [None, 1, 4, 64])
def test_predict_in_micro_batches_covers_every_row_in_order(workers, micro_batch):
    """Each worker runs its shard micro_batch rows at a time (4 does not divide the shards of 9 or 23)."""
    model = make_mlp()
    for n in (9, 23):
        x = np.random.default_rng(n).standard_normal((n, 6))
        with mg.no_grad():
            expected = model(mg.Tensor(x)).data
        sizes = []
        got = DataParallel(model, workers).predict(lambda m, s: sizes.append(len(s)) or m(mg.Tensor(s)).data, x,
                                                   micro_batch=micro_batch)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        assert sum(sizes) == n and max(sizes) <= (micro_batch or n)


@pytest.mark.parametrize("micro_batch", [0, -3, 2.5])
def test_predict_rejects_a_bad_micro_batch(micro_batch):
    with pytest.raises(ValueError, match=f"DataParallel.predict: micro_batch must be a positive integer or None, got {micro_batch}"):
        DataParallel(make_mlp(), 1).predict(lambda m, s: s, np.zeros((3, 6)), micro_batch=micro_batch)


def test_grad_mode_is_per_thread():
    seen = {}

    def worker():
        seen["worker"] = mg.is_grad_enabled()

    with mg.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        seen["main"] = mg.is_grad_enabled()
    assert seen == {"worker": True, "main": False}
    assert mg.is_grad_enabled()


def test_fork_rng_gives_a_thread_its_own_stream_and_restores():
    before = default_generator()
    with fork_rng(5) as g:
        assert default_generator() is g
        a = g.random(3)
    assert default_generator() is before
    np.testing.assert_array_equal(a, np.random.default_rng(5).random(3))


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        DataParallel(make_mlp(), workers=0)
