"""interpolate (nearest, nearest-exact, linear, bilinear, trilinear) against torch.nn.functional.interpolate.

Run alone: `pytest tests/test_interpolate.py`, one mode: `-k bilinear`, one case: `-k scale_1.7`.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minigrad as mg
import minigrad.functional as F
from minigrad.functional.interpolate import linear_matrix, nearest_index
from minigrad.testing import DTYPES, check_op, random_inputs

DTYPE_IDS = ["f64", "f32"]
# name -> (input shape, size / scale_factor arguments); every case runs in each mode that fits its ndim
CASES = {
    # 4-d (N, C, H, W)
    "up_size_13x11": ((2, 3, 5, 4), dict(size=(13, 11))),
    "down_size_4x3": ((2, 3, 9, 7), dict(size=(4, 3))),
    "mixed_size_3x10": ((1, 2, 6, 4), dict(size=(3, 10))),
    "int_size_6": ((1, 2, 4, 5), dict(size=6)),
    "same_size": ((1, 2, 4, 5), dict(size=(4, 5))),
    "scale_2": ((2, 3, 4, 3), dict(scale_factor=2)),
    "scale_0.5": ((2, 3, 8, 6), dict(scale_factor=0.5)),
    "scale_1.7": ((2, 3, 5, 4), dict(scale_factor=1.7)),
    "scale_1.7_recompute": ((2, 3, 5, 4), dict(scale_factor=1.7, recompute_scale_factor=True)),
    "scale_1.7_no_recompute": ((2, 3, 5, 4), dict(scale_factor=1.7, recompute_scale_factor=False)),
    "scale_0.6": ((2, 3, 9, 7), dict(scale_factor=0.6)),
    "scale_0.6_recompute": ((2, 3, 9, 7), dict(scale_factor=0.6, recompute_scale_factor=True)),
    "scale_per_dim_1.5_0.6": ((1, 2, 5, 8), dict(scale_factor=(1.5, 0.6))),
    "scale_per_dim_recompute": ((1, 2, 5, 8), dict(scale_factor=[2.3, 0.45], recompute_scale_factor=True)),
    "to_size_1": ((2, 2, 5, 4), dict(size=(1, 3))),
    "from_size_1": ((2, 2, 1, 5), dict(size=(4, 3))),
    "size_1_to_1": ((2, 2, 1, 3), dict(size=(1, 7))),
    "large_out_70x65": ((1, 2, 9, 8), dict(size=(70, 65))),  # out_h + out_w > 128: PyTorch's generic kernel
    # 3-d (N, C, W)
    "1d_up_size_12": ((2, 3, 7), dict(size=12)),
    "1d_down_size_3": ((2, 3, 8), dict(size=(3,))),
    "1d_scale_1.7": ((2, 3, 6), dict(scale_factor=1.7)),
    "1d_scale_0.6_recompute": ((2, 3, 9), dict(scale_factor=0.6, recompute_scale_factor=True)),
    "1d_from_width_1": ((2, 3, 1), dict(size=5)),
    "1d_to_width_1": ((2, 3, 6), dict(size=1)),
    # 5-d (N, C, D, H, W)
    "3d_size_5x2x7": ((1, 2, 3, 4, 5), dict(size=(5, 2, 7))),
    "3d_scale_1.5": ((1, 2, 2, 3, 4), dict(scale_factor=1.5)),
    "3d_scale_per_dim_0.6": ((1, 2, 5, 4, 3), dict(scale_factor=(0.6, 1.7, 2))),
}
LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}


def _runs():
    """(case, mode, align_corners): both nearest modes, and the ndim's linear mode with None/False/True."""
    for case, (shape, _) in CASES.items():
        yield case, "nearest", None
        yield case, "nearest-exact", None
        for align_corners in (None, False, True):
            yield case, LINEAR[len(shape)], align_corners


