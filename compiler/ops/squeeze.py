"""Squeeze: drop size-1 axes (the listed ones, or every one when none are listed). A view."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axes
from onnxjit.compiler.ops._movement import axes_input_or_attr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, topi


@register("Squeeze", kind=OpKind.VIEW, since=1)
def lower_squeeze(ctx: LowerContext) -> list[te.Tensor]:
    shape = ctx.shape(0)
    # axes: attribute before opset 13, optional input from 13; negative axes from opset 11.
    given = axes_input_or_attr(ctx, since_input=13)
    if given is None:
        axes = [a for a, d in enumerate(shape) if d == 1]
    else:
        if len(set(given)) != len(given):
            raise ctx.error(f"axes {given} repeat an axis")
        axes = normalize_axes(given, len(shape), ctx)
        for a in axes:
            if shape[a] != 1:
                raise ctx.error(f"cannot squeeze axis {a} of size {shape[a]} (shape {shape})")
    out_shape = [d for a, d in enumerate(shape) if a not in axes]
    # The view's shape is what specialisation reads; the reshape compute is never run.
    return [topi.reshape(ctx.input(0), out_shape)]
