"""The test table of each exercise, as source text written into the workspace's test files.

Each case is (inputs, minigrad call, PyTorch call). `inputs` lists the input shapes (standard
normal float64 arrays; `low` = c draws c + |N(0, 1)| instead, away from a pole or a kink) or
names an array defined in `setup`. The minigrad call uses only the exercise's op, so its
backward is the only one a test runs. The first case is also checked in float32 and against
finite differences.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cases:
    cases: dict[str, tuple[str, str, str]]  # name -> (inputs, minigrad lambda, PyTorch lambda)
    low: float | None = None
    setup: str = ""  # module-level source the lambdas use
    finite_differences: bool = True  # False where the output is not float64 (Cast)


def _binary(op: str, torch_op: str, extra: dict | None = None, low: float | None = None) -> Cases:
    ours, theirs = f"lambda a, b: {op}.apply(a, b)", f"lambda a, b: a {torch_op} b"
    shapes = {"same_shape": "[(3, 4), (3, 4)]", "broadcast_b": "[(3, 4), (4,)]", "broadcast_both": "[(3, 1), (1, 4)]"}
    shapes.update(extra or {})
    return Cases({name: (s, ours, theirs) for name, s in shapes.items()}, low=low)


def _unary(op: str, torch_call: str, low: float | None = None) -> Cases:
    ours, theirs = f"lambda a: {op}.apply(a)", f"lambda a: {torch_call}"
    return Cases({"matrix": ("[(3, 4)]", ours, theirs), "3d": ("[(2, 3, 4)]", ours, theirs)}, low=low)


def _reduce(op: str, method: str) -> Cases:
    return Cases({
        "all": ("[(2, 3, 4)]", f"lambda a: {op}.apply(a)", f"lambda a: a.{method}()"),
        "dim_1": ("[(2, 3, 4)]", f"lambda a: {op}.apply(a, dim=1)", f"lambda a: a.{method}(dim=1)"),
        "dims_0_2_keepdim": ("[(2, 3, 4)]", f"lambda a: {op}.apply(a, dim=(0, 2), keepdim=True)",
                             f"lambda a: a.{method}(dim=(0, 2), keepdim=True)"),
    })


_DROPOUT_SETUP = '''
def seeded_dropout(x: mg.Tensor, p: float) -> mg.Tensor:
    mg.manual_seed(0)  # the same mask at every call
    return F.dropout(x, p)


def drawn_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """The factor (0 or 1/(1-p)) seeded_dropout multiplies each element by."""
    mg.manual_seed(0)
    return torch.from_numpy(dropout_mask(tuple(x.shape), p, x.detach().numpy().dtype))
'''

_UNFOLD_SETUP = '''
def unfold_patches(x: torch.Tensor, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple) -> torch.Tensor:
    """PyTorch's im2col (TF.unfold) in minigrad's layout: (B, C*kh*kw, Ho*Wo) -> (B, Ho, Wo, C*kh*kw)."""
    B, _, H, W = x.shape
    Ho = (H + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    cols = TF.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)  # (B, C*kh*kw, Ho*Wo)
    return cols.transpose(1, 2).reshape(B, Ho, Wo, -1)
'''


def _im2col(shape: str, kernel: str, stride: str, padding: str, dilation: str = "(1, 1)") -> tuple[str, str, str]:
    kw = f"kernel={kernel}, stride={stride}, padding={padding}, dilation={dilation}"
    return (shape, f"lambda x: Im2Col.apply(x, {kw})",
            f"lambda x: unfold_patches(x, {kernel}, {stride}, {padding}, {dilation})")


_BCE_SETUP = '''
PROBS = np.array([[0.2, 0.7, 0.45], [0.9, 0.05, 0.6]])  # probabilities, away from 0 and 1
TARGETS = np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 0.8]])  # soft targets too
WEIGHT = np.array([0.5, 2.0, 1.0])  # broadcast over the rows
EDGES = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 1e-15]])  # log clamped at -100, gradient kept finite


def clamped_bce(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """TF.binary_cross_entropy with PyTorch's backward formula written in torch ops, so that its second derivative
    is that formula's derivative. (At the clamps PyTorch's own double backward is another formula: it divides by
    (p + 1e-12)^2 (1 - p + 1e-12)^2, not by the clamped p (1 - p) of its backward.)"""

    class ClampedBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, p, t):
            ctx.save_for_backward(p, t)
            return TF.binary_cross_entropy(p, t)

        @staticmethod
        def backward(ctx, grad):
            p, t = ctx.saved_tensors
            g = grad / p.numel()
            grad_p = g * (p - t) / torch.clamp(p * (1 - p), min=float(np.float32(1e-12)))
            return grad_p, g * (torch.log1p(-p) - torch.log(p))

    return ClampedBackward.apply(p, t)
'''

_SDPA = ("lambda q, k, v: F.scaled_dot_product_attention(q, k, v{})",
         "lambda q, k, v: TF.scaled_dot_product_attention(q, k, v{})")


def _sdpa(shapes: str, kwargs: str = "") -> tuple[str, str, str]:
    return shapes, _SDPA[0].format(kwargs), _SDPA[1].format(kwargs)

_LINEAR = ("lambda x, w, b: F.linear(x, w, b)", "lambda x, w, b: TF.linear(x, w, b)")


def _ln(shapes: str, normalized: str) -> tuple[str, str, str]:
    return (shapes, f"lambda x, w, b: F.layer_norm(x, {normalized}, w, b)",
            f"lambda x, w, b: TF.layer_norm(x, {normalized}, w, b)")


def _interp(shape: str, kwargs: str) -> tuple[str, str, str]:
    return shape, f"lambda x: F.interpolate(x, {kwargs})", f"lambda x: TF.interpolate(x, {kwargs})"


CASES: dict[str, Cases] = {
    "Add": _binary("Add", "+", {"scalar_b": "[(3, 4), ()]"}),
    "Sub": _binary("Sub", "-", {"broadcast_a": "[(4,), (3, 4)]"}),
    "Neg": Cases({"matrix": ("[(3, 4)]", "lambda a: Neg.apply(a)", "lambda a: -a"),
                  "scalar": ("[()]", "lambda a: Neg.apply(a)", "lambda a: -a")}),
    "Mul": _binary("Mul", "*", {"batch_broadcast": "[(2, 3, 4), (3, 1)]", "scalar_b": "[(3, 4), ()]"}),
    "Div": _binary("Div", "/", {"broadcast_a": "[(4,), (3, 4)]"}, low=0.5),
    "PowScalar": Cases({f"exponent_{c}": ("[(3, 4)]", f"lambda a: PowScalar.apply(a, exponent={c})",
                                          f"lambda a: a ** {c}") for c in (2.5, 3.0, 0.5, -1.0, 0.0)}, low=0.5),
    "Pow": _binary("Pow", "**", low=0.5),
    "Exp": _unary("Exp", "a.exp()"),
    "Log": _unary("Log", "a.log()", low=0.5),
    "Sqrt": _unary("Sqrt", "a.sqrt()", low=0.5),
    "Tanh": _unary("Tanh", "a.tanh()"),
    "Relu": _unary("Relu", "a.relu()"),
    "Sigmoid": _unary("Sigmoid", "a.sigmoid()"),
    "Abs": _unary("Abs", "a.abs()"),
    "Sin": _unary("Sin", "a.sin()"),
    "Cos": _unary("Cos", "a.cos()"),
    "Log1p": _unary("Log1p", "a.log1p()", low=0.0),
    "Expm1": _unary("Expm1", "a.expm1()"),
    "Erf": _unary("Erf", "a.erf()"),
    "Step": Cases({fn: ("[(3, 4)]", f'lambda a: Step.apply(a, fn="{fn}")', f"lambda a: a.{fn}()")
                   for fn in ("floor", "sign", "ceil", "round", "trunc")}),
    "Where": Cases({
        "same_shape": ("[(3, 4), (3, 4)]", "lambda a, b: Where.apply(a, b, condition=MASK)",
                       "lambda a, b: torch.where(torch.from_numpy(MASK), a, b)"),
        "broadcast_b": ("[(3, 4), (4,)]", "lambda a, b: Where.apply(a, b, condition=MASK)",
                        "lambda a, b: torch.where(torch.from_numpy(MASK), a, b)"),
        "column_condition": ("[(3, 4), (3, 4)]", "lambda a, b: Where.apply(a, b, condition=MASK[:, :1])",
                             "lambda a, b: torch.where(torch.from_numpy(MASK[:, :1]), a, b)"),
    }, setup="MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])\n"),
    "Maximum": Cases({
        **{name: (s, "lambda a, b: Maximum.apply(a, b)", "lambda a, b: torch.maximum(a, b)")
           for name, s in (("same_shape", "[(3, 4), (3, 4)]"), ("broadcast_b", "[(3, 4), (4,)]"),
                           ("ties", "[TIES_A, TIES_B]"))},
        "minimum": ("[(3, 4), (3, 4)]", "lambda a, b: Maximum.apply(a, b, smallest=True)",
                    "lambda a, b: torch.minimum(a, b)"),
        "minimum_ties": ("[TIES_A, TIES_B]", "lambda a, b: Maximum.apply(a, b, smallest=True)",
                         "lambda a, b: torch.minimum(a, b)"),
    }, setup="TIES_A = np.array([[1.0, 2.0, -0.5], [0.25, 3.0, 1.0]])\n"
             "TIES_B = np.array([[1.0, 1.0, -0.5], [0.5, 3.0, 2.0]])  # three ties: each side gets half\n"),
    "LogSigmoid": Cases({
        "matrix": ("[(3, 4)]", "lambda a: LogSigmoid.apply(a)", "lambda a: TF.logsigmoid(a)"),
        "large_logits": ("[LARGE]", "lambda a: LogSigmoid.apply(a)", "lambda a: TF.logsigmoid(a)"),
    }, setup="LARGE = np.array([[-800.0, -30.0, 0.0], [30.0, 800.0, -1.5]])  # exp(800) would overflow\n"),
    "Cast": Cases({"to_other_float": ("[(3, 4)]", "lambda a: Cast.apply(a, dtype=OTHER[a.dtype])",
                                      "lambda a: a.double() if a.dtype == torch.float32 else a.float()")},
                  setup="OTHER = {np.dtype(np.float64): np.dtype(np.float32),\n"
                        "         np.dtype(np.float32): np.dtype(np.float64)}  # the other float dtype\n",
                  finite_differences=False),
    "Sum": _reduce("Sum", "sum"),
    "Mean": _reduce("Mean", "mean"),
    "Std": Cases({
        "all": ("[(2, 3, 4)]", "lambda a: Std.apply(a)", "lambda a: a.std()"),
        "dim_1": ("[(2, 3, 4)]", "lambda a: Std.apply(a, dim=1)", "lambda a: a.std(dim=1)"),
        "dims_0_2_keepdim_correction_0": ("[(2, 3, 4)]",
                                          "lambda a: Std.apply(a, dim=(0, 2), correction=0, keepdim=True)",
                                          "lambda a: a.std(dim=(0, 2), correction=0, keepdim=True)"),
        "constant_row": ("[CONSTANT_ROW]", "lambda a: Std.apply(a, dim=1)", "lambda a: a.std(dim=1)"),
    }, setup="CONSTANT_ROW = np.array([[2.0, 2.0, 2.0], [1.0, -1.0, 0.5]])  # row 0: std 0, gradient 0\n"),
    "Max": Cases({
        "all": ("[(2, 3, 4)]", "lambda a: Max.apply(a)", "lambda a: a.max()"),
        "dim_1": ("[(2, 3, 4)]", "lambda a: Max.apply(a, dim=1)", "lambda a: a.max(dim=1)"),
        "dim_last_keepdim": ("[(2, 3, 4)]", "lambda a: Max.apply(a, dim=-1, keepdim=True)",
                             "lambda a: a.max(dim=-1, keepdim=True)"),
        "three_ties": ("[TIES]", "lambda a: Max.apply(a)", "lambda a: a.max()"),
        "min_dim_1": ("[(2, 3, 4)]", "lambda a: Max.apply(a, dim=1, smallest=True)", "lambda a: a.min(dim=1)"),
        "min_two_ties": ("[MIN_TIES]", "lambda a: Max.apply(a, smallest=True)", "lambda a: a.min()"),
    }, setup="TIES = np.array([[1.0, 3.0, 0.5], [3.0, -2.0, 3.0]])  # each 3.0 gets a third of the gradient\n"
             "MIN_TIES = np.array([[1.0, -2.0, 0.5], [-2.0, 3.0, 4.0]])  # each -2.0 gets half of it\n"),
    "CumSum": Cases({f"dim_{d}": (s, f"lambda a: CumSum.apply(a, dim={d})", f"lambda a: torch.cumsum(a, dim={d})")
                     for d, s in ((1, "[(3, 4)]"), (0, "[(3, 4)]"), (-1, "[(2, 3, 4)]"))}),
    "Prod": Cases({
        "all": ("[(2, 3)]", "lambda a: Prod.apply(a)", "lambda a: a.prod()"),
        "dim_1": ("[(2, 3, 4)]", "lambda a: Prod.apply(a, dim=1)", "lambda a: a.prod(dim=1)"),
        "dim_0_keepdim": ("[(3, 4)]", "lambda a: Prod.apply(a, dim=0, keepdim=True)",
                          "lambda a: a.prod(dim=0, keepdim=True)"),
        "zeros_dim_1": ("[ZEROS]", "lambda a: Prod.apply(a, dim=1)", "lambda a: a.prod(dim=1)"),
    }, setup="ZEROS = np.array([[0.5, 0.0, 2.0], [0.0, 3.0, 0.0], [1.5, -2.0, 0.5]])  # one zero, two, none\n"),
    "Reshape": Cases({
        "to_4x6": ("[(2, 3, 4)]", "lambda a: Reshape.apply(a, shape=(4, 6))", "lambda a: a.reshape(4, 6)"),
        "infer_minus_1": ("[(2, 3, 4)]", "lambda a: Reshape.apply(a, shape=(3, -1))", "lambda a: a.reshape(3, -1)"),
    }),
    "Permute": Cases({
        "cycle_2_0_1": ("[(2, 3, 4)]", "lambda a: Permute.apply(a, dims=(2, 0, 1))", "lambda a: a.permute(2, 0, 1)"),
        "transpose": ("[(3, 4)]", "lambda a: Permute.apply(a, dims=(1, 0))", "lambda a: a.permute(1, 0)"),
    }),
    "Expand": Cases({
        "column_to_3x4": ("[(3, 1)]", "lambda a: Expand.apply(a, shape=(3, 4))", "lambda a: a.expand(3, 4)"),
        "new_leading_dims": ("[(4,)]", "lambda a: Expand.apply(a, shape=(2, 3, 4))", "lambda a: a.expand(2, 3, 4)"),
        "keep_minus_1": ("[(1, 4)]", "lambda a: Expand.apply(a, shape=(3, -1))", "lambda a: a.expand(3, -1)"),
    }),
    "GetItem": Cases({  # a[...] on a minigrad Tensor is one GetItem op
        "slices": ("[(4, 5)]", "lambda a: a[1:3, ::2]", "lambda a: a[1:3, ::2]"),
        "int": ("[(4, 5)]", "lambda a: a[1]", "lambda a: a[1]"),
        "repeated_rows": ("[(4, 5)]", "lambda a: a[np.array([0, 2, 0])]", "lambda a: a[torch.tensor([0, 2, 0])]"),
        "bool_mask": ("[(4, 5)]", "lambda a: a[a.data > 0]", "lambda a: a[a > 0]"),
    }),
    "Clamp": Cases({
        "both": ("[(3, 4)]", "lambda a: Clamp.apply(a, lo=-0.5, hi=0.5)", "lambda a: a.clamp(-0.5, 0.5)"),
        "min_only": ("[(2, 3, 4)]", "lambda a: Clamp.apply(a, lo=0.0)", "lambda a: a.clamp(min=0.0)"),
        "at_the_bounds": ("[AT_BOUNDS]", "lambda a: Clamp.apply(a, lo=-1.0, hi=1.0)", "lambda a: a.clamp(-1.0, 1.0)"),
    }, setup="AT_BOUNDS = np.array([[-1.0, 1.0, 0.25], [-3.0, 2.0, 0.5]])  # the ends count as inside\n"),
    "Norm": Cases({
        "all": ("[(2, 3, 4)]", "lambda a: Norm.apply(a)", "lambda a: torch.linalg.vector_norm(a)"),
        "dim_1": ("[(2, 3, 4)]", "lambda a: Norm.apply(a, dim=1)", "lambda a: a.norm(dim=1)"),
        "zero_row_keepdim": ("[ZERO_ROW]", "lambda a: Norm.apply(a, dim=1, keepdim=True)",
                             "lambda a: a.norm(dim=1, keepdim=True)"),
    }, setup="ZERO_ROW = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])  # row 0: norm 0, gradient 0\n"),
    "Fill": Cases({
        "value": ("[(3, 4)]", "lambda a: Fill.apply(a, value=2.5)", "lambda a: a.clone().fill_(2.5)"),
    }),
    "Copy": Cases({
        "same_shape": ("[(3, 4), (3, 4)]", "lambda a, b: Copy.apply(a, b)", "lambda a, b: a.clone().copy_(b)"),
        "broadcast_src": ("[(3, 4), (4,)]", "lambda a, b: Copy.apply(a, b)", "lambda a, b: a.clone().copy_(b)"),
    }),
    "SetItem": Cases({
        "rows": ("[(4, 5), (2, 5)]", "lambda a, b: SetItem.apply(a, b, index=(slice(1, 3),))",
                 "lambda a, b: set_item(a, (slice(1, 3),), b)"),
        "broadcast_column": ("[(4, 5), (4, 1)]", "lambda a, b: SetItem.apply(a, b, index=(slice(None), slice(0, 2)))",
                             "lambda a, b: set_item(a, (slice(None), slice(0, 2)), b)"),
        "picked": ("[(4, 5), (3,)]", "lambda a, b: SetItem.apply(a, b, index=(np.array([0, 2, 3]), np.array([1, 1, 4])))",
                   "lambda a, b: set_item(a, (torch.tensor([0, 2, 3]), torch.tensor([1, 1, 4])), b)"),
    }, setup="def set_item(a, index, v):\n    out = a.clone()\n    out[index] = v\n    return out\n"),
    "Cat": Cases({
        "dim_0": ("[(2, 3), (4, 3)]", "lambda a, b: Cat.apply(a, b, dim=0)", "lambda a, b: torch.cat([a, b], dim=0)"),
        "three_dim_last": ("[(2, 3), (2, 1), (2, 2)]", "lambda a, b, c: Cat.apply(a, b, c, dim=-1)",
                           "lambda a, b, c: torch.cat([a, b, c], dim=-1)"),
    }),
    "Stack": Cases({
        "dim_0": ("[(2, 3), (2, 3)]", "lambda a, b: Stack.apply(a, b, dim=0)",
                  "lambda a, b: torch.stack([a, b], dim=0)"),
        "three_dim_last": ("[(2, 3), (2, 3), (2, 3)]", "lambda a, b, c: Stack.apply(a, b, c, dim=-1)",
                           "lambda a, b, c: torch.stack([a, b, c], dim=-1)"),
    }),
    "MatMul": Cases({name: (shapes, "lambda a, b: MatMul.apply(a, b)", "lambda a, b: a @ b") for name, shapes in {
        "matrix": "[(3, 4), (4, 5)]", "batch_times_matrix": "[(2, 3, 4), (4, 5)]",
        "broadcast_batches": "[(2, 1, 3, 4), (3, 4, 2)]", "vector_matrix": "[(4,), (4, 5)]",
        "matrix_vector": "[(3, 4), (4,)]", "vector_vector": "[(4,), (4,)]"}.items()}),
    "Linear": Cases({
        "with_bias": ("[(5, 4), (3, 4), (3,)]", *_LINEAR),
        "batch_3d": ("[(2, 5, 4), (3, 4), (3,)]", *_LINEAR),
        "no_bias": ("[(5, 4), (3, 4)]", "lambda x, w: F.linear(x, w)", "lambda x, w: TF.linear(x, w)"),
    }),
    "Softmax": Cases({f"dim_{d}": (s, f"lambda x: F.softmax(x, dim={d})", f"lambda x: torch.softmax(x, dim={d})")
                      for d, s in ((-1, "[(3, 5)]"), (0, "[(3, 5)]"), (1, "[(2, 3, 4)]"))}),
    "LogSoftmax": Cases({f"dim_{d}": (s, f"lambda x: F.log_softmax(x, dim={d})",
                                      f"lambda x: torch.log_softmax(x, dim={d})")
                         for d, s in ((-1, "[(3, 5)]"), (0, "[(3, 5)]"), (1, "[(2, 3, 4)]"))}),
    "CrossEntropy": Cases({
        **{name: ("[(4, 5)]", f"lambda x: F.cross_entropy(x, TARGETS{kw})",
                  f"lambda x: TF.cross_entropy(x, torch.from_numpy(TARGETS){kw})")
           for name, kw in (("mean", ""), ("label_smoothing", ", label_smoothing=0.1"),
                            ("sum", ', reduction="sum"'), ("none", ', reduction="none"'))},
        "weight_ignore_index": ("[(4, 5)]", "lambda x: F.cross_entropy(x, TARGETS, weight=WEIGHT, ignore_index=0)",
                                "lambda x: TF.cross_entropy(x, torch.from_numpy(TARGETS), "
                                "weight=torch.from_numpy(WEIGHT).to(x.dtype), ignore_index=0)"),
        "spatial_none": ("[(2, 5, 3)]", 'lambda x: F.cross_entropy(x, SPATIAL, reduction="none")',
                         'lambda x: TF.cross_entropy(x, torch.from_numpy(SPATIAL), reduction="none")'),
        "probabilities_with_grad": ("[(4, 5), PROBS]", "lambda x, q: F.cross_entropy(x, q, label_smoothing=0.2)",
                                    "lambda x, q: TF.cross_entropy(x, q, label_smoothing=0.2)"),
    }, setup="TARGETS = np.array([1, 0, 3, 2])  # the class of each of the 4 rows (no gradient)\n"
             "WEIGHT = np.array([0.5, 1.0, 2.0, 1.5, 0.25])  # one weight per class\n"
             "SPATIAL = np.array([[0, 4, 2], [1, 1, 3]])  # a class at each of the 2 x 3 positions\n"
             "PROBS = np.full((4, 5), 0.05) + 0.75 * np.eye(5)[[1, 0, 3, 2]]  # class probabilities, rows sum to 1\n"),
    "BinaryCrossEntropy": Cases({
        "mean": ("[PROBS, TARGETS]", "lambda p, t: BinaryCrossEntropy.apply(p, t)",
                 "lambda p, t: TF.binary_cross_entropy(p, t)"),
        "sum_weighted": ("[PROBS, TARGETS]", 'lambda p, t: BinaryCrossEntropy.apply(p, t, weight=WEIGHT, reduction="sum")',
                         'lambda p, t: TF.binary_cross_entropy(p, t, weight=torch.from_numpy(WEIGHT), reduction="sum")'),
        "none": ("[PROBS, TARGETS]", 'lambda p, t: BinaryCrossEntropy.apply(p, t, reduction="none")',
                 'lambda p, t: TF.binary_cross_entropy(p, t, reduction="none")'),
        "at_0_and_1": ("[EDGES, TARGETS]", "lambda p, t: BinaryCrossEntropy.apply(p, t)", "clamped_bce"),
    }, setup=_BCE_SETUP),
    "GeluTanh": _unary("GeluTanh", 'TF.gelu(a, approximate="tanh")'),
    "GeluErf": _unary("GeluErf", 'TF.gelu(a, approximate="none")'),
    "LayerNorm": Cases({
        "last_dim": _ln("[(3, 4), (4,), (4,)]", "(4,)"),
        "batch_3d": _ln("[(2, 3, 4), (4,), (4,)]", "(4,)"),
        "last_two_dims": _ln("[(2, 3, 4), (3, 4), (3, 4)]", "(3, 4)"),
    }),
    "Dropout": Cases({
        f"p_{p}": (s, f"lambda x: seeded_dropout(x, {p})", f"lambda x: x * drawn_mask(x, {p})")
        for p, s in ((0.25, "[(6, 7)]"), (0.5, "[(2, 3, 4)]"))
    }, setup=_DROPOUT_SETUP),
    "Im2Col": Cases({
        "overlapping_3x3": _im2col("[(1, 2, 4, 4)]", "(3, 3)", "(1, 1)", "(1, 1)"),
        "patchify_2x2": _im2col("[(2, 3, 4, 6)]", "(2, 2)", "(2, 2)", "(0, 0)"),
        "stride_2_padded": _im2col("[(1, 2, 6, 6)]", "(3, 3)", "(2, 2)", "(1, 1)"),
        "nonsquare": _im2col("[(1, 2, 5, 6)]", "(2, 3)", "(2, 1)", "(1, 0)"),
        "dilated_2x3": _im2col("[(1, 2, 7, 8)]", "(2, 2)", "(1, 2)", "(1, 1)", "(2, 3)"),
    }, setup=_UNFOLD_SETUP),
    "InterpolateNearest": Cases({
        "up_scale_2": _interp("[(2, 3, 3, 4)]", "scale_factor=2"),
        "down_size_3x2": _interp("[(1, 2, 5, 4)]", "size=(3, 2)"),
        "nearest_exact_7x5": _interp("[(1, 2, 4, 3)]", 'size=(7, 5), mode="nearest-exact"'),
        "1d_scale_1.7": _interp("[(2, 3, 5)]", "scale_factor=1.7"),
    }),
    "InterpolateLinear": Cases({
        "bilinear_up_7x5": _interp("[(1, 2, 3, 4)]", 'size=(7, 5), mode="bilinear"'),
        "bilinear_align_corners_down": _interp("[(2, 2, 6, 5)]", 'size=(4, 3), mode="bilinear", align_corners=True'),
        "linear_scale_1.7": _interp("[(2, 3, 5)]", 'scale_factor=1.7, mode="linear"'),
        "trilinear_scale_0.6": _interp("[(1, 2, 4, 3, 5)]", 'scale_factor=0.6, mode="trilinear"'),
    }),
    "ScaledDotProductAttention": Cases({
        "self_attention": _sdpa("[(2, 3, 4)] * 3"),
        "Tq3_Tk5_dv6": _sdpa("[(1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 6)]"),
        "causal": _sdpa("[(2, 4, 4)] * 3", ", is_causal=True"),
        "scale_0.3": _sdpa("[(2, 3, 4)] * 3", ", scale=0.3"),
    }),
    # PyTorch's oracle is its own backward op (torch.ops.aten.*_backward*), whose gradient is the formula
    # torch.autograd.grad(..., create_graph=True) differentiates: PyTorch's double backward
    "TanhBackward": Cases({name: (s, "lambda g, y: TanhBackward.apply(g, y)",
                                  "lambda g, y: torch.ops.aten.tanh_backward(g, y)")
                           for name, s in (("matrix", "[(3, 4), (3, 4)]"), ("3d", "[(2, 3, 4), (2, 3, 4)]"))}),
    "SoftmaxBackwardData": Cases({f"dim_{d}": (s, f"lambda g, y: SoftmaxBackwardData.apply(g, y, dim={d})",
                                               f"lambda g, y: torch.ops.aten._softmax_backward_data(g, y, {d}, y.dtype)")
                                  for d, s in ((-1, "[(3, 5), (3, 5)]"), (0, "[(3, 5), (3, 5)]"),
                                               (1, "[(2, 3, 4), (2, 3, 4)]"))}),
    "LogSoftmaxBackwardData": Cases({
        f"dim_{d}": (s, f"lambda g, y: LogSoftmaxBackwardData.apply(g, y, dim={d})",
                     f"lambda g, y: torch.ops.aten._log_softmax_backward_data(g, y, {d}, y.dtype)")
        for d, s in ((-1, "[(3, 5), (3, 5)]"), (0, "[(3, 5), (3, 5)]"), (1, "[(2, 3, 4), (2, 3, 4)]"))}),
    "GeluTanhBackward": Cases({name: (s, "lambda g, x: GeluTanhBackward.apply(g, x)",
                                      'lambda g, x: torch.ops.aten.gelu_backward(g, x, approximate="tanh")')
                               for name, s in (("matrix", "[(3, 4), (3, 4)]"), ("3d", "[(2, 3, 4), (2, 3, 4)]"))}),
}
