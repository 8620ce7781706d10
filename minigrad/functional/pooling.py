"""2-d pooling as im2col + a reduction over each window: no gradient code of its own.

The input is padded (zeros for avg, -inf for max, so a pad never wins) and cut into windows by
Im2Col, the Function conv2d uses; max_pool2d takes the max of each window (its gradient goes to
the first max, as PyTorch's), avg_pool2d the sum divided by the window's count. Im2Col's backward
adds each window's gradient back to its pixels.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.functional.linear import Im2Col
from minigrad.ops import Max, cat
from minigrad.ops.elementwise import check_float, tensor_inputs
from minigrad.tensor import Tensor


def _pair(op: str, name: str, value: Any) -> tuple[int, int]:
    """An int or a pair (a one-element sequence counts for both), as PyTorch takes kernel_size, stride, ..."""
    pair = tuple(value) if isinstance(value, list | tuple) else (value, value)
    if len(pair) == 1:
        pair = pair * 2
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: floor (or ceil) of (size + 2p - d(k-1) - 1) / s, plus 1; in ceil mode
    the last window must start inside the input or its left padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _geometry(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool) -> tuple:
    """(kernel, stride, dilation, the zeros before and after each spatial axis, output size), checked."""
    kernel = _pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0) else _pair(
        op, "stride", stride)  # stride=None or []: the kernel size, as PyTorch
    padding, dilation = _pair(op, "padding", padding), _pair(op, "dilation", dilation)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be >= 1 and padding >= 0, got kernel_size="
                         f"{kernel}, stride={stride}, padding={padding}, dilation={dilation}")
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{op}: padding should be at most half of the (dilated) kernel size, got padding="
                             f"{padding} for kernel_size={kernel}")
    H, W = x.shape[-2:]
    out = tuple(_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip((H, W), kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ValueError(f"{op}: the output would be empty ({out[0]} x {out[1]}) for an input of {H} x {W} with "
                         f"kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation}")
    # ceil mode may need a last window past the padding: more cells after, which it ignores
    needed = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out, stride, dilation, kernel)]
    after = tuple(max(p, need - n - p) for need, n, p in zip(needed, (H, W), padding))
    return kernel, stride, dilation, padding, after, out


def _pad(x: Tensor, before: tuple, after: tuple, value: float) -> Tensor:
    """x (B, C, H, W) with `value` rows and columns around it, through cat (which backpropagates)."""
    for axis, n_before, n_after in ((2, before[0], after[0]), (3, before[1], after[1])):
        if n_before or n_after:
            def fill(n: int) -> Tensor:
                return Tensor(np.full(x.shape[:axis] + (n,) + x.shape[axis + 1:], value, dtype=x.dtype))

            x = cat([fill(n_before), x, fill(n_after)], dim=axis)  # a block of 0 rows adds nothing
    return x


def _windows(x: Tensor, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> Tensor:
    """(B, C, H', W') padded -> (B, Ho, Wo, C, kh*kw): every window, one row per channel."""
    B, C = x.shape[:2]
    patches = Im2Col.apply(x, kernel=kernel, stride=stride, padding=(0, 0), dilation=dilation)  # (B, Ho', Wo', C*kh*kw)
    if patches.shape[1:3] != out:  # ceil mode: drop a window that would start in the padding after
        patches = patches[:, :out[0], :out[1]]
    return patches.reshape(B, out[0], out[1], C, kernel[0] * kernel[1])


def _batched(op: str, input: Tensor) -> tuple[Tensor, bool]:
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: input must be (B, C, H, W) or (C, H, W), got shape {input.shape}")
    return (input.unsqueeze(0), True) if input.ndim == 3 else (input, False)


@tensor_inputs("input")
def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """y[b, c, i, j] = max of x over the window at (i*sh, j*sw);  (B, C, H, W) -> (B, C, Ho, Wo).
    return_indices=True: also each max's flat index into its input's H x W, as int64."""
    op = "max_pool2d"
    x, unbatched = _batched(op, input)
    check_float(op, input=x._data)
    kernel, stride, dilation, before, after, out = _geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    windows = _windows(_pad(x, before, after, -math.inf), kernel, stride, dilation, out)  # (B, Ho, Wo, C, kh*kw)
    y = Max.apply(windows, dim=-1).permute(0, 3, 1, 2)  # (B, Ho, Wo, C) -> (B, C, Ho, Wo); gradient: the first max
    if unbatched:
        y = y.squeeze(0)
    if not return_indices:
        return y
    indices = _indices(x, windows, before, after, kernel, stride, dilation, out)
    return y, indices.squeeze(0) if unbatched else indices


def _window_view(a: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> np.ndarray:
    """A 2-d array's windows, as Im2Col cuts them: (Ho, Wo, kh*kw), the taps row by row."""
    span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    view = np.lib.stride_tricks.sliding_window_view(a, span)[:: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]
    return view[: out[0], : out[1]].reshape(out[0], out[1], kernel[0] * kernel[1])


