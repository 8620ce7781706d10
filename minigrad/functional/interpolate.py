"""interpolate: resize the spatial dims of (N, C, W), (N, C, H, W) or (N, C, D, H, W), as PyTorch does.

Every mode works one spatial axis at a time, and the axes are independent:

- linear modes ("linear", "bilinear", "trilinear"): along an axis of size n -> m the op is an (m, n)
  matrix R whose row o holds the weights (1 - frac, frac) at the two source pixels of output o. For one
  image that is out = Ry @ x @ Rx^T, linear in x.
- nearest modes ("nearest", "nearest-exact"): along an axis each output reads one source pixel (a
  gather, np.take); several outputs can read the same pixel.

Where an output pixel reads from follows PyTorch's aten/src/ATen/native/UpSample.h (compute_scales_value,
area_pixel_compute_scale, area_pixel_compute_source_index, compute_source_index_and_lambda) and the CPU
kernels in aten/src/ATen/native/cpu/UpSampleKernel.cpp (HelperInterpLinear, HelperInterpNearest[Exact]).
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from minigrad.ops.elementwise import tensor_inputs
from minigrad.engine import Context, Function
from minigrad.tensor import Tensor

LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5}  # mode -> the ndim of its input
NEAREST_MODES = ("nearest", "nearest-exact")  # any of 3-d, 4-d, 5-d
SUPPORTED = "nearest, nearest-exact, linear, bilinear, trilinear"
NOT_IMPLEMENTED = ("bicubic", "area", "lanczos")  # PyTorch modes minigrad refuses
LAYOUTS = {3: "(N, C, W)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}

# -- where each output pixel reads from, along one axis ----------------------------------------------


def _coordinate_dtype(dtype: np.dtype) -> type:
    """PyTorch computes coordinates in the input's float type (float64 or float32; float32 for uint8)."""
    return np.float64 if dtype == np.float64 else np.float32


def source_scale(in_size: int, out_size: int, scale_factor: float | None, align_corners: bool,
                 dtype: type) -> np.floating:
    """Source pixels per output pixel (area_pixel_compute_scale), as a `dtype` scalar."""
    if align_corners:  # the centres of the two corner pixels map onto each other
        return dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
    if scale_factor is not None:  # a given scale_factor is used as it is: 1/scale_factor, not in/out
        return dtype(1.0 / scale_factor)
    return dtype(in_size) / dtype(out_size)


def pytorch_nearest_rule(dtype: np.dtype, size: tuple[int, ...]) -> tuple[type, bool]:
    """(coordinate dtype, shortcuts?) of the CPU kernel PyTorch picks for the nearest modes.

    A 4-d input with out_h + out_w <= 128 goes to the kernel that calls nearest_idx / nearest_exact_idx
    (UpSample.h; _use_vectorized_kernel_cond_2d in UpSampleKernel.cpp): float32 coordinates and, for
    "nearest", a copy when out == in and o // 2 when out == 2 * in, whatever scale_factor says. Every
    other input goes to the generic kernel (HelperInterpNearest): coordinates in the input's dtype, no
    shortcuts. They disagree only for a scale_factor giving out == in or 2 * in, and for float64 rounding.
    """
    if len(size) == 2 and sum(size) <= 128:
        return np.float32, True
    return _coordinate_dtype(dtype), False


def nearest_index(in_size: int, out_size: int, scale_factor: float | None, exact: bool,
                  coord: type, shortcuts: bool) -> np.ndarray:
    """(out,) source pixel of each output: floor(dst * scale), or floor((dst + 0.5) * scale) if exact."""
    if shortcuts and not exact and out_size in (in_size, 2 * in_size):
        return np.arange(out_size) // (out_size // in_size)  # nearest_idx: copy, or each pixel twice
    scale = source_scale(in_size, out_size, scale_factor, False, coord)
    dst = np.arange(out_size, dtype=coord)
    # exact: PyTorch's floor(src + 0.5) of the centre-aligned src = (dst + 0.5) * scale - 0.5 (rounds it)
    src = (dst + coord(0.5)) * scale if exact else dst * scale
    src = src.astype(np.float32)  # PyTorch floors with floorf, in float32 even for a float64 input
    return np.minimum(np.floor(src).astype(np.int64), in_size - 1)


