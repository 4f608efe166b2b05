"""Gather: out[a.., i.., b..] = data[a.., indices[i..], b..] along one axis.

Negative indices count from the end of the axis (resolved per element at run time). Indices out
of [-dim, dim) are an error in ONNX; onnxjit clamps them into range so that a bad index never
reads outside the buffer (onnxruntime raises instead). A scalar index known at compile time
becomes an immediate, so the common "take row k" needs no index tensor at run time.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("Gather", kind=OpKind.INJECTIVE, since=1)
def lower_gather(ctx: LowerContext) -> list[te.Tensor]:
    data, indices = ctx.input(0), ctx.input(1)
    shape = ctx.shape(0)
    if not shape:
        raise ctx.error("data must have rank >= 1")
    axis = normalize_axis(int(ctx.attr("axis", 0)), len(shape), ctx)
    if str(indices.dtype) not in ("int32", "int64"):
        raise ctx.error(f"indices must be int32 or int64, got {indices.dtype}")
    dim = shape[axis]
    if dim >= 2**31:
        raise ctx.error(f"axis of size {dim} is too long for 32-bit indexing")
    index_shape = ctx.shape(1)
    out_shape = [*shape[:axis], *index_shape, *shape[axis + 1:]]
    known = ctx.const(1)
    if known is not None and known.ndim == 0:
        k = int(known)
        if not -dim <= k < dim:
            raise ctx.error(f"index {k} out of range for axis of size {dim}")
        k %= dim
        return [te.compute(out_shape, lambda *i: data(*i[:axis], k, *i[axis:]),
                           name=ctx.name())]
    if known is not None and known.size and not ((known >= -dim) & (known < dim)).all():
        raise ctx.error(f"indices out of range for axis of size {dim}")
    n_index = len(index_shape)

    def body(*index: Expr) -> Expr:
        # Index arithmetic in the indices' own width, then clamp; the result fits the loop
        # variables' int32 (checked below), so the access uses one index dtype throughout.
        raw = indices(*index[axis:axis + n_index])
        size = tirx.const(dim, str(indices.dtype))
        wrapped = tirx.Select(raw < 0, raw + size, raw)
        zero = tirx.const(0, str(indices.dtype))
        safe = tirx.min(tirx.max(wrapped, zero), size - tirx.const(1, str(indices.dtype)))
        return data(*index[:axis], safe.astype("int32"), *index[axis + n_index:])

    return [te.compute(out_shape, body, name=ctx.name())]
