"""Every kernel against the reference Function it replaces (minigrad/kernels vs minigrad/ops and
minigrad/functional): the same inputs, the same random upstream gradient, minigrad reseeded before
each run (dropout draws the same mask), then the kernel again under no_grad (the path it may take
when no backward follows). float64 at rtol = atol = 1e-10, float32 at the usual tolerance.

Both paths are also compared with PyTorch, in every op's own test file (check_op runs both).
Run alone: `pytest tests/test_kernels.py -k attention`.
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import kernels
from minigrad.functional.activation import GeluTanh, Softmax
from minigrad.functional.attention import ScaledDotProductAttention
from minigrad.functional.dropout import Dropout
from minigrad.functional.linear import Im2Col, Linear
from minigrad.functional.normalization import LayerNorm
from minigrad.kernels.attention import MATRICES
from minigrad.kernels.parallel import CHUNK
from minigrad.ops import Add, GetItem, MatMul, PowScalar
from minigrad.kernels import dropout as dropout_kernel
from minigrad.kernels import blas, parallel
from minigrad.testing import DTYPES, check_kernel, random_inputs

from attention_rows import far_apart_rows, overflowing_rows

sdpa = F.scaled_dot_product_attention


def strided_qkv(batch: tuple, t: int, d: int) -> list[np.ndarray]:
    """q, k, v as views into one (..., T, 3d) array, as a fused qkv projection gives them."""
    qkv = np.random.default_rng(3).standard_normal((*batch, t, 3 * d)) * 2
    return list(np.split(qkv, 3, axis=-1))


def nan_row(shape: tuple, row: tuple) -> np.ndarray:
    """N(0, 1) values with one NaN (at `row`, ..., 0): the reference's softmax makes only that row NaN."""
    a = np.random.default_rng(11).standard_normal(shape)
    a[row][..., 0] = np.nan
    return a


def causal(q, k, v):
    return sdpa(q, k, v, is_causal=True)


BOOL_MASK = np.random.default_rng(5).random((3, 6)) < 0.6
BOOL_MASK[:, 0] = True  # every query keeps at least one key

# dW and db sum thousands of float32 products of size ~1: each way of adding them (one BLAS product,
# or per-chunk partial sums) is off by ~eps32 * sqrt(N) * |term| ~ 1e-5, a few of those in the worst element.
LONG_SUM_ATOL = 2e-4