def linear_matrix(in_size: int, out_size: int, scale_factor: float | None, align_corners: bool,
                  dtype: np.dtype) -> np.ndarray:
    """(out, in) matrix of 1-d linear interpolation: row o holds 1 - frac at src i0 and frac at i1."""
    if out_size == in_size:  # PyTorch copies whenever the sizes agree, whatever scale_factor says
        return np.eye(in_size, dtype=dtype)
    coord = _coordinate_dtype(dtype)
    scale = source_scale(in_size, out_size, scale_factor, align_corners, coord)
    dst = np.arange(out_size, dtype=coord)  # (out,)
    if align_corners:
        src = scale * dst
    else:  # pixel centres at i + 0.5; left of pixel 0's centre, pixel 0 alone is used (clamp at 0)
        src = np.maximum(scale * (dst + coord(0.5)) - coord(0.5), coord(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)  # (out,)
    i1 = np.minimum(i0 + 1, in_size - 1)  # the last pixel has no right neighbour: i1 = i0
    frac = np.clip(src - i0.astype(coord), 0, 1)  # (out,) the weight of i1
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    matrix[rows, i0] = 1 - frac
    matrix[rows, i1] += frac  # +=: at the right edge i1 == i0, and both weights go to that one pixel
    return matrix


def along_axis(matrix: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """matrix @ x along one axis: matrix (m, n), x.shape[axis] == n -> that axis becomes m."""
    return np.moveaxis(np.tensordot(matrix, x, axes=(1, axis)), 0, axis)


def scatter_add(grad: np.ndarray, index: np.ndarray, in_size: int, axis: int) -> np.ndarray:
    """The reverse of np.take(x, index, axis): add each output slice into the input slice it read."""
    g = np.moveaxis(grad, axis, 0)  # (out, ...)
    gx = np.zeros_like(grad, shape=(in_size, *g.shape[1:]))  # (in, ...)
    np.add.at(gx, index, g)  # gx[index] += g would keep only one of two outputs reading one pixel
    return np.moveaxis(gx, 0, axis)


# -- the two ops ------------------------------------------------------------------------------------


class InterpolateNearest(Function):
    """out = x gathered along each spatial axis at the source pixel of every output (np.take)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, size: tuple[int, ...], scale_factor: tuple[float | None, ...],
                exact: bool) -> np.ndarray:
        axes = range(2, x.ndim)  # the spatial axes of (N, C, *spatial)
        coord, shortcuts = pytorch_nearest_rule(x.dtype, size)  # which of PyTorch's two kernels to follow
        indices = [nearest_index(x.shape[a], m, s, exact, coord, shortcuts)  # (m,) per axis, in [0, n)
                   for a, m, s in zip(axes, size, scale_factor)]
        out = x
        for axis, index in zip(axes, indices):
            out = np.take(out, index, axis=axis)  # that axis: n -> m
        ctx.save_for_backward(*indices)
        ctx.x_shape = x.shape
        return out  # (N, C, *size)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        grad_x = grad  # (N, C, *size)
        for axis, index in zip(range(2, grad.ndim), ctx.saved_tensors):  # undo one gather at a time
            grad_x = scatter_add(grad_x, index, ctx.x_shape[axis], axis)  # that axis: m -> n
        return grad_x  # (N, C, *in)


class InterpolateLinear(Function):
    """out = x with one (out, in) matrix applied per spatial axis: Ry @ x @ Rx^T for an image."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, size: tuple[int, ...], scale_factor: tuple[float | None, ...],
                align_corners: bool) -> np.ndarray:
        axes = range(2, x.ndim)  # the spatial axes of (N, C, *spatial)
        matrices = [linear_matrix(x.shape[a], m, s, align_corners, x.dtype)  # (m, n) per axis
                    for a, m, s in zip(axes, size, scale_factor)]
        out = x
        for axis, matrix in zip(axes, matrices):  # (N, C, H, W): Ry @ x, then x @ Rx^T
            out = along_axis(matrix, out, axis)  # that axis: n -> m
        ctx.save_for_backward(*matrices)
        return out  # (N, C, *size)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        grad_x = grad  # (N, C, *size)
        for axis, matrix in zip(range(2, grad.ndim), ctx.saved_tensors):  # Ry^T @ grad @ Rx
            grad_x = along_axis(matrix.T, grad_x, axis)  # that axis: m -> n
        return grad_x  # (N, C, *in)


# -- the public function: PyTorch's argument rules ----------------------------------------------------


def _check_mode(shape: tuple[int, ...], dtype: np.dtype, mode: str, align_corners: bool | None,
                antialias: bool) -> bool:
    """The mode fits the input; returns align_corners as a bool (None means False)."""
    if mode in NOT_IMPLEMENTED:
        raise NotImplementedError(f'interpolate: mode="{mode}" is not supported (supported: {SUPPORTED})')
    if mode not in LINEAR_MODES and mode not in NEAREST_MODES:
        raise ValueError(f"interpolate: mode={mode!r} is not an interpolation mode (supported: {SUPPORTED})")
    if mode in NEAREST_MODES and align_corners is not None:
        raise ValueError(f'interpolate: align_corners can only be set with the interpolating modes linear | '
                         f'bilinear | bicubic | trilinear, not with mode="{mode}"; leave it None')
    if antialias:  # PyTorch's rule first, then ours
        if mode != "bilinear" or len(shape) != 4:
            raise ValueError(f'interpolate: antialias=True is restricted to mode "bilinear" or "bicubic" with a '
                             f'4-d input, got mode="{mode}" and an input of shape {shape}')
        raise NotImplementedError('interpolate: antialias=True is not supported (use antialias=False)')
    if len(shape) not in LAYOUTS:
        raise ValueError(f"interpolate: input must be 3-d {LAYOUTS[3]}, 4-d {LAYOUTS[4]} or 5-d {LAYOUTS[5]}, "
                         f"got shape {shape}")
    if mode in LINEAR_MODES and len(shape) != LINEAR_MODES[mode]:
        fits = next(m for m, n in LINEAR_MODES.items() if n == len(shape))
        raise ValueError(f'interpolate: mode="{mode}" needs a {LINEAR_MODES[mode]}-d input '
                         f'{LAYOUTS[LINEAR_MODES[mode]]}, got shape {shape} (for a {len(shape)}-d input use '
                         f'mode="{fits}")')
    if mode in LINEAR_MODES and dtype.kind != "f":
        raise TypeError(f'interpolate: mode="{mode}" needs a floating-point input, got dtype {dtype} (PyTorch '
                        "refuses integers too); convert with .float()")
    if mode in NEAREST_MODES and dtype.kind != "f" and dtype != np.uint8:
        raise TypeError(f'interpolate: mode="{mode}" needs a floating-point or uint8 input (as PyTorch), got '
                        f"dtype {dtype}; convert with .float()")
    return bool(align_corners)


def _per_dim(name: str, value: object, spatial: tuple[int, ...], shape: tuple[int, ...]) -> tuple:
    """A scalar repeated for every spatial dim, or a tuple/list with exactly one entry per spatial dim."""
    if not isinstance(value, (tuple, list)):
        return (value,) * len(spatial)
    if len(value) != len(spatial):
        raise ValueError(f"interpolate: {name}={tuple(value)} has {len(value)} dims, but the input of shape "
                         f"{shape} has {len(spatial)} spatial dims {spatial}")
    return tuple(value)


def _output_size(shape: tuple[int, ...], size: object, scale_factor: object,
                 recompute_scale_factor: bool | None) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """(output size, the scale_factor each axis's coordinates use: None means in/out)."""
    spatial = shape[2:]
    if size is not None and scale_factor is not None:
        raise ValueError(f"interpolate: give only one of size and scale_factor, got size={size} and "
                         f"scale_factor={scale_factor}")
    if size is None and scale_factor is None:
        raise ValueError("interpolate: give either size or scale_factor (both are None)")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor=True is not meaningful with an explicit size")
        out = _per_dim("size", size, spatial, shape)
        if not all(isinstance(m, numbers.Integral) and not isinstance(m, bool) for m in out):
            raise TypeError(f"interpolate: size must be an int or a tuple of ints, got size={size}")
        scales: tuple[float | None, ...] = (None,) * len(spatial)
    else:
        factors = tuple(float(s) for s in _per_dim("scale_factor", scale_factor, spatial, shape))
        out = tuple(int(n * s) for n, s in zip(spatial, factors))  # truncated, as PyTorch's int64 cast
        # recompute_scale_factor=True: coordinates use in/out of the rounded size, not 1/scale_factor
        scales = (None,) * len(spatial) if recompute_scale_factor else factors
    out = tuple(int(m) for m in out)
    if min(spatial) < 1 or min(out) < 1:
        raise ValueError(f"interpolate: input and output sizes must be greater than 0, but got input of shape "
                         f"{shape} and output size {out}")
    return out, scales


@tensor_inputs("input")
def interpolate(input: Tensor, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize (N, C, *in) -> (N, C, *out), out = size or floor(in * scale_factor), as F.interpolate."""
    shape = tuple(input.shape)
    align_corners = _check_mode(shape, input.dtype, mode, align_corners, antialias)
    out, scales = _output_size(shape, size, scale_factor, recompute_scale_factor)
    if mode in NEAREST_MODES:
        return InterpolateNearest.apply(input, size=out, scale_factor=scales, exact=mode == "nearest-exact")
    return InterpolateLinear.apply(input, size=out, scale_factor=scales, align_corners=align_corners)
