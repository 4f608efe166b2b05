"""Concat along one axis (negative axes count from the end; opset 1 defaults the axis to 1)."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("Concat", kind=OpKind.INJECTIVE, since=1)
def lower_concat(ctx: LowerContext) -> list[te.Tensor]:
    tensors = [ctx.input(i) for i in range(len(ctx.inputs))]
    if not tensors:
        raise ctx.error("needs at least one input")
    shapes = [tuple(int(d) for d in t.shape) for t in tensors]
    rank = len(shapes[0])
    if rank == 0:
        raise ctx.error("cannot concatenate scalars")
    axis_attr = ctx.attr("axis", 1 if ctx.opset < 4 else None)
    if axis_attr is None:
        raise ctx.error("attribute `axis` is required")
    axis = normalize_axis(int(axis_attr), rank, ctx)
    for t, s in zip(tensors, shapes):
        if t.dtype != tensors[0].dtype:
            raise ctx.error(f"input dtypes differ ({tensors[0].dtype} vs {t.dtype})")
        if len(s) != rank or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise ctx.error(f"input shapes {shapes} differ outside axis {axis}")
    # Inputs empty along the axis contribute nothing; dropping them keeps the select chain short.
    parts = [(t, s[axis]) for t, s in zip(tensors, shapes) if s[axis] > 0]
    out_shape = list(shapes[0])
    out_shape[axis] = sum(n for _, n in parts)
    if len(parts) <= 1:
        source = parts[0][0] if parts else tensors[0]
        return [te.compute(out_shape, lambda *i: source(*i), name=ctx.name())]

    def body(*index: Expr) -> Expr:
        # Walk the parts from the last: each test picks one part or defers to the earlier ones.
        # if_then_else (not Select) because the part not taken would be read out of bounds.
        offsets = []
        start = 0
        for _, n in parts:
            offsets.append(start)
            start += n
        last_t, _ = parts[-1]
        value = _read(last_t, index, axis, offsets[-1])
        for (t, _), offset, next_offset in zip(parts[-2::-1], offsets[-2::-1], offsets[:0:-1]):
            value = tirx.if_then_else(index[axis] < next_offset,
                                      _read(t, index, axis, offset), value)
        return value

    return [te.compute(out_shape, body, name=ctx.name())]


def _read(t: te.Tensor, index: tuple[Expr, ...], axis: int, offset: int) -> Expr:
    return t(*index[:axis], index[axis] - offset, *index[axis + 1:])
