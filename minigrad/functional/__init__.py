"""minigrad.functional: PyTorch's torch.nn.functional ops, the ones a model is built from.

`import minigrad.nn.functional as F` gives these same ops. PyTorch's top-level functions (torch.matmul,
torch.max, ...) are minigrad/functions.py's, which calls into this package, never the reverse.

Each fused op (a Function with a hand-derived backward, used for training) sits in its file
beside a `*_composed` version built from primitive ops, which is easier to read; the tests
check that both agree with each other and with PyTorch.
"""
from minigrad.functional.activation import (
    gelu, gelu_composed, log_softmax, log_softmax_composed, logsigmoid, relu, sigmoid, softmax, softmax_composed, tanh,
)
from minigrad.functional.attention import attention_composed, scaled_dot_product_attention
from minigrad.functional.dropout import dropout, dropout_composed
from minigrad.functional.interpolate import interpolate
from minigrad.functional.linear import conv2d, linear, linear_composed
from minigrad.functional.loss import cross_entropy, cross_entropy_composed, mse_loss
from minigrad.functional.loss_binary import binary_cross_entropy, binary_cross_entropy_with_logits
from minigrad.functional.encoding import one_hot
from minigrad.functional.pooling import avg_pool2d, max_pool2d
from minigrad.functional.normalization import layer_norm, layer_norm_composed

__all__ = [
    "gelu", "gelu_composed", "log_softmax", "log_softmax_composed", "relu", "softmax",
    "softmax_composed", "attention_composed", "scaled_dot_product_attention", "dropout",
    "dropout_composed", "conv2d", "linear", "linear_composed", "cross_entropy",
    "cross_entropy_composed", "layer_norm", "layer_norm_composed", "interpolate", "mse_loss", "tanh", "sigmoid",
    "logsigmoid", "binary_cross_entropy", "binary_cross_entropy_with_logits", "one_hot", "avg_pool2d", "max_pool2d",
]
