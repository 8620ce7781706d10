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
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        out_features, in_features = weight.shape
        if x.ndim == 0 or x.shape[-1] != in_features:
            raise ValueError(
                f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features, "
                f"but weight of shape {weight.shape} expects {in_features}"
            )
        check_dtypes("linear", x, weight)
        if bias is not None:
            check_dtypes("linear", x, bias)
        x2 = x.reshape(-1, in_features)  # (..., in) -> (N, in): one large matmul
        y = np.dot(x2, weight.T)  # (N, out); `x2 @ weight.T` takes a 3x slower path in NumPy 2.4
        if bias is not None:
            y += bias
        ctx.save_for_backward(x2, weight)
        ctx.x_shape = x.shape
        return y.reshape(*x.shape[:-1], out_features)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        x2, weight = ctx.saved_tensors
        g2 = grad.reshape(-1, weight.shape[0])  # (N, out)
        grad_x = np.dot(g2, weight).reshape(ctx.x_shape) if ctx.needs_input_grad[0] else None  # (N, in)
        grad_w = np.dot(g2.T, x2) if ctx.needs_input_grad[1] else None  # (out, in)
        grad_b = g2.sum(axis=0) if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b;  x: (..., in), weight: (out, in), bias: (out,) -> (..., out)."""
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


# -- conv2d = im2col + linear -----------------------------------------------------------------------


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int | np.integer) else (int(v[0]), int(v[1]))


class Im2Col(Function):
    """Cut (B, C, H, W) into the (B, Ho, Wo, C*kh*kw) matrix of patches a kernel sees.

    kernel == stride with no padding (the ViT's patch embedding) is a pure reshape; the
    general case gathers sliding windows. Backward (col2im) adds each patch's gradient back
    to the pixels it came from.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple) -> np.ndarray:
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        B, C, H, W = x.shape
        ctx.x_shape, ctx.params = x.shape, (kernel, stride, padding)
        if (kh, kw) == (sh, sw) and (ph, pw) == (0, 0) and H % kh == 0 and W % kw == 0:
            Ho, Wo = H // kh, W // kw
            ctx.patchify = True
            patches = x.reshape(B, C, Ho, kh, Wo, kw).transpose(0, 2, 4, 1, 3, 5)  # (B, Ho, Wo, C, kh, kw)
            return patches.reshape(B, Ho, Wo, C * kh * kw)
        ctx.patchify = False
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
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
        if ctx.patchify:  # every pixel is in exactly one patch: undo the reshape
            return g.transpose(0, 3, 1, 4, 2, 5).reshape(B, C, H, W)
        gx = np.zeros((B, C, H + 2 * ph, W + 2 * pw), dtype=grad.dtype)
        for i in range(kh):  # overlapping windows: add every kernel offset's contribution
            for j in range(kw):
                gx[:, :, i : i + sh * Ho : sh, j : j + sw * Wo : sw] += g[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return gx[:, :, ph : ph + H, pw : pw + W]


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
