"""The exercises, easy to hard: for each op, the forward, what to derive, the formula, and PyTorch's way.

Exercise N is the N-th entry of EXERCISES; its tests carry the marker `exercise_N`. Every
`Function` subclass in minigrad must be listed here (`unlisted_functions` finds the ones that
are not), so a new op cannot escape the exercises.

The last group differentiates a backward: its ops (minigrad/functional/backward_ops.py) are the
first-order formulas of tanh, softmax, log-softmax and GELU as ops, so their backward is a second
derivative, graded against PyTorch's double backward as the others are against its backward.
"""
from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Exercise:
    op: str  # the Function subclass whose backward the learner writes, e.g. "Mul"
    group: str  # the EXERCISES.md section it belongs to
    forward: str  # what forward computes
    task: str  # what to derive and what forward saved, without the answer (the stub's comment)
    hint: str  # the gradient formula, in words a learner can turn into NumPy (`exercises hint N`)
    pytorch: str  # what PyTorch does for the same op (derivatives.yaml entry or a description)


def _ex(op: str, group: str, forward: str, task: str, hint: str, pytorch: str) -> Exercise:
    return Exercise(op, group, forward, task, hint, pytorch)


ELEMENTWISE, REDUCE, MOVE, MATRIX, FUSED, SECOND = (
    "Elementwise ops", "Reductions", "Moving elements", "Matrix products", "Fused ops (hard)",
    "Second derivatives: the backward of a backward",
)

