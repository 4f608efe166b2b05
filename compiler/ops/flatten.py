"""Flatten: to 2-D [prod(shape[:axis]), prod(shape[axis:])]. A view."""
from __future__ import annotations

import math

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, topi


@register("Flatten", kind=OpKind.VIEW, since=1)
def lower_flatten(ctx: LowerContext) -> list[te.Tensor]:
    shape = ctx.shape(0)
    rank = len(shape)
    axis = int(ctx.attr("axis", 1))
    # axis may equal the rank (result [N, 1]) and, from opset 11, be negative down to -rank.
    if not -rank <= axis <= rank:
        raise ctx.error(f"axis {axis} out of range for rank {rank}")
    if axis < 0:
        axis += rank
    return [topi.reshape(ctx.input(0), (math.prod(shape[:axis]), math.prod(shape[axis:])))]
