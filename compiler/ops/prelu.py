"""PRelu: y = x for x >= 0, slope * x otherwise (opset 7+: slope broadcasts unidirectionally to X,
so exporters' per-channel slopes of shape (C, 1, 1) apply to NCHW X).

A select, not max/min, so NaN propagates as in numpy and onnxruntime (TVM's float max/min drop it).
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, broadcast_shape, const, elementwise
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

DTYPES = frozenset({"float16", "float32", "float64", "int32", "int64", "uint32", "uint64"})


@register("PRelu", kind=OpKind.ELEMENTWISE, since=7)
def lower_prelu(ctx: LowerContext) -> list[te.Tensor]:
    x, slope = ctx.input(0), ctx.input(1)
    dtype = str(x.dtype)
    if dtype not in DTYPES:
        raise ctx.error(f"dtype {dtype} is not supported (expected one of {sorted(DTYPES)})")
    if str(slope.dtype) != dtype:
        raise ctx.error(f"slope dtype {slope.dtype} differs from X's {dtype}")
    x_shape = tuple(int(d) for d in x.shape)
    slope_shape = tuple(int(d) for d in slope.shape)
    if len(slope_shape) > len(x_shape) or broadcast_shape(ctx, [x_shape, slope_shape]) != x_shape:
        raise ctx.error(f"slope of shape {slope_shape} does not broadcast unidirectionally to "
                        f"X of shape {x_shape}")
    if dtype.startswith("uint"):
        return [elementwise(ctx, [x], lambda v: v)]    # never negative: y = x

    def body(v: Expr, s: Expr) -> Expr:
        return tirx.Select(v < const(0, dtype), s * v, v)

    return [elementwise(ctx, [x, slope], body)]
