"""Trilu (opset 14): keeps the upper (upper=1) or lower triangle of the last two axes.

The diagonal offset k (optional input, default 0) may be a run-time scalar: the comparison reads it.
"""
from __future__ import annotations

import math

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("Trilu", kind=OpKind.INJECTIVE, since=14)
def lower_trilu(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    if len(shape) < 2:
        raise ctx.error(f"input must have rank >= 2, got {len(shape)}")
    upper = bool(ctx.attr("upper", 1))
    k_tensor = ctx.optional(1)
    known = ctx.const(1)
    if k_tensor is not None and math.prod(int(d) for d in k_tensor.shape) != 1:
        raise ctx.error("k must be a scalar")

    def offset() -> Expr:
        if k_tensor is None:
            return tirx.const(0, "int64")
        if known is not None:
            return tirx.const(int(known.reshape(-1)[0]), "int64")
        return k_tensor(*([0] * len(k_tensor.shape))).astype("int64")

    def body(*index: Expr) -> Expr:
        row, col = index[-2].astype("int64"), index[-1].astype("int64")
        keep = (col - row >= offset()) if upper else (col - row <= offset())
        return tirx.Select(keep, x(*index), tirx.const(0, str(x.dtype)))

    return [te.compute(shape, body, name=ctx.name())]