RUNS = list(_runs())
RUN_IDS = [f"{mode}-{case}-align_{ac}" for case, mode, ac in RUNS]


def _kwargs(case, mode, align_corners):
    kwargs = dict(CASES[case][1], mode=mode)
    if align_corners is not None:
        kwargs["align_corners"] = align_corners
    return kwargs


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case, mode, align_corners", RUNS, ids=RUN_IDS)
def test_interpolate_matches_torch(case, mode, align_corners, dtype):
    kwargs = _kwargs(case, mode, align_corners)
    check_op(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), [CASES[case][0]], dtype)


GRADCHECK = {
    "nearest_up_scale_1.7": ((1, 2, 3, 4), dict(scale_factor=1.7, mode="nearest")),
    "nearest_exact_down": ((1, 2, 7, 6), dict(size=(3, 4), mode="nearest-exact")),
    "linear_scale_0.6": ((2, 2, 9), dict(scale_factor=0.6, mode="linear")),
    "bilinear_up": ((1, 2, 3, 4), dict(size=(7, 5), mode="bilinear")),
    "bilinear_align_corners_down": ((1, 2, 6, 5), dict(size=(4, 3), mode="bilinear", align_corners=True)),
    "trilinear_scale_1.5": ((1, 1, 2, 3, 2), dict(scale_factor=1.5, mode="trilinear")),
}


@pytest.mark.parametrize("case", GRADCHECK)
def test_interpolate_gradcheck(case):
    shape, kwargs = GRADCHECK[case]
    x = mg.Tensor(random_inputs([shape], np.float64)[0], requires_grad=True)
    assert mg.gradcheck(lambda x: F.interpolate(x, **kwargs), [x])


def test_vit_tutorial_attention_upsampling():
    """The tutorial's figure: (10, 8, 8) [CLS] attention maps resized to the 32x32 image."""
    def ours(a):
        return F.interpolate(a.unsqueeze(1), size=(32, 32), mode="bilinear", align_corners=False).squeeze(1)

    def theirs(a):
        return TF.interpolate(a.unsqueeze(1), size=(32, 32), mode="bilinear", align_corners=False).squeeze(1)

    maps = np.random.default_rng(0).random((10, 8, 8)).astype(np.float32)  # attention is in [0, 1]
    check_op(ours, theirs, inputs=[maps])
    check_op(ours, theirs, inputs=[maps.astype(np.float64)])


# -- the coordinate rules, one axis at a time ------------------------------------------------------


def test_scale_factor_is_used_as_given_unless_recomputed():
    """size 5 * 1.7 -> 8 outputs: the coordinates step by 1/1.7, or by 5/8 once recomputed."""
    x = np.arange(5.0)[None, None]  # (1, 1, 5): values are the source coordinates
    given = F.interpolate(mg.Tensor(x), scale_factor=1.7, mode="linear").numpy().ravel()
    recomputed = F.interpolate(mg.Tensor(x), scale_factor=1.7, mode="linear", recompute_scale_factor=True).numpy()
    dst = np.arange(8)
    np.testing.assert_allclose(given, np.clip((dst + 0.5) / 1.7 - 0.5, 0, 4), rtol=1e-12)
    np.testing.assert_allclose(recomputed.ravel(), np.clip((dst + 0.5) * 5 / 8 - 0.5, 0, 4), rtol=1e-12)


def test_linear_matrix_rows_hold_one_minus_frac_and_frac():
    R = linear_matrix(3, 5, None, False, np.dtype(np.float64))  # src = (o + 0.5) * 3/5 - 0.5
    expected = np.array([[1, 0, 0], [0.6, 0.4, 0], [0, 1, 0], [0, 0.4, 0.6], [0, 0, 1]])
    np.testing.assert_allclose(R, expected, atol=1e-15)  # row 0: src = -0.2 clamps to 0; row 4: 2.2 -> 2
    assert linear_matrix(4, 7, None, False, np.dtype(np.float32)).dtype == np.float32
    R = linear_matrix(3, 5, None, True, np.dtype(np.float64))  # align_corners: src = o * 2/4
    np.testing.assert_allclose(R, [[1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0.5, 0.5], [0, 0, 1]], atol=1e-15)


