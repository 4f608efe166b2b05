"""Expand: broadcast the input to a shape, bidirectionally (a 1 in the shape keeps x's dim)."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import broadcast_index, broadcast_shape
from onnxjit.compiler.ops._movement import int_list
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


@register("Expand", kind=OpKind.INJECTIVE, since=8)
def lower_expand(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    target = int_list(ctx, ctx.require_const(1, "the target shape"), "shape")
    if any(d < 0 for d in target):
        raise ctx.error(f"shape {target} has negative dimensions")
    # numpy rules on both sides: the result may be larger than `target` where x is.
    out_shape = broadcast_shape(ctx, [ctx.shape(0), target])
    return [te.compute(out_shape, lambda *i: x(*broadcast_index(x.shape, i)), name=ctx.name())]