# reference Function -> {case: (function of the inputs, input shapes or arrays, low[, float32 atol])}
CASES = {
    Linear: {
        "batch_3d": (F.linear, [(2, 5, 4), (3, 4), (3,)], None),
        "no_bias": (F.linear, [(5, 4), (3, 4)], None),
        "no_rows": (F.linear, [(0, 4), (3, 4), (3,)], None),
        "no_features": (F.linear, [(2, 0), (3, 0), (3,)], None),
        "no_outputs": (F.linear, [(2, 4), (0, 4), (0,)], None),
        "many_chunks": (F.linear, [(3, 1000, 6), (5, 6), (5,)], None, LONG_SUM_ATOL),
    },
    MatMul: {
        "shared_matrix": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)], None),
        "batched": (lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)], None),
        "broadcast": (lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)], None),
        "vector_matrix": (lambda a, b: a @ b, [(4,), (4, 5)], None),
        "empty_batch": (lambda a, b: a @ b, [(2, 0, 4), (4, 5)], None),
        "empty_inner_dim": (lambda a, b: a @ b, [(2, 3, 0), (0, 5)], None),  # rows = 6 of length 0
        "empty_output": (lambda a, b: a @ b, [(2, 3, 4), (4, 0)], None),
    },
    Im2Col: {
        "patchify": (lambda x, w, b: F.conv2d(x, w, b, stride=2), [(2, 3, 4, 6), (5, 3, 2, 2), (5,)], None),
        "overlapping_padded": (lambda x, w, b: F.conv2d(x, w, b, padding=1), [(1, 2, 5, 5), (3, 2, 3, 3), (3,)], None),
        "kernel_is_stride_not_dividing": (lambda x, w: F.conv2d(x, w, stride=2), [(1, 2, 5, 5), (3, 2, 2, 2)], None),
        "kernel_is_stride_dilated": (lambda x, w: F.conv2d(x, w, stride=2, dilation=2), [(1, 2, 8, 8), (3, 2, 2, 2)], None),
        "same_padding": (lambda x, w: F.conv2d(x, w, padding="same"), [(1, 2, 5, 6), (3, 2, 2, 3)], None),
        "patchify_groups": (lambda x, w: F.conv2d(x, w, stride=2, groups=2), [(2, 4, 4, 6), (6, 2, 2, 2)], None),
        "patchify_unbatched": (lambda x, w: F.conv2d(x, w, stride=2), [(3, 4, 6), (5, 3, 2, 2)], None),
        "patchify_many_chunks": (lambda x, w: F.conv2d(x, w, stride=4),  # 2 images a chunk: copied in 3 chunks
                                 [(5, 2, 256, CHUNK // 1024), (3, 2, 4, 4)], None, LONG_SUM_ATOL),
    },
    Softmax: {
        "last_dim": (lambda x: F.softmax(x, dim=-1), [(3, 5)], None),
        "dim_0": (lambda x: F.softmax(x, dim=0), [(3, 5)], None),
        "rows_far_apart": (lambda x: F.softmax(x, dim=-1), [np.array([[60.0, 59.0, 61.0], [-60.0, -61.0, -59.0]])], None),
        "row_overflowing": (lambda x: F.softmax(x, dim=-1), [np.array([[100.0, 99.0, 101.0], [0.5, 2.0, -1.0]])], None),
        "4d": (lambda x: F.softmax(x, dim=-1), [(2, 3, 4, 5)], None),
        "empty": (lambda x: F.softmax(x, dim=-1), [(0, 5)], None),
        "many_chunks": (lambda x: F.softmax(x, dim=-1), [(3 * CHUNK // 9, 9)], None),
        "empty_last_dim": (lambda x: F.softmax(x, dim=-1), [(3, 0)], None),
        "empty_last_dim_3d": (lambda x: F.softmax(x, dim=-1), [(2, 3, 0)], None),
        "scalar": (lambda x: F.softmax(x, dim=0), [()], None),
        "one_nan_row": (lambda x: F.softmax(x, dim=-1), [nan_row((4, 5), (2,))], None),
        "one_inf_row": (lambda x: F.softmax(x, dim=-1), [np.array([[1.0, np.inf, 0.0], [0.5, 2.0, -1.0]])], None),
    },
    GeluTanh: {
        "matrix": (lambda x: F.gelu(x, approximate="tanh"), [(3, 4)], None),
        "several_chunks": (lambda x: F.gelu(x, approximate="tanh"), [(2 * CHUNK + 5,)], None),
        "strided": (lambda x: F.gelu(x.transpose(0, 1), approximate="tanh"), [(4, 3)], None),
        "scalar": (lambda x: F.gelu(x, approximate="tanh"), [()], None),
        "large_negative": (lambda x: F.gelu(x, approximate="tanh"), [np.array([-60.0, -10.0, 0.0, 10.0, 60.0])], None),
        "empty": (lambda x: F.gelu(x, approximate="tanh"), [(0, 3)], None),
    },
    LayerNorm: {
        "last_dim": (lambda x, w, b: F.layer_norm(x, 4, w, b), [(2, 3, 4), (4,), (4,)], None),
        "last_two_dims": (lambda x, w, b: F.layer_norm(x, (3, 4), w, b), [(2, 3, 4), (3, 4), (3, 4)], None),
        "no_affine": (lambda x: F.layer_norm(x, 4), [(5, 4)], None),
        "no_rows": (lambda x, w, b: F.layer_norm(x, 4, w, b), [(0, 4), (4,), (4,)], None),
        "many_chunks": (lambda x, w, b: F.layer_norm(x, 48, w, b), [(3, CHUNK // 48, 48), (48,), (48,)], None,
                        LONG_SUM_ATOL),  # the ViT's width: its rows per chunk
        "empty_rows": (lambda x, w, b: F.layer_norm(x, 0, w, b), [(2, 3, 0), (0,), (0,)], None),
    },
    Dropout: {
        "p_0.3": (lambda x: F.dropout(x, 0.3), [(6, 7)], None),
        "p_1": (lambda x: F.dropout(x, 1.0), [(3, 4)], None),
        "empty": (lambda x: F.dropout(x, 0.5), [(0, 4)], None),
        "many_chunks": (lambda x: F.dropout(x, 0.1), [(3, CHUNK)], None),  # the mask drawn in parallel too
        "strided": (lambda x: F.dropout(x.transpose(0, 1), 0.2), [(30, 40)], None),
    },
    ScaledDotProductAttention: {
        "self_attention": (sdpa, [(2, 3, 5, 4)] * 3, None),
        "Tq3_Tk6_dv7": (sdpa, [(2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 7)], None),
        "fused_qkv_views": (sdpa, strided_qkv((2, 3), 5, 4), None),
        "inference_chunks": (sdpa, strided_qkv((4 * MATRICES + 5,), 4, 3), None),
        "broadcast_batch": (sdpa, [(4, 3, 8), (4, 4, 6, 8), (4, 4, 6, 8)], None),
        "bool_mask": (lambda q, k, v: sdpa(q, k, v, attn_mask=BOOL_MASK), [(2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4)], None),
        "float_mask_with_grad": (lambda q, k, v, m: sdpa(q, k, v, attn_mask=m),
                                 [(2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4), (2, 1, 3, 6)], None),
        "causal": (causal, [(2, 2, 5, 4)] * 3, None),
        "dropout": (lambda q, k, v: sdpa(q, k, v, dropout_p=0.4), [(2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 5)], None),
        "scale": (lambda q, k, v: sdpa(q, k, v, scale=0.3), [(2, 5, 4)] * 3, None),
        "rows_far_apart": (sdpa, far_apart_rows(), None),
        "row_overflowing": (sdpa, overflowing_rows(), None),
        "empty_batch": (sdpa, [(0, 3, 4)] * 3, None),
        "many_chunks_dropout": (lambda q, k, v: sdpa(q, k, v, dropout_p=0.1), strided_qkv((40, 4), 7, 3), None),
        "causal_many_chunks": (causal, [(70, 6, 3)] * 3, None),
        "mask_over_keys_only": (lambda q, k, v, m: sdpa(q, k, v, attn_mask=m), [(40, 3, 4), (40, 6, 4), (40, 6, 4), (6,)], None),
        "two_dims": (sdpa, [(3, 4), (6, 4), (6, 5)], None),
        "no_queries": (sdpa, [(2, 0, 4), (2, 5, 4), (2, 5, 3)], None),
        "no_keys": (sdpa, [(2, 3, 4), (2, 0, 4), (2, 0, 3)], None),  # out = 0, as the reference (and PyTorch)
        "no_value_features": (sdpa, [(2, 3, 4), (2, 5, 4), (2, 5, 0)], None),
        "mask_with_more_dims_than_q": (lambda q, k, v, m: sdpa(q, k, v, attn_mask=m),
                                       [(2, 3, 4), (2, 5, 4), (2, 5, 4), (1, 1, 3, 5)], None),  # out (1, 2, 3, 4)
        "one_nan_query_row": (sdpa, [nan_row((2, 2, 3, 4), (1, 0, 2)), (2, 2, 5, 4), (2, 2, 5, 4)], None),
    },
    PowScalar: {f"exponent_{c}": (lambda x, c=c: x ** c, [(3, 4)], 0.5) for c in (2.0, 3.0, 0.5, -1.0, 0.0, 1.0, 2.5)},
    Add: {
        "residual_many_chunks": (lambda a, b: a + b, [(3, 200, CHUNK // 200)] * 2, None),
        "small": (lambda a, b: a + b, [(3, 4), (3, 4)], None),
        "broadcast": (lambda a, b: a + b, [(3, 200, 150), (150,)], None),
    },
    GetItem: {
        "qkv_thirds_many_chunks": (lambda x: x[:, :, 40:80] * 2 + x[:, :, :40], [(3 * CHUNK // 600, 5, 120)], None),
        "rows_of_a_large_array": (lambda x: x[:, 0], [(3 * CHUNK // 600, 3, 200)], None),
        "qkv_chunk_many_chunks": (lambda x: (lambda q, k, v: q * 3 + k * 2 + v)(*x.chunk(3, dim=-1)),
                                  [(3 * CHUNK // 600, 5, 120)], None),
        "overlapping_slices": (lambda x: x[1:3] * 2 + x[2:4] - x[0:2, ::-1], [(4, 5)], None),
        "ints_twice": (lambda x: x[1] + x[2] * 3 + x[-1, None][0], [(4, 5)], None),
        "repeated_rows_after_a_slice": (lambda x: x[1:4] * 2 + x[np.array([0, 2, 0])], [(4, 5)], None),
        "basic_slices": (lambda x: x[1:3, ::2], [(4, 5)], None),
        "int_and_none": (lambda x: x[1, None], [(4, 5)], None),
        "repeated_rows": (lambda x: x[np.array([0, 2, 0])], [(4, 5)], None),
        "cls_token": (lambda x: x[:, 0], [(2, 3, 4)], None),
        "tuple_of_repeated_rows": (lambda x: x[(0, 0), :], [(4, 5)], None),  # a tuple inside the index is fancy
        "tuple_of_repeated_cols": (lambda x: x[:, (1, 1)], [(4, 5)], None),
        "tuple_of_repeated_rows_large": (lambda x: x[(0, 2, 0), :], [(300, 400)], None),
        "bool_scalar": (lambda x: x[True], [(4, 5)], None),
        "numpy_ints_and_ellipsis": (lambda x: x[np.int64(1), ..., None], [(4, 5, 3)], None),
        # integer arrays that pick distinct rows (PatchDropout's gather): written, not added up
        "distinct_rows_per_image": (lambda x: x[np.arange(3)[:, None], np.array([[0, 2, 4], [0, 1, 3], [0, 4, 2]])],
                                    [(3, 5, 6)], None),
        "distinct_negative_rows": (lambda x: x[np.array([-1, 0, 2])], [(4, 5)], None),  # -1 is row 3
        "same_row_twice_via_negative": (lambda x: x[np.array([3, -1])], [(4, 5)], None),  # added up: 2 g
        "distinct_rows_of_empty_rows": (lambda x: x[np.array([1, 0])], [(3, 0)], None),
        "int_array_then_slice": (lambda x: x[np.array([1, 1]), 1:], [(4, 5)], None),  # not rows alone: the reference
    },
}
CASE_IDS = [(fn, case) for fn, cases in CASES.items() for case in cases]


def test_every_kernel_has_cases():
    """A new kernel cannot escape these tests."""
    assert set(kernels.registered()) == set(CASES)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("op, case", CASE_IDS, ids=[f"{op.__name__}-{case}" for op, case in CASE_IDS])
def test_kernel_equals_reference(op, case, dtype):
    fn, shapes, low, *atol = CASES[op][case]
    check_kernel(fn, shapes, dtype, low=low, atol=atol[0] if atol and dtype == np.float32 else None)


@pytest.mark.parametrize("reference", [False, True], ids=["kernel", "reference"])
@pytest.mark.parametrize("c", [-1.0, 0.5, 2.0, 2.5, 3.0])
def test_pow_scalar_keeps_a_0d_float32_float32(c, reference):
    """NumPy 1.26 (the declared floor) makes 1 / a and np.float32(c) - 1 float64 for a 0-d float32 a
    (its value-based promotion treats a 0-d array as a scalar); both modes keep float32, as PyTorch."""
    import contextlib

    import torch

    x = mg.Tensor(np.array(1.5, dtype=np.float32), requires_grad=True)
    with mg.reference() if reference else contextlib.nullcontext():
        y = x ** c
        y.backward(np.array(1.0, dtype=np.float32))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    t = torch.tensor(1.5, dtype=torch.float32, requires_grad=True)
    (t ** c).backward()
    np.testing.assert_allclose(y.numpy(), (t ** c).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6)


def test_kernel_runs_by_default_and_reference_mode_turns_it_off():
    x = mg.Tensor(np.ones((2, 3)), requires_grad=True)
    assert F.softmax(x, dim=-1).grad_fn.impl is kernels.registered()[Softmax]
    with mg.reference():
        assert mg.is_reference_mode()
        assert F.softmax(x, dim=-1).grad_fn.impl is Softmax
    assert not mg.is_reference_mode()


def test_a_graph_recorded_with_kernels_goes_back_through_them_even_in_reference_mode():
    x = mg.Tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    y = F.gelu(x, approximate="tanh")
    with mg.reference():
        y.backward(np.ones((2, 3)))  # the kernel saved its own state: its backward reads it
    expected = mg.Tensor(x.numpy(), requires_grad=True)
    with mg.reference():
        F.gelu(expected, approximate="tanh").backward(np.ones((2, 3)))
    np.testing.assert_allclose(x.grad, expected.grad, rtol=1e-12)


def test_reference_mode_is_per_thread():
    import threading

    seen = []
    with mg.reference():
        worker = threading.Thread(target=lambda: seen.append(mg.is_reference_mode()))
        worker.start()
        worker.join()
    assert seen == [False]


# -- the thread pool: the same bits on any number of threads ----------------------------------------

MANY_CHUNKS = [(op, case) for op, case in CASE_IDS if "chunks" in case or case == "several_chunks"]


@pytest.fixture
def threads():
    """set_num_threads for one test, then back to what it was."""
    before = mg.get_num_threads()
    yield mg.set_num_threads
    mg.set_num_threads(before)


def run_with_grads(fn, shapes, seed=0):
    arrays = random_inputs(shapes, np.float32, seed)
    leaves = [mg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    mg.manual_seed(seed)
    out = fn(*leaves)
    out.backward(np.random.default_rng(seed + 1).standard_normal(out.shape).astype(np.float32))
    return [out.numpy()] + [t.grad for t in leaves]


@pytest.mark.parametrize("op, case", MANY_CHUNKS, ids=[f"{op.__name__}-{case}" for op, case in MANY_CHUNKS])
def test_kernel_gives_the_same_bits_on_1_2_and_3_threads(op, case, threads):
    fn, shapes, *_ = CASES[op][case]
    runs = []
    for n in (1, 2, 3):
        threads(n)
        runs.append(run_with_grads(fn, shapes))
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("op, case", MANY_CHUNKS, ids=[f"{op.__name__}-{case}" for op, case in MANY_CHUNKS])
def test_many_chunks_cases_run_in_several_chunks(op, case, monkeypatch):
    """Each case above that is meant to cross chunk boundaries does (its shape follows the chunk sizes)."""
    fn, shapes, *_ = CASES[op][case]
    counts, original = [], parallel.chunks
    monkeypatch.setattr(parallel, "chunks", lambda n, grain: counts.append(len(original(n, grain))) or original(n, grain))
    run_with_grads(fn, shapes)
    assert max(counts, default=0) >= 2, counts


def test_a_failing_chunk_raises_in_the_caller_and_the_pool_stays_usable(threads):
    threads(2)

    def body(c):
        if c.start == 30:
            raise ZeroDivisionError("chunk 3")
        return c.stop - c.start

    with pytest.raises(ZeroDivisionError, match="chunk 3"):
        parallel.for_each_chunk(100, 10, body)
    assert parallel.for_each_chunk(100, 10, lambda c: c.start) == list(range(0, 100, 10))


def test_chunks_depend_on_the_size_only():
    assert parallel.chunks(10, 4) == [slice(0, 4), slice(4, 7), slice(7, 10)]  # equal, give or take one
    assert parallel.chunks(12, 4) == [slice(0, 4), slice(4, 8), slice(8, 12)]
    assert parallel.chunks(3, 10) == [slice(0, 3)]
    assert parallel.chunks(0, 4) == []
    assert len(parallel.chunks(10**6, 1)) == parallel.MAX_CHUNKS


def test_nested_and_concurrent_calls_run_inline_with_the_same_results(threads):
    import threading

    threads(2)
    inner = lambda c: sum(parallel.for_each_chunk(c.stop - c.start, 3, lambda d: d.stop - d.start))  # noqa: E731
    assert parallel.for_each_chunk(40, 10, inner) == [10, 10, 10, 10]
    results = []
    workers = [threading.Thread(target=lambda: results.append(parallel.for_each_chunk(50, 5, lambda c: c.start)))
               for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert results == [list(range(0, 50, 5))] * 4


def test_blas_runs_on_one_thread_while_the_pool_lives_and_the_users_count_comes_back(threads):
    """OpenBLAS's count is process-wide: 1 in every chunk (on the pool, inline, concurrent callers)
    and, while the pool lives, outside them too (OpenBLAS's own threads would spin on the pool's
    cores); the count from before once the pool stops and no chunk runs. (NumPy's wheels bundle
    OpenBLAS on every platform.)"""
    import threading

    get, set_ = blas._openblas()
    before = get()
    try:
        threads(1)  # no pool
        set_(2)  # what a 2-core machine chooses, even on a 1-core CI runner
        assert parallel.for_each_chunk(3, 1, lambda c: get()) == [1] * 3  # inline: 1 inside...
        assert get() == 2  # ...and the count back after
        for n in (2, 3):
            threads(n)
            assert {count for count in parallel.for_each_chunk(12, 1, lambda c: get())} == {1}, n
            assert get() == 1, f"{n} threads: the pool lives, BLAS stays on one thread"
        inside, leave = threading.Event(), threading.Event()
        threads(1)
        assert get() == 2, "the pool stopped: the count comes back"
        holder = threading.Thread(target=lambda: parallel.for_each_chunk(1, 1, lambda c: (inside.set(), leave.wait())))
        holder.start()
        inside.wait()
        assert parallel.for_each_chunk(4, 1, lambda c: get()) == [1] * 4  # another caller comes and goes...
        assert get() == 1  # ...and the holder's chunk still runs on one BLAS thread
        leave.set()
        holder.join()
        assert get() == 2
    finally:
        set_(before)


FAULTS_AFTER = """
import resource, sys, numpy as np, minigrad as mg, minigrad.functional as F
x = mg.randn(300, 1000)
if sys.argv[1] == "kernel":
    F.gelu(x, approximate="tanh")  # a kernel op: its chunks run through parallel.for_each_chunk
elif sys.argv[1] == "reference":
    with mg.reference():
        F.gelu(x, approximate="tanh")
n = (3 << 20) // 4  # 3 MiB of float32: above malloc's first mmap threshold, below NumPy's huge-page one
a = np.ones(n, np.float32); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    a = np.ones(n, np.float32); del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
@pytest.mark.parametrize("before, env, kept", [
    ("kernel", {}, True),
    ("nothing", {}, False),  # importing minigrad leaves malloc alone
    ("reference", {}, False),  # so does reference mode, which runs no kernel
    ("kernel", {"MINIGRAD_KEEP_FREED_MEMORY": "0"}, False),
    ("kernel", {"MALLOC_TRIM_THRESHOLD_": "131072"}, False),  # glibc's default, set by the user: theirs
    ("kernel", {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}, False),
])
def test_the_first_kernel_op_makes_malloc_keep_freed_memory(before, env, kept):
    """After a kernel op, freeing and allocating the same 3 MiB array again costs no page faults: malloc
    keeps the freed pages. Left alone, glibc hands them back, and a later array faults in 768 new 4 KiB
    pages: once (its dynamic threshold then keeps them) or every time (thresholds the user set)."""
    import subprocess

    ours = ("MINIGRAD_KEEP_FREED_MEMORY", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")
    env = ({k: v for k, v in os.environ.items() if k not in ours}  # the case's own settings only
           | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])} | env)
    done = subprocess.run([sys.executable, "-c", FAULTS_AFTER, before], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    faults = int(done.stdout)
    assert (faults < 100) if kept else (faults > 500), f"{faults} page faults"


def test_set_num_threads_is_checked():
    with pytest.raises(ValueError, match="set_num_threads: n must be a positive integer, got 0"):
        mg.set_num_threads(0)


PARALLEL_DRAW = 4 * dropout_kernel.WORDS + 1  # the fewest elements draw_keep splits across the cores


@pytest.mark.parametrize("shape, p", [((300, 400), 0.1), ((7, 99999), 0.5), ((64, 4, 65, 65), 0.25), ((3,), 0.1),
                                      ((PARALLEL_DRAW,), 0.3), ((3, PARALLEL_DRAW), 0.5)])
@pytest.mark.parametrize("odd_float32_draws", [0, 3], ids=["fresh", "half_word_kept"])
def test_parallel_mask_draw_gives_the_masks_dropout_keep_draws(shape, p, odd_float32_draws, threads):
    """The kernels' masks, drawn on every core by jumping ahead in the generator, are the reference's
    bit for bit, and leave the generator where the reference's one draw leaves it, including the
    32-bit half-word an odd number of float32 draws keeps (PCG64.advance drops it)."""
    from minigrad.functional.dropout import dropout_keep
    from minigrad.kernels.dropout import draw_keep

    threads(2)
    runs = []
    for draw in (dropout_keep, draw_keep):
        mg.manual_seed(3)
        mg.random.default_generator().random(odd_float32_draws, dtype=np.float32)
        keep = draw(shape, p)
        state = mg.random.get_rng_state()
        runs.append((keep, state, mg.random.default_generator().random(5, dtype=np.float32)))
    (keep, after, then), (drawn, drawn_after, drawn_then) = runs
    assert drawn_after == after
    np.testing.assert_array_equal(drawn_then, then)  # the draws after it are the same too
    assert drawn.dtype == np.bool_ and drawn.shape == shape
    np.testing.assert_array_equal(drawn, keep)


def test_a_large_mask_is_drawn_in_parallel_chunks(monkeypatch):
    """PARALLEL_DRAW elements take draw_keep's own path (the test above is not dropout_keep against itself)."""
    seen = []
    monkeypatch.setattr(dropout_kernel, "dropout_keep", lambda *args: pytest.fail("dropout_keep was called"))
    monkeypatch.setattr(dropout_kernel, "for_each_chunk",
                        lambda n, grain, body: seen.append(n) or parallel.for_each_chunk(n, grain, body))
    dropout_kernel.draw_keep((PARALLEL_DRAW,), 0.3)
    assert seen == [(PARALLEL_DRAW + 3) // 4]


def test_each_shared_kernel_helper_is_defined_once():
    """One CHUNK, one sum_in_order (in kernels/parallel.py), one dropout threshold (the reference's);
    and nothing left of the removed DataParallel's BLAS budget."""
    import importlib

    from minigrad.kernels import activation, attention, elementwise, linear, normalization

    reference_dropout = importlib.import_module("minigrad.functional.dropout")  # (F.dropout is the function)

    for module in (activation, attention, dropout_kernel, elementwise, linear, normalization):
        assert getattr(module, "CHUNK", parallel.CHUNK) is parallel.CHUNK, module.__name__
    for module in (attention, linear, normalization):
        assert module.sum_in_order is parallel.sum_in_order, module.__name__
    assert dropout_kernel.keep_threshold is reference_dropout.keep_threshold
    assert not hasattr(blas, "blas_threads") and not hasattr(blas, "blas_threads_per_worker")


# -- a backward that says its gradients are new arrays ----------------------------------------------