def test_nearest_index_floors_and_clamps():
    def index(*args):
        return nearest_index(*args, coord=np.float64, shortcuts=False)

    np.testing.assert_array_equal(index(3, 5, None, False), [0, 0, 1, 1, 2])  # floor(o * 0.6)
    np.testing.assert_array_equal(index(3, 5, None, True), [0, 0, 1, 2, 2])  # floor((o + 0.5) * 0.6)
    np.testing.assert_array_equal(index(4, 3, 0.6, True), [0, 2, 3])  # floor(2.5 / 0.6) = 4 clamps to in - 1
    np.testing.assert_array_equal(index(10, 10, 1.05, False), [0, 0, 1, 2, 3, 4, 5, 6, 7, 8])  # floor(o / 1.05)
    shortcut = nearest_index(10, 10, 1.05, False, coord=np.float32, shortcuts=True)  # nearest_idx: out == in
    np.testing.assert_array_equal(shortcut, np.arange(10))


def _pixels(width: int, ndim: int, dtype) -> np.ndarray:
    """(1, 1, width) or (1, 1, width, 4): the value of a pixel is its index along the first spatial axis."""
    x = np.arange(width, dtype=dtype)[None, None]  # (1, 1, width)
    return x if ndim == 3 else np.repeat(x[..., None], 4, axis=-1)  # (1, 1, width, 4)


def _same_pixels_as_torch(x: np.ndarray, **kwargs) -> None:
    got = F.interpolate(mg.Tensor(x), **kwargs).numpy()
    np.testing.assert_array_equal(got, TF.interpolate(torch.from_numpy(x), **kwargs).numpy(),
                                  err_msg=f"input of shape {x.shape}, {kwargs}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("ndim", [3, 4])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_picks_the_same_pixels_as_torch_for_many_sizes(mode, ndim, dtype):
    """Every output reads the same source pixel, for all sizes 1..12 -> 1..29 and many scale factors."""
    for n in range(1, 13):
        x = _pixels(n, ndim, dtype)
        calls = [dict(size=m) for m in range(1, 30)] + [
            dict(scale_factor=s, recompute_scale_factor=r) for s in (0.3, 0.6, 0.7, 1.05, 1.3, 1.7, 2.05, 2.5, 3.3)
            for r in (False, True) if int(n * s) >= 1]
        for kw in calls:
            if ndim == 4:  # the second axis: 4 -> 3 pixels, or * the same scale_factor
                kw = {k: (v, 3) if k == "size" else (v, v) if k == "scale_factor" else v for k, v in kw.items()}
            _same_pixels_as_torch(x, mode=mode, **kw)


@pytest.mark.parametrize("width, size, mode, ndim", [
    (3, 147, "nearest", 3), (2, 49, "nearest-exact", 3), (6, 47, "nearest-exact", 3),  # float64 scale
    (2, 41, "nearest-exact", 4), (6, 37, "nearest-exact", 4),  # a 4-d output <= 128: float32 scale
])
def test_nearest_rounds_like_torch_in_float64(width, size, mode, ndim):
    """3 -> 147 (3-d): output 49 reads 49 * (3/147) = 0.99999999999999989 in float64, which PyTorch floors with
    floorf, in float32, where it is 1.0: pixel 1. 2 -> 41 (4-d, small output): PyTorch's kernel takes the scale
    2/41 in float32 (nearest_exact_idx), so output 20 reads floor(20.5 * float32(2/41)) = floor(0.99999994) = 0."""
    x = _pixels(width, ndim, np.float64)
    _same_pixels_as_torch(x, size=size if ndim == 3 else (size, 2), mode=mode)


@pytest.mark.parametrize("scale_factor", [1.05, 2.05])
def test_nearest_gradient_follows_the_forward_where_torch_backward_does_not(scale_factor):
    """10 * 1.05 -> 10 and 10 * 2.05 -> 20 outputs, 3-d: PyTorch's forward (its generic kernel) reads
    floor(o / scale_factor), but its backward (nearest_idx in UpSample.h) takes the out == in and out == 2 * in
    shortcuts and sends the gradient to o or o // 2 instead. Ours is the true gradient of the forward.
    """
    x = random_inputs([(1, 2, 10)], np.float64)[0]
    _same_pixels_as_torch(x, scale_factor=scale_factor, mode="nearest")
    assert mg.gradcheck(lambda t: F.interpolate(t, scale_factor=scale_factor, mode="nearest"),
                        [mg.Tensor(x, requires_grad=True)])


def test_nearest_4d_takes_torchs_shortcuts_for_small_outputs_only():
    """4-d, out_h + out_w <= 128: PyTorch's forward and backward both call nearest_idx, shortcuts included
    (10 * 1.05 -> 10 is a copy, 10 * 2.05 -> 20 reads o // 2); a larger output goes to the generic kernel."""
    kwargs = dict(scale_factor=(1.05, 2.05), mode="nearest")
    check_op(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), [(1, 2, 10, 10)])
    large = dict(scale_factor=(1.05, 13.0), mode="nearest")  # (10, 10) -> (10, 130): 140 > 128
    x = random_inputs([(1, 2, 10, 10)], np.float64)[0]
    _same_pixels_as_torch(x, **large)
    assert not np.array_equal(F.interpolate(mg.Tensor(x), **large).numpy()[:, :, :, ::13], x)  # no copy of the rows
    assert mg.gradcheck(lambda t: F.interpolate(t, **large), [mg.Tensor(x, requires_grad=True)])