EXERCISES: list[Exercise] = [
    _ex("Add", ELEMENTWISE, "out = a + b",
        "d out/da and d out/db; forward saved nothing: what does each input receive from grad?",
        "d out/da = d out/db = 1: both inputs receive grad unchanged. Return the broadcast-shaped grad "
        "for both; the engine sums it back to each input's shape.",
        "derivatives.yaml `add.Tensor`: self: grad, other: grad * alpha (autograd then sums to each input's size)"),
    _ex("Sub", ELEMENTWISE, "out = a - b", "d out/da and d out/db (mind the sign of b); forward saved nothing.",
        "grad_a = grad, grad_b = -grad.",
        "derivatives.yaml `sub.Tensor`: self: grad, other: -grad * alpha"),
    _ex("Neg", ELEMENTWISE, "out = -a", "d out/da; forward saved nothing.",
        "grad_a = -grad.", "derivatives.yaml `neg`: grad.neg()"),
    _ex("Mul", ELEMENTWISE, "out = a * b",
        "d out/da and d out/db; forward saved (a, b) in ctx.saved_tensors. Return None for an "
        "input whose ctx.needs_input_grad[i] is False.",
        "grad_a = grad * b, grad_b = grad * a. forward saved (a, b) in ctx.saved_tensors; return None for an "
        "input whose ctx.needs_input_grad[i] is False.",
        "derivatives.yaml `mul.Tensor`: mul_tensor_backward(grad, other) = grad * other, and grad * self for other"),
    _ex("Div", ELEMENTWISE, "out = a / b", "d out/da and d out/db (b appears in the denominator); forward saved (a, b).",
        "grad_a = grad / b, grad_b = -grad * a / b^2.",
        "derivatives.yaml `div.Tensor`: div_tensor_self_backward = grad / other, "
        "div_tensor_other_backward = -grad * self / other^2"),
    _ex("PowScalar", ELEMENTWISE, "out = a^c for a constant c (ctx.exponent)",
        "d out/da for a constant exponent c = ctx.exponent; forward saved a. What happens at c =="
        " 0? Keep float32 float32: turn c into a.dtype.type(c).",
        "grad_a = grad * c * a^(c-1), with c = a.dtype.type(ctx.exponent). For c == 0 the output "
        "is constant: return zeros (a^(c-1) would be inf at a == 0).",
        "derivatives.yaml `pow.Tensor_Scalar`: pow_backward(grad, self, exponent) = 0 if exponent == 0, "
        "else grad * exponent * self^(exponent - 1)"),
    _ex("Pow", ELEMENTWISE, "out = a^b with both a and b tensors",
        "d out/da and d out/db with both a and b tensors; forward saved (a, b, out). Where is "
        "each derivative undefined, and what does PyTorch return there?",
        "grad_a = grad * b * a^(b-1) (0 where b == 0); grad_b = grad * a^b * log(a) (0 where a <= 0, "
        "whose log is undefined). forward saved (a, b, out).",
        "derivatives.yaml `pow.Tensor_Tensor`: pow_backward_self (masked to 0 where exponent == 0) and "
        "pow_backward_exponent = grad * result * log(self) (0 where self == 0)"),
    _ex("Exp", ELEMENTWISE, "out = e^a",
        "d out/da; forward saved its output: is that all you need?",
        "grad_a = grad * e^a; forward saved its output, which is exactly e^a: reuse it.",
        "derivatives.yaml `exp`: grad * result"),
    _ex("Log", ELEMENTWISE, "out = log(a)", "d out/da; forward saved a.",
        "grad_a = grad / a.", "derivatives.yaml `log`: grad.div(self)"),
    _ex("Sqrt", ELEMENTWISE, "out = sqrt(a)", "d out/da; forward saved its output sqrt(a).",
        "grad_a = grad / (2 sqrt(a)), and forward saved sqrt(a).",
        "derivatives.yaml `sqrt`: grad / (2 * result)"),
    _ex("Tanh", ELEMENTWISE, "out = tanh(a)", "d out/da in terms of the saved output tanh(a).",
        "grad_a = grad * (1 - tanh(a)^2), from the saved output.",
        "derivatives.yaml `tanh`: tanh_backward(grad, result) = grad * (1 - result^2)"),
    _ex("Relu", ELEMENTWISE, "out = max(a, 0)",
        "d out/da; forward saved the mask a > 0. What is the derivative at a == 0 in PyTorch?",
        "grad_a = grad where a > 0, else 0 (at a == 0 PyTorch also picks 0). forward saved the mask a > 0.",
        "derivatives.yaml `relu`: threshold_backward(grad, result, 0): grad where result > 0, else 0"),
    _ex("Sigmoid", ELEMENTWISE, "out = 1 / (1 + e^-a)",
        "d out/da in terms of the saved output.",
        "grad_a = grad * out * (1 - out), from the saved output.",
        "derivatives.yaml `sigmoid`: sigmoid_backward(grad, result) = grad * result * (1 - result)"),
    _ex("Abs", ELEMENTWISE, "out = |a|", "d out/da; forward saved sign(a).",
        "grad_a = grad * sign(a) (0 at a == 0); forward saved sign(a).",
        "derivatives.yaml `abs`: grad * self.sgn()"),
    _ex("Sin", ELEMENTWISE, "out = sin(a)", "d out/da; forward saved a.",
        "grad_a = grad * cos(a).", "derivatives.yaml `sin`: grad * self.cos().conj()"),
    _ex("Cos", ELEMENTWISE, "out = cos(a)", "d out/da (mind the sign); forward saved a.",
        "grad_a = -grad * sin(a).", "derivatives.yaml `cos`: grad * -self.sin().conj()"),
    _ex("Log1p", ELEMENTWISE, "out = log(1 + a), exact for small a", "d out/da; forward saved a.",
        "grad_a = grad / (1 + a); write the 1 as a.dtype.type(1) so float32 stays float32.",
        "derivatives.yaml `log1p`: log1p_backward(grad, self) = grad / (self + 1)"),
    _ex("Expm1", ELEMENTWISE, "out = e^a - 1, exact for small a",
        "d out/da; forward saved its output: how do you get e^a back from it?",
        "grad_a = grad * e^a = grad * (out + 1), from the saved output.",
        "derivatives.yaml `expm1`: grad * (result.conj() + 1)"),
    _ex("Erf", ELEMENTWISE, "out = erf(a) = 2/sqrt(pi) * (the integral of exp(-t^2) from 0 to a)",
        "d out/da; forward saved a. The derivative of an integral with respect to its upper limit is the "
        "integrand there.",
        "grad_a = grad * 2/sqrt(pi) * exp(-a^2), the constant in a's dtype (a.dtype.type) so float32 stays float32.",
        "derivatives.yaml `erf`: 2.0 / sqrt(M_PI) * exp(-(self.pow(2))) * grad"),
    _ex("Step", ELEMENTWISE, "out = sign(a), floor(a), ceil(a), round(a) or trunc(a) (the argument fn)",
        "d out/da of a piecewise-constant function; forward saved nothing. What does PyTorch return at the "
        "jumps, where there is no derivative?",
        "The output is flat between the jumps, so grad_a = zeros shaped like grad; at a jump PyTorch takes 0 too.",
        "derivatives.yaml `sign`, `floor`, `ceil`, `round`, `trunc`: zeros_like(grad)"),
    _ex("Where", ELEMENTWISE, "out = a where condition, else b (condition: a bool array, broadcast with a and b)",
        "d out/da and d out/db: each element of out came from one of them. Forward saved the condition.",
        "grad_a = grad where condition, else 0; grad_b = 0 where condition, else grad (np.where); the engine "
        "sums broadcast gradients back to each input's shape.",
        "derivatives.yaml `where.self`: self: where(condition, grad, 0), other: where(condition, 0, grad)"),
    _ex("Maximum", ELEMENTWISE, "out = max(a, b) elementwise (smallest=True: min(a, b))",
        "d out/da and d out/db; forward saved (a, b) and ctx.smallest. Where a == b both are the max: "
        "how does PyTorch share the gradient there?",
        "The gradient goes to the input that was picked: grad_a = grad where a > b (a < b for the min), 0 where "
        "it lost; at a tie a == b each gets grad / 2. A NaN loses to nothing: both get grad.",
        "derivatives.yaml `maximum`: self: at::where(self == other, grad / 2, grad).masked_fill_(self < other, 0), "
        "other: the same, masked where self > other"),
    _ex("LogSigmoid", ELEMENTWISE, "y = log sigmoid(x) = min(x, 0) - log(1 + e^-|x|)",
        "dy/dx; forward saved x and e = e^-|x| (in (0, 1], never overflowing). Write it without exp(-x).",
        "dy/dx = 1 - sigmoid(x) = sigmoid(-x): e / (1 + e) where x >= 0, 1 / (1 + e) where x < 0.",
        "derivatives.yaml `log_sigmoid_forward`: log_sigmoid_backward(grad, self, buffer) = grad * sigmoid(-x), "
        "computed from the buffer e^-|x|"),
    _ex("Cast", ELEMENTWISE, "out = a converted to another dtype",
        "the gradient of a dtype conversion; forward saved the input's dtype as ctx.in_dtype. A "
        "gradient always has its input's dtype.",
        "The values pass through unchanged, so grad_a = grad, converted back to the input's dtype "
        "(ctx.in_dtype): a gradient always has its input's dtype.",
        "derivatives.yaml `_to_copy`: _to_copy_backward(grad, self.options()) = grad converted to self's dtype"),
    _ex("Sum", REDUCE, "out = a summed over ctx.axes (kept as size 1 if ctx.keepdim)",
        "each input element's share of the sum's gradient; forward saved ctx.axes, ctx.keepdim "
        "and ctx.in_shape. grad has the reduced shape: how do you get back to the input's?",
        "Every element of a adds into the sum with weight 1, so each gets the grad of the sum it went into: "
        "put back the reduced axes (size 1) unless keepdim, then broadcast to a's shape (ctx.in_shape). "
        "The file's _grad_to_input_shape helper does exactly that.",
        "derivatives.yaml `sum.dim_IntList`: sum_backward(grad, sizes, dim, keepdim) unsqueezes the reduced "
        "dims and expands to self's sizes"),
    _ex("Mean", REDUCE, "out = (sum of a over ctx.axes) / ctx.count",
        "as Sum, with each element weighted by 1 / ctx.count; keep float32 float32.",
        "As Sum, with each element weighted 1 / count: grad_a = grad / count broadcast back to a's shape. "
        "Divide by grad.dtype.type(count) so float32 stays float32.",
        "derivatives.yaml `mean.dim`: mean_backward = sum_backward(grad, ...) / (number of reduced elements)"),
    _ex("Max", REDUCE, "out = the largest element (over a dim: of each row along ctx.axis); smallest=True: the "
        "smallest (torch.min)",
        "where the gradient of a max goes; forward saved the arg-max index (over a dim, with "
        "ctx.axis) or the mask of ties a == max (over the whole tensor), and the same for the min when "
        "smallest=True. How does torch.max() share it between ties?",
        "Over a dim the whole grad goes to the arg-max (forward saved its index: np.put_along_axis into "
        "zeros); over the whole tensor it is shared evenly between ties (saved: the mask a == max).",
        "derivatives.yaml `max.dim`: value_selecting_reduction_backward(grad, dim, indices, sizes, keepdim) "
        "scatters grad to the indices; `max`: evenly_distribute_backward(grad, self, result)"),
    _ex("Std", REDUCE, "out = sqrt(sum((a - mean)^2) / (N - correction)) over ctx.axes (kept as size 1 if ctx.keepdim)",
        "d out/da of the standard deviation; forward saved a and its output, and ctx.dof = N - correction "
        "(the file's _centered(a, ctx.axes) gives a - mean). The mean depends on a too: does its "
        "part of the gradient survive? What should a constant row (y = 0) get?",
        "grad_a = grad * centered / (dof * y), with the reduced axes of grad and of the output y put back "
        "(np.expand_dims) unless keepdim: the mean's own contribution sums to 0 over each row. Where y == 0 "
        "PyTorch takes the gradient as 0, not 0 / 0: np.where(y == 0, 0, ...).",
        "derivatives.yaml `std.correction`: std_backward(result, grad, self, dim, correction, keepdim) = "
        "var_backward(grad / (2 * result), ...) with 0 where result == 0; var_backward = grad * 2 (x - mean) / dof"),
    _ex("Clamp", ELEMENTWISE, "out = min(max(a, lo), hi) for constant bounds ctx.lo, ctx.hi (either may be None)",
        "d out/da: where does a clamped element's output stop depending on a? Forward saved the mask of the "
        "elements inside the bounds. Is an element exactly at a bound inside?",
        "grad_a = grad * inside: 1 where lo <= a <= hi (both ends included, as PyTorch), 0 where the bound "
        "replaced a.",
        "derivatives.yaml `clamp`: clamp_backward(grad, self, min, max) = grad where min <= self <= max, else 0"),
    _ex("Norm", REDUCE, "out = sqrt(sum(a^2)) over ctx.axes (the 2-norm; kept as size 1 if ctx.keepdim)",
        "d out/da of the Euclidean norm; forward saved a and its output y (reduced axes dropped unless "
        "ctx.keepdim). What should a zero vector (y = 0) get?",
        "grad_a = grad * a / y, with the reduced axes of grad and y put back (np.expand_dims) unless keepdim; "
        "where y == 0 PyTorch takes a / y as 0, not 0 / 0: grad * np.where(y == 0, 0, a / y).",
        "derivatives.yaml `linalg_vector_norm`: norm_backward(grad, self, ord, result, dim, keepdim) = "
        "grad * self / result for ord 2, masked to 0 where result == 0"),
    _ex("CumSum", REDUCE, "out_i = a_1 + ... + a_i along ctx.axis",
        "d out/da_j: which outputs does a_j add into? forward saved ctx.axis.",
        "a_j adds into every out_i with i >= j, so grad_a_j = grad_j + ... + grad_n: a cumulative sum of grad "
        "taken from the end (np.flip, np.cumsum, np.flip back along ctx.axis).",
        "derivatives.yaml `cumsum`: cumsum_backward(grad, dim) = grad.flip(dim).cumsum(dim).flip(dim)"),
    _ex("Prod", REDUCE, "out = a_1 a_2 ... a_n over all elements (ctx.axis None) or along ctx.axis "
        "(kept as size 1 if ctx.keepdim)",
        "d out/da_j, the product of all the others; forward saved a. out / a_j is that product, except "
        "where a_j == 0: find a form that never divides.",
        "The product of the others is (a_1 ... a_(j-1)) (a_(j+1) ... a_n): an exclusive cumulative product "
        "from the left times one from the right (np.cumprod of the row with a 1 put in front, and the same on "
        "the flipped row). Put grad's reduced axis back (unless keepdim) and multiply.",
        "derivatives.yaml `prod.dim_int`: prod_backward(grad, self, result, dim, keepdim) = grad * result / self "
        "without zeros, else the product of the others through exclusive cumprods"),
    _ex("Reshape", MOVE, "out = a viewed with another shape",
        "the gradient of a view with another shape; forward saved ctx.in_shape.",
        "The elements do not move in memory order: grad_a = grad reshaped back to ctx.in_shape.",
        "derivatives.yaml `view`: grad.reshape(self.sizes())"),
    _ex("Permute", MOVE, "out = a with its axes reordered by ctx.dims",
        "the gradient of reordering the axes by ctx.dims: which permutation brings grad back?",
        "grad_a = grad permuted by the inverse permutation (np.argsort(ctx.dims)), not by dims again.",
        "derivatives.yaml `permute`: permute_backwards(grad, dims) applies the inverse permutation"),
    _ex("Expand", MOVE, "out = a broadcast to a larger shape (no copy)",
        "each input element was used once per copy: what is its gradient, and who sums the "
        "copies?",
        "Each element of a was used once per copy, so its gradient is the sum over the copies. The engine's "
        "unbroadcast already sums a gradient back to the input's shape: returning grad is enough.",
        "derivatives.yaml `expand`: at::sum_to(grad, self.sizes())"),
    _ex("GetItem", MOVE, "out = a[index] (slices, ints, integer and boolean arrays)",
        "the gradient of x[index]; forward saved ctx.in_shape and ctx.index. What if an integer "
        "array picks an element twice?",
        "grad_a = zeros of a's shape (ctx.in_shape) with grad added at ctx.index. An integer array can pick an "
        "element twice: use np.add.at, since out[index] = grad would keep only one of the two.",
        "derivatives.yaml `index.Tensor`: index_backward = zeros.index_put_(indices, grad, accumulate=True); "
        "slicing: slice_backward / select_backward"),
    _ex("Fill", MOVE, "out = the constant value, in a's shape and dtype (x.fill_(v), x.zero_())",
        "d out/da when out does not depend on a at all; forward saved nothing.",
        "The output is a constant: grad_a = zeros shaped like grad.",
        "derivatives.yaml `fill_.Scalar`: self: zeros_like(grad)"),
    _ex("Copy", MOVE, "out = src broadcast to a's shape, in a's dtype (x.copy_(src))",
        "d out/da and d out/dsrc: which of the two does the output come from? Forward saved src's dtype "
        "as ctx.src_dtype; the engine sums a broadcast src back to its shape.",
        "grad_a = zeros (a is overwritten); grad_src = grad converted to ctx.src_dtype.",
        "derivatives.yaml `copy_`: self: zeros_like(grad), src: grad converted to src's dtype and summed to its size"),
    _ex("SetItem", MOVE, "out = a with out[ctx.index] = v (x[index] = v)",
        "d out/da and d out/dv: which elements of out come from a, and which from v? Forward saved ctx.index "
        "and v's dtype as ctx.v_dtype.",
        "grad_a = grad with the overwritten places (grad_a[ctx.index] = 0) zeroed; grad_v = grad[ctx.index] "
        "in ctx.v_dtype (the engine sums a broadcast v back to its shape).",
        "PyTorch records setitem as CopySlices around index_put_: self: grad.index_put(indices, zeros), "
        "values: grad.index(indices) summed to values' size"),
    _ex("Cat", MOVE, "out = a_1, ..., a_n joined along ctx.axis",
        "each input's slice of grad; forward saved ctx.axis and the sizes along it (ctx.sizes). "
        "Return one gradient per input, as a tuple.",
        "Input i's gradient is the slice of grad that came from it: np.split grad at the cumulative sizes "
        "(ctx.sizes) along ctx.axis, and return one gradient per input as a tuple.",
        "derivatives.yaml `cat`: cat_tensors_backward(grad, sizes, dtypes, dim) narrows grad into the pieces"),
    _ex("Stack", MOVE, "out = a_1, ..., a_n stacked along a new axis ctx.axis",
        "each input's slice of grad along the new axis ctx.axis; return a tuple, one per input.",
        "Input i's gradient is grad indexed at i along ctx.axis (np.moveaxis that axis to the front and "
        "unpack); return a tuple, one per input.",
        "derivatives.yaml `stack`: stack_tensors_backward(grad, dim) = grad.unbind(dim)"),
    _ex("MatMul", MATRIX, "out = a @ b (NumPy's rules: broadcast batch dims, 1-D operands)",
        "dL/da and dL/db of a @ b; forward saved (a, b). Check the shapes: which products give "
        "(m, k) and (k, n)? NumPy's rules also allow 1-D operands (a unit dim the product "
        "dropped) and broadcast batch dims (the engine sums those).",
        "grad_a = grad @ b^T and grad_b = a^T @ grad, transposing the last two dims; the engine sums over "
        "broadcast batch dims. A 1-D a is a (1, n) matrix and a 1-D b an (n, 1) one whose unit dim the "
        "product dropped: put it back in grad, multiply, then drop it again.",
        "`matmul` is composite: it calls mm/bmm, whose derivatives are mm_mat1_backward = grad @ mat2^T "
        "and mm_mat2_backward = mat1^T @ grad"),
    _ex("Linear", MATRIX, "y = x W^T + b;  x: (..., in), W: (out, in), b: (out,)",
        "dL/dx, dL/dW and dL/db of y = x W^T + b; forward saved (x, weight). x may be (..., in): "
        "every row of the batch adds into dW and db. Without a bias there are two inputs, so "
        "return two gradients.",
        "grad_x = grad @ W (x's shape); with g2 = grad as (N, out) and x2 = x as (N, in): grad_W "
        "= g2^T @ x2 and grad_b = g2 summed over the N rows. Return (grad_x, grad_W, "
        "grad_b)[:len(ctx.inputs)].",
        "`linear` is composite: addmm(bias, x, W^T), with derivatives mm_mat1_backward, mm_mat2_backward "
        "and maybe_multiply(grad, beta) summed down to the bias"),
    _ex("Softmax", FUSED, "y_i = exp(x_i) / sum_j exp(x_j) along ctx.axis",
        "dL/dx of y = softmax(x) along ctx.axis, from the saved output y, without building the "
        "Jacobian.",
        "The Jacobian is diag(y) - y y^T, so grad_x = y * (grad - sum(grad * y, axis, keepdims)) with y the "
        "saved output: one line, no Jacobian matrix.",
        "derivatives.yaml `_softmax`: _softmax_backward_data(grad, output, dim) = "
        "output * (grad - (grad * output).sum(dim, keepdim))"),
    _ex("LogSoftmax", FUSED, "y_i = x_i - log sum_j exp(x_j) along ctx.axis",
        "dL/dx of y = log softmax(x) along ctx.axis, from the saved y (what is softmax(x) in "
        "terms of y?).",
        "grad_x = grad - softmax(x) * sum(grad, axis, keepdims), and softmax(x) = exp(y) from the saved y.",
        "derivatives.yaml `_log_softmax`: _log_softmax_backward_data = grad - exp(output) * grad.sum(dim, keepdim)"),
    _ex("CrossEntropy", FUSED,
        "loss = -sum_c q_c log softmax(logits)_c at each position, q = w_c ((1-e) onehot(t) + e/C) (0 where "
        "t == ignore_index) or w_c ((1-e) t_c + e/C) for class probabilities; then mean (/ divisor), sum or none",
        "dL/dlogits of the cross-entropy against the weighted, smoothed target distribution q, and "
        "dL/dtarget when the targets are class probabilities that require grad "
        "(ctx.needs_input_grad[1]); forward saved log softmax(logits), q, the divisor of 'mean' and "
        "the class weights (or None), and ctx.axis (the class dim), ctx.reduction, ctx.smoothing. "
        "A row of q need not sum to 1 (weights, ignored targets).",
        "d loss / d logits = softmax(logits) * sum_c q_c - q along ctx.axis (softmax = exp of the saved "
        "log-softmax). Reduction: 'mean' divides grad by the divisor, 'none' gives each position its own "
        "grad (np.expand_dims(grad, ctx.axis)). Class-index targets get None; probability targets that "
        "require grad get -(1 - e) * w_c * log softmax(logits)_c * grad (w reshaped along ctx.axis).",
        "composite: log_softmax then nll_loss (class indices; nll_loss_backward puts -w[t] grad, / sum w[t] for "
        "mean, at the targets) or -(log_softmax * target * w).sum() (probabilities, differentiable in target); "
        "label smoothing adds the e/C term (cross_entropy_loss_label_smoothing in LossNLL.cpp)"),
    _ex("BinaryCrossEntropy", FUSED,
        "loss = -w (t log p + (1 - t) log(1 - p)) per element, each log at least -100; then mean (/ number of "
        "elements), sum or none",
        "dL/dp and, when the targets require grad (ctx.needs_input_grad[1]), dL/dt; forward saved p, t and the "
        "weight (or None), and ctx.reduction. Where p is 0 or 1 PyTorch keeps the gradient finite: how?",
        "dL/dp = g w (p - t) / max(p (1 - p), 1e-12) and dL/dt = g w (log(1 - p) - log p), with g = grad / "
        "p.size for 'mean', else grad (a per-element grad for 'none'). Keep the constants in p's dtype.",
        "derivatives.yaml `binary_cross_entropy`: binary_cross_entropy_backward(grad, self, target, weight, "
        "reduction) = grad * w * (self - target) / max((1 - self) * self, EPSILON); target: "
        "binary_cross_entropy_target_backward = -grad * w * logit(self)"),
    _ex("GeluTanh", FUSED, "y = 0.5 x (1 + tanh u) = x s, s = sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) "
        "(the tutorial's NewGELU)",
        "dy/dx of y = 0.5 x (1 + tanh(u)); forward saved x and t = tanh(u). Use the chain rule "
        "through u, with the constants in x's dtype (the file's _constants helper) so float32 stays float32.",
        "dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx,  du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).",
        "derivatives.yaml `gelu`: gelu_backward(grad, self, approximate='tanh'), the same formula"),
    _ex("GeluErf", FUSED, "y = x Phi(x), Phi the standard normal CDF",
        "dy/dx of y = x Phi(x); forward saved x and Phi(x). What is dPhi/dx?",
        "dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi); forward saved x and Phi(x).",
        "derivatives.yaml `gelu`: gelu_backward(grad, self, approximate='none')"),
    _ex("LayerNorm", FUSED,
        "x as rows (N, D), D = the normalized size: xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps) per "
        "row;  y = xhat * w + b",
        "dL/dx, dL/dw and dL/db of y = xhat * w + b; forward saved xhat, rstd (with size-1 dims "
        "over ctx.axes) and w. Mean and variance depend on every element of a row: differentiate "
        "through them. dw and db may be returned in x's shape: the engine sums them over the "
        "batch dims.",
        "With gh = grad * w, means over ctx.axes (keepdims): grad_x = rstd * (gh - mean(gh) - "
        "xhat * mean(gh * xhat)); grad_w = grad * xhat; grad_b = grad.",
        "derivatives.yaml `native_layer_norm`: native_layer_norm_backward(grad, input, normalized_shape, mean, "
        "rstd, weight, bias, output_mask), the same three formulas"),
    _ex("Dropout", FUSED, "y = x * keep / (1 - p), keep a bool mask drawn once in forward",
        "the gradient of y = x * keep / (1 - p); forward saved the bool mask keep and ctx.p.",
        "grad_x = grad * keep / (1 - p) with the saved keep and ctx.p: the same elements are dropped, the "
        "same scale applied (the file's apply_keep does exactly that).",
        "derivatives.yaml `native_dropout`: native_dropout_backward(grad, mask, scale) = grad * mask * scale"),
    _ex("Im2Col", FUSED,
        "conv-as-matmul: out[b, i, j, (c, u, v)] = x_padded[b, c, i*sh + u*dh, j*sw + v*dw], then conv2d = linear",
        "col2im: the gradient of cutting the padded image into (kh, kw) windows at the strides, "
        "their taps a dilation apart; forward saved ctx.x_shape and ctx.params (kernel, stride, "
        "padding, dilation). Windows overlap when stride < kernel.",
        "Add each patch's gradient back to the pixels it was cut from: for each kernel tap (i, j) "
        "add grad[..., (c, i, j)] into gx[:, c, i*dh + sh * r, j*dw + sw * s] (+=, since windows "
        "overlap), in a zero array of the padded size, then cut the padding away.",
        "F.unfold is im2col, and derivatives.yaml `im2col` is col2im(grad, ...) (= F.fold); torch's own conv2d "
        "backward (convolution_backward) computes the same sums without building the patch matrix"),
    _ex("InterpolateNearest", FUSED,
        "out = x gathered along each spatial axis of (N, C, *in): output o reads source pixel "
        "min(floor(o * scale), in - 1) (nearest-exact: floor((o + 0.5) * scale)), scale = in / out or "
        "1 / scale_factor",
        "the gradient of gathering source pixels along each spatial axis; forward saved one index"
        " array per spatial axis (ctx.saved_tensors[k] is axis 2 + k's) and ctx.x_shape. Several "
        "outputs can read one pixel.",
        "Backward is the scatter-add of that gather. forward saved one index array per spatial axis "
        "(ctx.saved_tensors[k] is axis 2 + k's) and the input's shape (ctx.x_shape). Undo one axis at a time: "
        "zeros with the input's size on that axis, then add each output slice's gradient into the input slice "
        "it read, with np.add.at (several outputs can read one pixel; gx[index] = g would keep only one). The "
        "file's scatter_add helper does one axis.",
        "derivatives.yaml `upsample_nearest2d`: upsample_nearest2d_backward(grad, output_size, input_size, "
        "scales_h, scales_w) adds grad_output[oh, ow] into grad_input[nearest_idx(oh), nearest_idx(ow)]; "
        "`_upsample_nearest_exact2d` likewise with nearest_exact_idx"),
    _ex("InterpolateLinear", FUSED,
        "out = x with one (out, in) interpolation matrix R per spatial axis: out = Ry @ x @ Rx^T per image "
        "(row o of R holds 1 - frac and frac at the two source pixels of output o)",
        "the gradient of out = Ry @ x @ Rx^T (one interpolation matrix per spatial axis); forward"
        " saved the matrices (ctx.saved_tensors[k] is axis 2 + k's, shape (out, in)). The op is "
        "linear in x: what undoes a matrix applied along one axis?",
        "The op is linear in x, so its gradient applies the transposed matrices: grad_x = Ry^T @ grad @ Rx. "
        "forward saved the matrices (ctx.saved_tensors[k] is axis 2 + k's, shape (out, in)); apply each "
        "one's transpose along its axis (the file's along_axis helper), and the axis goes back from out to in.",
        "derivatives.yaml `upsample_bilinear2d`: upsample_bilinear2d_backward(grad, output_size, input_size, "
        "align_corners, scales_h, scales_w), which adds lambda * grad_output into the 4 source pixels of each "
        "output with the forward's indices and weights (compute_source_index_and_lambda); linear1d and "
        "trilinear3d likewise"),
    _ex("ScaledDotProductAttention", FUSED,
        "S = q k^T * scale + bias, P = softmax(S) over keys, D = P * keep / (1 - p), out = D @ v",
        "dL/dq, dL/dk, dL/dv (and dL/dbias when a float mask is an input) of out = "
        "dropout(softmax(q k^T * scale + bias)) @ v; forward saved q, k, v, the probabilities P "
        "and the dropout mask keep (None without dropout), and ctx.scale, ctx.p. Go back one step"
        " at a time: the product with v, dropout, softmax (exercise Softmax), the scaled product "
        "q k^T.",
        "D = P * keep / (1 - p) (apply_keep); grad_v = D^T @ grad; dD = grad @ v^T; dP = dD * "
        "keep / (1 - p); dS = P * (dP - sum(dP * P, -1)); grad_q = dS @ k * scale; grad_k = dS^T "
        "@ q * scale; grad_bias = dS (only when ctx.inputs has 4 entries). ^T swaps the last two "
        "dims; the engine sums broadcast batch dims.",
        "on CPU, the math path composes matmul/softmax/dropout and autograd differentiates them; the fused "
        "kernel's backward (_scaled_dot_product_flash_attention_for_cpu_backward) recomputes P block by block"),
    _ex("TanhBackward", SECOND,
        "out = g * (1 - y^2), tanh's backward as an op of the upstream g and tanh's output y (PyTorch's "
        "tanh_backward, what its create_graph=True records for tanh)",
        "d out/dg and d out/dy, the second derivative of tanh seen from its output; forward saved (g, y). "
        "Which input is out linear in?",
        "out is linear in g: grad_g = grad * (1 - y^2), tanh's backward again; grad_y = -2 * grad * g * y. "
        "(With y = tanh(x), dy/dx = 1 - y^2 gives tanh'' = -2 tanh (1 - tanh^2).)",
        "derivatives.yaml `tanh_backward`: grad_output: tanh_backward(grad, output), "
        "output: -2 * output * grad * grad_output"),
    _ex("SoftmaxBackwardData", SECOND,
        "out = y * (g - sum(g * y)) along ctx.axis, softmax's backward as an op of the upstream g and "
        "softmax's output y",
        "d out/dg and d out/dy of softmax's backward; forward saved (g, y) and ctx.axis. y appears three "
        "times (y_i g_i, y_i s and inside s = sum(g y)): differentiate each, and never build a Jacobian.",
        "With s = sum(g * y) and r = sum(grad * y) along ctx.axis (keepdims): grad_g = y * (grad - r), softmax's "
        "backward of grad; grad_y = grad * g - grad * s - g * r.",
        "derivatives.yaml `_softmax_backward_data`: grad_output: _softmax_backward_data(grad, output, dim), "
        "output: softmax_double_backward(grad, grad_output, dim, output) = grad_output * grad - "
        "(output * grad_output).sum(dim, true) * grad - grad_output * (output * grad).sum(dim, true)"),
    _ex("LogSoftmaxBackwardData", SECOND,
        "out = g - exp(y) * sum(g) along ctx.axis, log-softmax's backward as an op of the upstream g and "
        "log-softmax's output y",
        "d out/dg and d out/dy of log-softmax's backward; forward saved (g, y) and ctx.axis. What is "
        "d out_i / d g_j, and which out_i does y_j reach?",
        "With p = exp(y): grad_g = grad - sum(grad * p, ctx.axis, keepdims); grad_y = -grad * p * sum(g, "
        "ctx.axis, keepdims) (y_j reaches out_j alone).",
        "derivatives.yaml `_log_softmax_backward_data`: grad_output: grad - (grad * output.exp()).sum(dim, true), "
        "output: -grad_output.sum(dim, true) * output.exp() * grad"),
    _ex("GeluTanhBackward", SECOND,
        "out = g * f'(x), f(x) = 0.5 x (1 + tanh u), u = sqrt(2/pi) (x + 0.044715 x^3): the tanh GELU's "
        "backward as an op of the upstream g and the input x",
        "d out/dg and d out/dx, where d out/dx needs f''(x); forward saved (g, x, t = tanh(u)). Differentiate "
        "both terms of f'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) u' by the product rule, with dt/dx = (1 - t^2) u'. "
        "Keep the constants in x's dtype (the _constants helper).",
        "grad_g = grad * f'(x); grad_x = grad * g * f''(x), f''(x) = (1 - t^2) (u' - x t u'^2 + 0.5 x u''), "
        "u' = k (1 + 3 c x^2), u'' = 6 k c x, k = sqrt(2/pi), c = 0.044715.",
        "derivatives.yaml `gelu_backward`: grad_output: gelu_backward(grad, self, approximate), "
        "self: gelu_double_backward(grad, grad_output, self, approximate)"),
]

