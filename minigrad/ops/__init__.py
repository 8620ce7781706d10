"""Every differentiable primitive op, each a `Function` with its forward beside its backward."""
from minigrad.ops.elementwise import (
    Abs, Add, Cast, Clamp, Div, Exp, Log, Mul, Neg, Pow, PowScalar, Relu, Sigmoid, Sqrt, Sub, Tanh,
)
from minigrad.ops.matmul import MatMul
from minigrad.ops.select import Maximum, Where
from minigrad.ops.unary import Cos, Erf, Expm1, Log1p, Sin, Step
from minigrad.ops.movement import (
    Cat, Copy, Expand, Fill, GetItem, Permute, Reshape, SetItem, Stack,
    cat, set_item, chunk, flatten, index_arg, shape_arg, split, squeeze, stack, transpose, unsqueeze,
)
from minigrad.ops.reduce import (
    CumSum, Max, Mean, Norm, Prod, Std, Sum, arg_extreme, max_along, normalize_dim, normalize_dims, std, var,
)

__all__ = [
    "Abs", "Add", "Cast", "Clamp", "Copy", "Fill", "SetItem", "set_item", "Norm", "Div", "Exp", "Log", "Mul", "Neg", "Pow", "PowScalar", "Relu",
    "Sigmoid", "Sqrt", "Sub", "Tanh", "MatMul", "Cat", "Expand", "GetItem", "Permute",
    "Reshape", "Stack", "Max", "Mean", "Sum", "cat", "chunk", "flatten", "index_arg",
    "shape_arg", "split", "squeeze", "stack", "transpose", "unsqueeze", "normalize_dim",
    "normalize_dims", "Std", "arg_extreme", "max_along", "std", "var",
    "CumSum", "Prod", "Maximum", "Where", "Cos", "Erf", "Expm1", "Log1p", "Sin", "Step",
]
