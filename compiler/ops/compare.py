"""Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) and logic (Not, And, Or, Xor)."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, elementwise
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

_COMPARE = {
    "Equal": lambda a, b: a == b,
    "Less": lambda a, b: a < b,
    "Greater": lambda a, b: a > b,
    "LessOrEqual": lambda a, b: a <= b,
    "GreaterOrEqual": lambda a, b: a >= b,
}


@register(tuple(_COMPARE), kind=OpKind.ELEMENTWISE, since=7)
def lower_compare(ctx: LowerContext) -> list[te.Tensor]:
    a, b = ctx.input(0), ctx.input(1)
    if a.dtype != b.dtype:
        raise ctx.error(f"input dtypes differ ({a.dtype} vs {b.dtype})")
    fn = _COMPARE[ctx.node.op_type]
    if str(a.dtype) == "bool":  # compare bools as integers: TVM has no ordered bool compare
        return [elementwise(ctx, [a, b], lambda x, y: fn(x.astype("int8"), y.astype("int8")))]
    return [elementwise(ctx, [a, b], fn)]


_LOGIC = {
    "And": lambda a, b: tirx.And(a, b),
    "Or": lambda a, b: tirx.Or(a, b),
    "Xor": lambda a, b: tirx.Or(tirx.And(a, tirx.Not(b)), tirx.And(tirx.Not(a), b)),
}


@register(tuple(_LOGIC), kind=OpKind.ELEMENTWISE, since=7)
def lower_logic(ctx: LowerContext) -> list[te.Tensor]:
    a, b = ctx.input(0), ctx.input(1)
    if str(a.dtype) != "bool" or str(b.dtype) != "bool":
        raise ctx.error(f"inputs must be bool, got {a.dtype} and {b.dtype}")
    return [elementwise(ctx, [a, b], _LOGIC[ctx.node.op_type])]


@register("Not", kind=OpKind.ELEMENTWISE, since=1)
def lower_not(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    if str(x.dtype) != "bool":
        raise ctx.error(f"input must be bool, got {x.dtype}")

    def negate(v: Expr) -> Expr:
        return tirx.Not(v)

    return [elementwise(ctx, [x], negate)]
