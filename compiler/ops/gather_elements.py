"""GatherElements (opset 11/13): out[i] = data[i with i[axis] replaced by indices[i]].

Negative indices count from the end of the axis; out-of-range ones are clamped (never a read
outside the buffer; onnxruntime raises), as in gather.py.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("GatherElements", kind=OpKind.INJECTIVE, since=11)
def lower_gather_elements(ctx: LowerContext) -> list[te.Tensor]:
    data, indices = ctx.input(0), ctx.input(1)
    shape, index_shape = ctx.shape(0), ctx.shape(1)
    if len(shape) != len(index_shape) or not shape:
        raise ctx.error(f"data {shape} and indices {index_shape} must have the same rank >= 1")
    axis = normalize_axis(int(ctx.attr("axis", 0)), len(shape), ctx)
    idt = str(indices.dtype)
    if idt not in ("int32", "int64"):
        raise ctx.error(f"indices must be int32 or int64, got {idt}")
    dim = shape[axis]

    def body(*index: Expr) -> Expr:
        raw = indices(*index)
        size = tirx.const(dim, idt)
        wrapped = tirx.Select(raw < 0, raw + size, raw)
        safe = tirx.min(tirx.max(wrapped, tirx.const(0, idt)), size - tirx.const(1, idt))
        return data(*index[:axis], safe.astype("int32"), *index[axis + 1:])

    return [te.compute(index_shape, body, name=ctx.name())]