NUMBER: dict[str, int] = {e.op: i + 1 for i, e in enumerate(EXERCISES)}  # op name -> exercise number


def exercise_number(word: str) -> int:
    """An exercise named by its number ("4") or its op in any case ("softmax", "LayerNorm", "layer_norm")."""
    if word.strip().lstrip("+-").isdigit():
        n = int(word)
        if not 1 <= n <= len(EXERCISES):
            raise ValueError(f"there is no exercise {n} (they are numbered 1 to {len(EXERCISES)})")
        return n
    by_name = {op.lower(): n for op, n in NUMBER.items()}
    key = word.strip().lower().replace("_", "").replace("-", "")
    if key in by_name:
        return by_name[key]
    close = [EXERCISES[by_name[k] - 1].op for k in difflib.get_close_matches(key, by_name, n=3)]
    maybe = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ValueError(f"there is no exercise named {word!r}{maybe} (name one by its number, 1 to "
                     f"{len(EXERCISES)}, or by its op, e.g. 4 or mul)")


def exercise_test_file(n: int) -> str:
    """Exercise 4 (Mul) -> 'test_exercise_04_mul.py'."""
    snake = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", EXERCISES[n - 1].op).lower()
    return f"test_exercise_{n:02d}_{snake}.py"


def find_functions(package_dir: Path) -> dict[str, Path]:
    """Every `class X(Function)` in the package: op name -> its file, relative to package_dir's parent."""
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent)
        if "exercises" in rel.parts or "kernels" in rel.parts or "__pycache__" in rel.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ClassDef) and any(_is_function(base) for base in node.bases):
                if node.name in found:
                    raise ValueError(f"exercises: two ops are named {node.name}: {found[node.name]} and {rel}")
                found[node.name] = rel
    return found


def _is_function(base: ast.expr) -> bool:
    return (isinstance(base, ast.Name) and base.id == "Function") or (
        isinstance(base, ast.Attribute) and base.attr == "Function")


def unlisted_functions(package_dir: Path) -> list[str]:
    """Function subclasses in the source that no exercise covers (should be empty)."""
    return [f"{name} ({path})" for name, path in find_functions(package_dir).items() if name not in NUMBER]
