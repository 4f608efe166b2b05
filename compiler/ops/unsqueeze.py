"""Unsqueeze: insert size-1 axes at the listed positions of the output. A view."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axes
from onnxjit.compiler.ops._movement import axes_input_or_attr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, topi


@register("Unsqueeze", kind=OpKind.VIEW, since=1)
def lower_unsqueeze(ctx: LowerContext) -> list[te.Tensor]:
    shape = ctx.shape(0)
    # axes: required attribute before opset 13, required input from 13; they index the *output*
    # (rank = input rank + number of axes), and may be negative from opset 11.
    given = axes_input_or_attr(ctx, since_input=13)
    if not given:
        raise ctx.error("axes are required")
    out_rank = len(shape) + len(given)
    axes = normalize_axes(given, out_rank, ctx)
    if len(axes) != len(given):
        raise ctx.error(f"axes {given} repeat an axis")
    dims = iter(shape)
    out_shape = [1 if a in axes else next(dims) for a in range(out_rank)]
    return [topi.reshape(ctx.input(0), out_shape)]
