"""Split one tensor into several along an axis.

Chunk sizes come from the `split` attribute (opsets 2-12), the `split` input (13+, a compile-time
constant), or, when absent, from the number of outputs (`num_outputs` from opset 18): equal
chunks, the last one smaller when the axis does not divide evenly (as the reference does).
"""
from __future__ import annotations

from collections.abc import Callable

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.ops._movement import int_list
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


def _sizes(ctx: LowerContext, dim: int) -> list[int]:
    n_outputs = len(ctx.node.outputs)
    if ctx.opset >= 13:
        split = None
        if ctx.optional(1) is not None:
            split = int_list(ctx, ctx.require_const(1, "split sizes"), "split")
    else:
        attr = ctx.attr("split")
        split = None if attr is None else int_list(ctx, attr, "split")
    num_outputs = ctx.attr("num_outputs") if ctx.opset >= 18 else None
    if split is not None:
        if num_outputs is not None:
            raise ctx.error("give either the split input or num_outputs, not both")
        if len(split) != n_outputs or any(s < 0 for s in split) or sum(split) != dim:
            raise ctx.error(f"split {split} does not divide axis of size {dim} "
                            f"into {n_outputs} outputs")
        return split
    n = int(num_outputs) if num_outputs is not None else n_outputs
    if n != n_outputs or n < 1:
        raise ctx.error(f"num_outputs {n} does not match the node's {n_outputs} outputs")
    chunk = -(-dim // n)    # ceil: every chunk but the last has this size
    sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
    if sizes[-1] < 0:
        raise ctx.error(f"axis of size {dim} cannot be split into {n} chunks of {chunk}")
    return sizes


@register("Split", kind=OpKind.INJECTIVE, since=2)
def lower_split(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    axis = normalize_axis(int(ctx.attr("axis", 0)), len(shape), ctx)
    outputs: list[te.Tensor] = []
    offset = 0
    for k, size in enumerate(_sizes(ctx, shape[axis])):
        out_shape = list(shape)
        out_shape[axis] = size
        outputs.append(te.compute(out_shape, _chunk(x, axis, offset), name=ctx.name(f"out{k}")))
        offset += size
    return outputs


def _chunk(x: te.Tensor, axis: int, start: int) -> Callable[..., Expr]:
    # A factory, not a `start=offset` default: te.compute rejects keyword arguments in fcompute.
    def body(*index: Expr) -> Expr:
        return x(*index[:axis], index[axis] + start, *index[axis + 1:])

    return body
