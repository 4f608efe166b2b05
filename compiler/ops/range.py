"""Range (opset 11): start, start + delta, ... up to (excluding) limit.

The element count decides the output's shape, so all three scalars must be known at compile time
(exporters emit them from shapes, which onnxjit folds). Values are start + i * delta, as
onnxruntime computes them (no accumulated rounding).
"""
from __future__ import annotations

import math

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("Range", kind=OpKind.INJECTIVE, since=11)
def lower_range(ctx: LowerContext) -> list[te.Tensor]:
    start, limit, delta = (ctx.require_const(i, name).reshape(-1)[0].item()
                           for i, name in enumerate(("start", "limit", "delta")))
    dtype = ctx.dtype(0)
    if delta == 0:
        raise ctx.error("delta must not be zero")
    count = max(int(math.ceil((limit - start) / delta)), 0)
    return [te.compute((count,), lambda i: tirx.const(start, dtype)
                       + i.astype(dtype) * tirx.const(delta, dtype), name=ctx.name())]
