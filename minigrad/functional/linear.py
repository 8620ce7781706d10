"""Linear layers as matrix products: `linear`, and `conv2d` as im2col + `linear`."""
from __future__ import annotations

import numpy as np

from minigrad.engine import Context, Function
from minigrad.ops.elementwise import check_dtypes
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
        g2, x2 = grad.reshape(-1, out_features), x.reshape(-1, in_features)  # every row of the batch: (N, out), (N, in)
        grad_x = grad @ weight  # (..., out) @ (out, in) -> (..., in)
        grad_w = g2.T @ x2  # (out, N) @ (N, in) -> (out, in): summed over the N rows
        grad_b = g2.sum(axis=0)  # (N, out) -> (out,)
        return (grad_x, grad_w, grad_b)[:len(ctx.inputs)]  # no bias: two inputs, two gradients


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b;  x: (..., in), weight: (out, in), bias: (out,) -> (..., out)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features, "
                         f"but weight of shape {weight.shape} expects {weight.shape[1]}")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},) for weight {weight.shape}")
    for t in (weight, bias):
        if t is not None:
            check_dtypes("linear", x.data, t.data)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


# -- conv2d = im2col + linear -----------------------------------------------------------------------


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int | np.integer) else (int(v[0]), int(v[1]))


class Im2Col(Function):
    """Cut (B, C, H, W) into the (B, Ho, Wo, C*kh*kw) matrix of patches a kernel sees.

    Forward gathers every (kh, kw) window of the padded image at the strides; backward (col2im)
    adds each patch's gradient back to the pixels it came from (windows overlap when stride < kernel).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple) -> np.ndarray:
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        B, C, H, W = x.shape
        ctx.x_shape, ctx.params = x.shape, (kernel, stride, padding)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # (B, C, H + 2ph, W + 2pw)
        windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (B, C, H', W', kh, kw)
        windows = windows[:, :, ::sh, ::sw]  # (B, C, Ho, Wo, kh, kw)
        Ho, Wo = windows.shape[2:4]
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(B, Ho, Wo, C * kh * kw)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> np.ndarray:
        (kh, kw), (sh, sw), (ph, pw) = ctx.params
        B, C, H, W = ctx.x_shape
        Ho, Wo = grad.shape[1:3]
        g = grad.reshape(B, Ho, Wo, C, kh, kw)
        gx = np.zeros((B, C, H + 2 * ph, W + 2 * pw), dtype=grad.dtype)
        for i in range(kh):  # each kernel offset (i, j) touched the pixels (i + sh*r, j + sw*c)
            for j in range(kw):
                gx[:, :, i : i + sh * Ho : sh, j : j + sw * Wo : sw] += g[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return gx[:, :, ph : ph + H, pw : pw + W]  # cut the padding away


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> Tensor:
    """y = im2col(x) @ W^T + b;  x: (B, C, H, W), weight: (O, C, kh, kw) -> (B, O, Ho, Wo)."""
    if x.ndim != 4:
        raise ValueError(f"conv2d: input must be (B, C, H, W), got shape {x.shape}")
    O, C, kh, kw = weight.shape
    if x.shape[1] != C:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels (shape {x.shape}), weight {weight.shape} expects {C}")
    stride, padding = _pair(stride), _pair(padding)
    if x.shape[2] + 2 * padding[0] < kh or x.shape[3] + 2 * padding[1] < kw:
        raise ValueError(f"conv2d: kernel {(kh, kw)} is larger than the padded input {x.shape[2:]}")
    patches = Im2Col.apply(x, kernel=(kh, kw), stride=stride, padding=padding)  # (B, Ho, Wo, C*kh*kw)
    y = linear(patches, weight.reshape(O, C * kh * kw), bias)  # (B, Ho, Wo, O)
    return y.permute(0, 3, 1, 2)  # (B, O, Ho, Wo)