def _indices(x: Tensor, windows: Tensor, before: tuple, after: tuple, kernel: tuple, stride: tuple,
             dilation: tuple, out: tuple) -> Tensor:
    """The flat index (row * W + column) in x of each window's first max, read from the windows of an index grid."""
    H, W = x.shape[2:]
    grid = np.arange(H * W, dtype=np.int64).reshape(H, W)  # each pixel's flat index; -1 in the padding
    grid = np.pad(grid, ((before[0], after[0]), (before[1], after[1])), constant_values=-1)
    where = _window_view(grid, kernel, stride, dilation, out)[None, :, :, None, :]  # (1, Ho, Wo, 1, kh*kw)
    first = np.argmax(windows._data, axis=-1)[..., None]  # (B, Ho, Wo, C, 1): the max's place in its window
    index = np.take_along_axis(np.broadcast_to(where, windows.shape), first, axis=-1)[..., 0]  # (B, Ho, Wo, C)
    return Tensor(np.ascontiguousarray(index.transpose(0, 3, 1, 2)))  # (B, C, Ho, Wo)


@tensor_inputs("input")
def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """y[b, c, i, j] = the sum of x over the window at (i*sh, j*sw) / its count;  (B, C, H, W) -> (B, C, Ho, Wo).
    The count takes in the padding (count_include_pad=True) but never the cells past it (ceil mode)."""
    op = "avg_pool2d"
    x, unbatched = _batched(op, input)
    check_float(op, input=x._data)
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a nonzero int, got {divisor_override!r}")
    kernel, stride, dilation, before, after, out = _geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    windows = _windows(_pad(x, before, after, 0.0), kernel, stride, dilation, out)  # (B, Ho, Wo, C, kh*kw)
    total = windows.sum(dim=-1).permute(0, 3, 1, 2)  # (B, C, Ho, Wo)
    y = total / _divisor(x, before, after, kernel, stride, out, count_include_pad, divisor_override)
    return y.squeeze(0) if unbatched else y


def _divisor(x: Tensor, before: tuple, after: tuple, kernel: tuple, stride: tuple, out: tuple,
             count_include_pad: bool, divisor_override: int | None) -> np.ndarray:
    """(Ho, Wo): how many cells each window averages over (a constant, in x's dtype)."""
    if divisor_override is not None:
        return np.asarray(divisor_override, dtype=x.dtype)
    H, W = x.shape[2:]
    padding = before  # the symmetric padding; cells of `after` beyond it are the ceil mode's, never counted
    counted = np.zeros((H + before[0] + after[0], W + before[1] + after[1]))
    if count_include_pad:
        counted[: H + 2 * padding[0], : W + 2 * padding[1]] = 1
    else:
        counted[before[0]: before[0] + H, before[1]: before[1] + W] = 1
    return _window_view(counted, kernel, stride, (1, 1), out).sum(axis=-1).astype(x.dtype)