def test_linear_copies_when_the_size_does_not_change():
    """10 * 1.05 -> 10 outputs: PyTorch copies the input (compute_source_index_and_lambda), whatever 1/1.05 says."""
    check_op(lambda x: F.interpolate(x, scale_factor=1.05, mode="linear"),
             lambda x: TF.interpolate(x, scale_factor=1.05, mode="linear"), [(2, 3, 10)])


# -- dtypes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_keeps_uint8_like_torch(mode):
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 5, 4), dtype=np.uint8)
    got = F.interpolate(mg.Tensor(x), size=(7, 3), mode=mode)
    expected = TF.interpolate(torch.from_numpy(x), size=(7, 3), mode=mode).numpy()
    assert got.dtype == np.uint8 and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_integer_input_is_refused(mode):
    """PyTorch: '"compute_indices_weights_nearest" not implemented for 'Long'' (linear modes: also uint8)."""
    with pytest.raises(TypeError, match=rf'interpolate: mode="{mode}" needs a floating-point .*got dtype int64'):
        F.interpolate(mg.Tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), size=8, mode=mode)
    with pytest.raises(TypeError, match=r'interpolate: mode="bilinear" needs a floating-point input, got dtype uint8'):
        F.interpolate(mg.Tensor(np.zeros((1, 1, 4, 4), dtype=np.uint8)), size=8, mode="bilinear")


# -- errors: each names interpolate, the argument and the shapes ---------------------------------------------

