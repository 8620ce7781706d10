"""Loss layers with PyTorch's names and options: each holds its settings and calls one functional op."""
from __future__ import annotations

from typing import Any

import minigrad.functional as F
from minigrad.functional.loss import check_label_smoothing, check_reduction, legacy_reduction
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class CrossEntropyLoss(Module):
    """loss = -sum_c q_c log softmax(input)_c, q the (weighted, smoothed) target distribution;
    input (N, C, ...) with class indices (N, ...) or probabilities (N, C, ...) -> () (or (N, ...))."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__()
        self.reduction = check_reduction("CrossEntropyLoss", legacy_reduction(size_average, reduce, reduction))
        check_label_smoothing("CrossEntropyLoss", label_smoothing)
        self.register_buffer("weight", weight)  # a buffer, as in PyTorch: in state_dict, moved by .to()
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class MSELoss(Module):
    """loss = mean((input - target)^2) (or sum, or per element);  (...), (...) -> ()."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class BCELoss(Module):
    """loss = mean(-w (t log p + (1 - t) log(1 - p))) (or sum, or per element), logs clamped at -100;
    p (probabilities), t: (...) -> ()."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__()
        self.reduction = check_reduction("BCELoss", legacy_reduction(size_average, reduce, reduction))
        self.register_buffer("weight", weight)  # a buffer, as in PyTorch

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    """loss = mean(-w (pos_weight t log sigmoid(x) + (1 - t) log sigmoid(-x))) (or sum, or per element);
    x (logits), t: (...) -> ()."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Any = None):
        super().__init__()
        self.reduction = check_reduction("BCEWithLogitsLoss", legacy_reduction(size_average, reduce, reduction))
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
