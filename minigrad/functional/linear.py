"""Linear layers as matrix products: `linear`, and `conv2d` as im2col + `linear` (one matmul per call:
a batched one over the groups when groups > 1)."""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops.elementwise import check_dtypes, tensor_inputs
from minigrad.tensor import Tensor

# -- linear ---------------------------------------------------------------------------------------


def linear_composed(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ W^T + b with the primitive ops (MatMul, Permute, Add)."""
    y = x @ weight.T
    return y + bias if bias is not None else y


class Linear(Function):
    """y = x W^T + b;  dL/dx = g W,  dL/dW = g^T x and dL/db = g summed over every row."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        ctx.save_for_backward(x, weight)
        y = x @ weight.T  # (..., in) @ (in, out) -> (..., out)
        return y if bias is None else y + bias

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        x, weight = ctx.saved_tensors
        out_features, in_features = weight.shape
        n = math.prod(x.shape[:-1])  # every row of the batch (reshape(-1, 0) could not infer it)
        g2, x2 = grad.reshape(n, out_features), x.reshape(n, in_features)  # (N, out), (N, in)
        grad_x = grad @ weight  # (..., out) @ (out, in) -> (..., in)
        grad_w = g2.T @ x2  # (out, N) @ (N, in) -> (out, in): summed over the N rows
        grad_b = g2.sum(axis=0)  # (N, out) -> (out,)
        return (grad_x, grad_w, grad_b)[:len(ctx.inputs)]  # no bias: two inputs, two gradients


@tensor_inputs("input", "weight", "bias")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b;  x: (..., in), weight: (out, in), bias: (out,) -> (..., out)."""
    x = input
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features, "
                         f"but weight of shape {weight.shape} expects {weight.shape[1]}")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},) for weight {weight.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:  # exact: PyTorch refuses int with float too (int with int it computes in ints)
            check_dtypes("linear", x._data, t._data, f"input vs {name}", exact=True)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


# -- conv2d = im2col + linear -----------------------------------------------------------------------


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int | np.integer) else (int(v[0]), int(v[1]))


class Im2Col(Function):
    """Cut (B, C, H, W) into the (B, Ho, Wo, C*kh*kw) matrix of patches a kernel sees.

    Forward gathers every (kh, kw) window of the padded image at the strides, its taps `dilation`
    apart; backward (col2im) adds each patch's gradient back to the pixels it came from (windows
    overlap when stride < kernel).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple,
                dilation: tuple = (1, 1)) -> np.ndarray:
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
        B, C, H, W = x.shape
        ctx.x_shape, ctx.params = x.shape, (kernel, stride, padding, dilation)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # (B, C, H + 2ph, W + 2pw)
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)  # the rows and columns a dilated window covers
        windows = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(2, 3))  # (B, C, H', W', span)
        windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (B, C, Ho, Wo, kh, kw)
        Ho, Wo = windows.shape[2:4]
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(B, Ho, Wo, C * kh * kw)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = ctx.params
        B, C, H, W = ctx.x_shape
        Ho, Wo = grad.shape[1:3]
        g = grad.reshape(B, Ho, Wo, C, kh, kw)
        gx = np.zeros_like(grad, shape=(B, C, H + 2 * ph, W + 2 * pw))
        for i in range(kh):  # kernel tap (i, j) touched the pixels (i*dh + sh*r, j*dw + sw*c)
            for j in range(kw):
                rows, cols = slice(i * dh, i * dh + sh * Ho, sh), slice(j * dw, j * dw + sw * Wo, sw)
                gx[:, :, rows, cols] += g[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return gx[:, :, ph : ph + H, pw : pw + W]  # cut the padding away


def conv_padding(padding: Any, stride: tuple[int, int], op: str = "conv2d") -> tuple[int, int] | str:
    """padding as conv2d takes it, checked (also by nn.Conv2d, with op="Conv2d"): "same" (stride 1 only)
    and "valid" as they are, anything else as a pair of ints >= 0."""
    if padding == "same" and stride != (1, 1):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
    if padding in ("same", "valid"):
        return padding
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be 'same', 'valid', an int or a pair of ints, got {padding!r}")
    pair = (padding, padding) if isinstance(padding, numbers.Integral) else tuple(padding) if isinstance(
        padding, Sequence) else (padding,)  # numbers.Integral: NumPy's ints too
    if len(pair) != 2 or any(isinstance(p, bool) or not isinstance(p, numbers.Integral) or p < 0 for p in pair):
        raise ValueError(f"{op}: padding must be 'same', 'valid', an int >= 0 or a pair of them, got {padding!r}")
    return int(pair[0]), int(pair[1])


def _padding(padding: int | tuple | str, kernel: tuple, stride: tuple, dilation: tuple) -> tuple[tuple, tuple]:
    """(the symmetric zeros per axis, the extra zeros after): "same" is d (k - 1) zeros per axis, half before
    (rounded down), the rest after, as PyTorch."""
    padding = conv_padding(padding, stride)
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding != "same":
        return padding, (0, 0)
    total = [d * (k - 1) for d, k in zip(dilation, kernel)]
    before = tuple(t // 2 for t in total)
    return before, tuple(t - 2 * b for t, b in zip(total, before))


def _pad_after(x: Tensor, extra: tuple) -> Tensor:
    """Zeros after the last row / column (the odd part of "same" padding), with ops that backpropagate."""
    from minigrad.ops import cat

    B, C, H, W = x.shape
    if extra[0]:
        x = cat([x, Tensor(np.zeros((B, C, extra[0], W), dtype=x.dtype))], dim=2)
    if extra[1]:
        x = cat([x, Tensor(np.zeros((B, C, x.shape[2], extra[1]), dtype=x.dtype))], dim=3)
    return x


def _check_conv(x: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> None:
    if x.ndim != 4:
        raise ValueError(f"conv2d: input must be (B, C, H, W) or (C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be (out_channels, in_channels / groups, kh, kw), "
                         f"got shape {weight.shape}")
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive integer, got {groups!r}")
    O, Cg = weight.shape[:2]
    if x.shape[1] != Cg * groups:
        per_group = "" if groups == 1 else f" * groups={groups} = {Cg * groups}"
        raise ValueError(f"conv2d: input has {x.shape[1]} channels (shape {x.shape}), weight {weight.shape} "
                         f"expects {Cg}{per_group}")
    if O % groups:
        raise ValueError(f"conv2d: weight {weight.shape} has {O} output channels, not divisible by groups={groups}")
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"conv2d: bias has shape {bias.shape}, expected ({O},) for weight {weight.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:  # exact, as PyTorch (and as linear, which conv2d calls)
            check_dtypes("conv2d", x._data, t._data, f"input vs {name}", exact=True)


def _grouped_linear(patches: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> Tensor:
    """Each group's patch features times its own filters, as one batched matmul: (B, Ho, Wo, O)."""
    B, Ho, Wo, F = patches.shape
    O = weight.shape[0]
    cols = patches.reshape(B * Ho * Wo, groups, F // groups).permute(1, 0, 2)  # (G, M, Cg*kh*kw)
    w = weight.reshape(groups, O // groups, F // groups).permute(0, 2, 1)  # (G, Cg*kh*kw, O/G)
    y = (cols @ w).permute(1, 0, 2).reshape(B, Ho, Wo, O)  # (G, M, O/G) -> (M, G, O/G) -> (B, Ho, Wo, O)
    return y if bias is None else y + bias


@tensor_inputs("input", "weight", "bias")
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] | str = 0, dilation: int | tuple[int, int] = 1, groups: int = 1) -> Tensor:
    """y = im2col(x) @ W^T + b (per group);  x: (B, C, H, W) or (C, H, W), weight: (O, C / groups, kh, kw)
    -> (B, O, Ho, Wo)."""
    if input.ndim == 3:  # unbatched, as PyTorch: a batch of one
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    _check_conv(input, weight, bias, groups)
    stride, dilation, kernel = _pair(stride), _pair(dilation), tuple(weight.shape[2:])
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"conv2d: stride and dilation must be >= 1, got stride={stride}, dilation={dilation}")
    pad, extra = _padding(padding, kernel, stride, dilation)
    x = _pad_after(input, extra)
    span = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    if x.shape[2] + 2 * pad[0] < span[0] or x.shape[3] + 2 * pad[1] < span[1]:
        dilated = "" if dilation == (1, 1) else f" (dilated to {tuple(span)})"
        raise ValueError(f"conv2d: kernel {kernel}{dilated} is larger than the padded input "
                         f"{(x.shape[2] + 2 * pad[0], x.shape[3] + 2 * pad[1])}")
    patches = Im2Col.apply(x, kernel=kernel, stride=stride, padding=pad, dilation=dilation)  # (B, Ho, Wo, C*kh*kw)
    if groups == 1:
        y = linear(patches, weight.reshape(weight.shape[0], -1), bias)  # (B, Ho, Wo, O)
    else:
        y = _grouped_linear(patches, weight, bias, groups)
    return y.permute(0, 3, 1, 2)  # (B, O, Ho, Wo)