X3, X4 = (2, 3, 8), (2, 3, 8, 8)
ERRORS = {
    "bicubic": (X4, dict(size=4, mode="bicubic"), NotImplementedError,
                r'interpolate: mode="bicubic" is not supported \(supported: nearest, nearest-exact, linear'),
    "area": (X4, dict(size=4, mode="area"), NotImplementedError, r'interpolate: mode="area" is not supported'),
    "unknown_mode": (X4, dict(size=4, mode="cubic"), ValueError,
                     r"interpolate: mode='cubic' is not an interpolation mode \(supported: nearest"),
    "antialias_bilinear": (X4, dict(size=4, mode="bilinear", antialias=True), NotImplementedError,
                           r"interpolate: antialias=True is not supported"),
    "antialias_nearest": (X4, dict(size=4, antialias=True), ValueError,
                          r'interpolate: antialias=True is restricted to mode "bilinear" or "bicubic" with a 4-d '
                          r'input, got mode="nearest" and an input of shape \(2, 3, 8, 8\)'),
    "align_corners_nearest": (X4, dict(size=4, align_corners=False), ValueError,
                              r"interpolate: align_corners can only be set with the interpolating modes linear \| "
                              r'bilinear \| bicubic \| trilinear, not with mode="nearest"'),
    "align_corners_nearest_exact": (X4, dict(size=4, mode="nearest-exact", align_corners=True), ValueError,
                                    r'interpolate: align_corners .* not with mode="nearest-exact"'),
    "bilinear_on_3d": (X3, dict(size=4, mode="bilinear"), ValueError,
                       r'interpolate: mode="bilinear" needs a 4-d input \(N, C, H, W\), got shape \(2, 3, 8\) '
                       r'\(for a 3-d input use mode="linear"\)'),
    "linear_on_4d": (X4, dict(size=4, mode="linear"), ValueError,
                     r'interpolate: mode="linear" needs a 3-d input \(N, C, W\), got shape \(2, 3, 8, 8\)'),
    "trilinear_on_4d": (X4, dict(size=4, mode="trilinear"), ValueError,
                        r'interpolate: mode="trilinear" needs a 5-d input \(N, C, D, H, W\), got shape \(2, 3, 8, 8\)'),
    "2d_input": ((3, 8), dict(size=4), ValueError,
                 r"interpolate: input must be 3-d \(N, C, W\), 4-d \(N, C, H, W\) or 5-d \(N, C, D, H, W\), "
                 r"got shape \(3, 8\)"),
    "size_and_scale_factor": (X4, dict(size=4, scale_factor=2), ValueError,
                              r"interpolate: give only one of size and scale_factor, got size=4 and scale_factor=2"),
    "neither": (X4, dict(), ValueError, r"interpolate: give either size or scale_factor \(both are None\)"),
    "size_wrong_dims": (X4, dict(size=(4, 4, 4)), ValueError,
                        r"interpolate: size=\(4, 4, 4\) has 3 dims, but the input of shape \(2, 3, 8, 8\) has 2 "
                        r"spatial dims \(8, 8\)"),
    "scale_factor_wrong_dims": (X3, dict(scale_factor=(2, 2)), ValueError,
                                r"interpolate: scale_factor=\(2, 2\) has 2 dims, but the input of shape \(2, 3, 8\) "
                                r"has 1 spatial dims \(8,\)"),
    "size_not_int": (X4, dict(size=(4.5, 4)), TypeError,
                     r"interpolate: size must be an int or a tuple of ints, got size=\(4.5, 4\)"),
    "recompute_with_size": (X4, dict(size=4, recompute_scale_factor=True), ValueError,
                            r"interpolate: recompute_scale_factor=True is not meaningful with an explicit size"),
    "output_size_0": (X4, dict(scale_factor=0.1), ValueError,
                      r"interpolate: input and output sizes must be greater than 0, but got input of shape "
                      r"\(2, 3, 8, 8\) and output size \(0, 0\)"),
    "empty_input": ((2, 3, 0, 8), dict(size=4), ValueError,
                    r"interpolate: input and output sizes must be greater than 0, but got input of shape "
                    r"\(2, 3, 0, 8\)"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_interpolate_errors_name_the_argument(case):
    shape, kwargs, error, message = ERRORS[case]
    with pytest.raises(error, match=message):
        F.interpolate(mg.Tensor(np.zeros(shape)), **kwargs)
