"""One-input elementwise math: Neg, Abs, Exp, Log, Sqrt, Reciprocal, Relu, Sigmoid, Tanh, Softplus,
Floor, Ceil, Round, Sin, Cos.

Each op is a row of a table (op type -> expression builder, allowed dtypes). Transcendentals on
float16 are computed in float32 and rounded once, as onnxruntime does, so half-precision results
do not accumulate the error of a half-precision libm.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, const, elementwise
from onnxjit.compiler.ops._math import fast_exp, log1p_unit, tanh
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

FLOATS = frozenset({"float16", "float32", "float64"})
SIGNED = frozenset({"int8", "int16", "int32", "int64"})
UNSIGNED = frozenset({"uint8", "uint16", "uint32", "uint64"})


def _neg(x: Expr, dtype: str) -> Expr:
    return const(0, dtype) - x


def _abs(x: Expr, dtype: str) -> Expr:
    # Unsigned values are their own absolute value (and TVM's abs rejects nothing, but be explicit).
    return x if dtype in UNSIGNED else tirx.abs(x)


def _relu(x: Expr, dtype: str) -> Expr:
    # Not max(x, 0): TVM's float max drops NaN (LLVM maxnum); numpy and onnxruntime keep it.
    zero = const(0, dtype)
    return tirx.Select(x < zero, zero, x)


def _reciprocal(x: Expr, dtype: str) -> Expr:
    return const(1, dtype) / x


def _sigmoid(x: Expr, dtype: str) -> Expr:
    # exp(-|x|) never overflows; the two branches are the same function rearranged so that
    # neither divides inf by inf (x -> -inf) nor loses the tiny tail (x -> +inf rounds to 1 anyway).
    # fast_exp: a vectorisable polynomial for float32 (te.exp is one libm call per lane).
    e = fast_exp(const(0, dtype) - tirx.abs(x), dtype)
    one = const(1, dtype)
    return tirx.Select(x >= const(0, dtype), one / (one + e), e / (one + e))


def _softplus(x: Expr, dtype: str) -> Expr:
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow for large x, no log(1) = 0
    # cancellation for very negative x.
    zero = const(0, dtype)
    return tirx.max(x, zero) + log1p_unit(fast_exp(zero - tirx.abs(x), dtype), dtype)


@dataclass(frozen=True)
class Unary:
    fn: Callable[[Expr, str], Expr]
    dtypes: frozenset[str]
    transcendental: bool = False      # computed in float32 for float16 inputs


TABLE: dict[str, Unary] = {
    "Neg": Unary(_neg, FLOATS | SIGNED),
    "Abs": Unary(_abs, FLOATS | SIGNED | UNSIGNED),
    "Relu": Unary(_relu, FLOATS | SIGNED),   # integer Relu since opset 14; harmless before
    "Reciprocal": Unary(_reciprocal, FLOATS),
    "Exp": Unary(lambda x, _: te.exp(x), FLOATS, transcendental=True),
    "Log": Unary(lambda x, _: te.log(x), FLOATS, transcendental=True),
    "Sqrt": Unary(lambda x, _: te.sqrt(x), FLOATS, transcendental=True),
    "Tanh": Unary(tanh, FLOATS, transcendental=True),   # vectorisable; te.tanh is libm per lane
    "Sigmoid": Unary(_sigmoid, FLOATS, transcendental=True),
    "Softplus": Unary(_softplus, FLOATS, transcendental=True),
    "Floor": Unary(lambda x, _: tirx.floor(x), FLOATS),
    "Ceil": Unary(lambda x, _: tirx.ceil(x), FLOATS),
    # Round halves to even (numpy, onnxruntime): nearbyint under the default rounding mode;
    # tirx.round would round them away from zero.
    "Round": Unary(lambda x, _: tirx.nearbyint(x), FLOATS),
    "Sin": Unary(lambda x, _: tirx.sin(x), FLOATS, transcendental=True),
    "Cos": Unary(lambda x, _: tirx.cos(x), FLOATS, transcendental=True),
}


def lower_unary(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    dtype = str(x.dtype)
    row = TABLE[ctx.node.op_type]
    if dtype not in row.dtypes:
        raise ctx.error(f"dtype {dtype} is not supported (expected one of {sorted(row.dtypes)})")
    if row.transcendental and dtype == "float16":
        def fn(v: Expr) -> Expr:
            return row.fn(v.astype("float32"), "float32").astype(dtype)
    else:
        def fn(v: Expr) -> Expr:
            return row.fn(v, dtype)
    return [elementwise(ctx, [x], fn)]


# Opset 1 versions differ only by the legacy `consumed_inputs` attribute (ignored); 6 and 13
# only widen the type lists. Softplus has one version before 22 (bfloat16), same semantics.
register(("Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Relu", "Sigmoid", "Tanh"),
         kind=OpKind.ELEMENTWISE, since=1)(lower_unary)
register("Softplus", kind=OpKind.ELEMENTWISE, since=1)(lower_unary)
register(("Floor", "Ceil"), kind=OpKind.ELEMENTWISE, since=1)(lower_unary)
register("Round", kind=OpKind.ELEMENTWISE, since=11)(lower_unary)
register(("Sin", "Cos"), kind=OpKind.ELEMENTWISE, since=7)(lower_unary)
