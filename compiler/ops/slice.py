"""Slice: numpy basic slicing, one (start, end, step) per listed axis.

Opset 1 takes starts/ends/axes as attributes; opset 10+ as inputs (with steps), which must be
compile-time constants because they decide the output shape. Out-of-range starts/ends clamp
exactly as Python slices do (which is what the ONNX spec describes, INT_MAX/INT_MIN included).
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.ops._movement import int_list
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


def _slice(ctx: LowerContext, starts: list[int], ends: list[int], axes: list[int] | None,
           steps: list[int] | None) -> te.Tensor:
    x = ctx.input(0)
    shape = ctx.shape(0)
    rank = len(shape)
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ctx.error(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} "
                        "differ in length")
    # Per axis: (first source index, step); axes not listed keep (0, 1).
    plan = [(0, 1)] * rank
    out_shape = list(shape)
    seen: set[int] = set()
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = normalize_axis(axis, rank, ctx)
        if axis in seen:
            raise ctx.error(f"axis {axis} is sliced twice")
        seen.add(axis)
        if step == 0:
            raise ctx.error("slice step must not be 0")
        first, stop, step = slice(start, end, step).indices(shape[axis])
        out_shape[axis] = len(range(first, stop, step))
        plan[axis] = (first, step)
    if out_shape == list(shape) and all(s == 1 for _, s in plan):
        return x    # a full slice: the kernel builder copies it if it is an output

    def body(*index: Expr) -> Expr:
        return x(*(i if (f, s) == (0, 1) else f + s * i for i, (f, s) in zip(index, plan)))

    return te.compute(out_shape, body, name=ctx.name())


@register("Slice", kind=OpKind.INJECTIVE, since=1)
def lower_slice_1(ctx: LowerContext) -> list[te.Tensor]:
    starts = int_list(ctx, ctx.attr("starts"), "starts")
    ends = int_list(ctx, ctx.attr("ends"), "ends")
    axes = ctx.attr("axes")
    return [_slice(ctx, starts, ends, None if axes is None else int_list(ctx, axes, "axes"), None)]


@register("Slice", kind=OpKind.INJECTIVE, since=10)
def lower_slice_10(ctx: LowerContext) -> list[te.Tensor]:
    starts = int_list(ctx, ctx.require_const(1, "starts"), "starts")
    ends = int_list(ctx, ctx.require_const(2, "ends"), "ends")
    axes = (int_list(ctx, ctx.require_const(3, "axes"), "axes")
            if ctx.optional(3) is not None else None)
    steps = (int_list(ctx, ctx.require_const(4, "steps"), "steps")
             if ctx.optional(4) is not None else None)
    return [_slice(ctx, starts, ends, axes, steps)]
