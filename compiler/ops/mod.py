"""Mod (opset 10/13): elementwise remainder with numpy broadcasting.

fmod=0 takes the divisor's sign, like Python's %; fmod=1 takes the dividend's sign,
like C's fmod (required for floats). An integer remainder by zero is undefined in ONNX; onnxjit
returns the dividend instead of trapping (TVM's integer modulo would be undefined behaviour).
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, const, elementwise, is_float
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("Mod", kind=OpKind.ELEMENTWISE, since=10)
def lower_mod(ctx: LowerContext) -> list[te.Tensor]:
    a, b = ctx.input(0), ctx.input(1)
    dtype = str(a.dtype)
    if str(b.dtype) != dtype:
        raise ctx.error(f"input dtypes differ ({a.dtype} vs {b.dtype})")
    fmod = int(ctx.attr("fmod", 0))
    if is_float(dtype):
        # truncmod of floats is LLVM's frem: exact, C fmod semantics (tirx.fmod has no lowering).
        # fmod=0 on floats (allowed by recent opsets) is numpy's mod: the remainder moved to the
        # divisor's sign, as numpy computes it from fmod.
        work = "float32" if dtype == "float16" else dtype

        def float_mod(x: Expr, y: Expr) -> Expr:
            x, y = x.astype(work), y.astype(work)
            r = tirx.truncmod(x, y)
            if fmod == 0:
                zero = const(0, work)
                opposite = tirx.Or(tirx.all(r < zero, y > zero), tirx.all(r > zero, y < zero))
                r = tirx.Select(opposite, r + y, r)
            return r.astype(dtype)

        return [elementwise(ctx, [a, b], float_mod)]
    unsigned = dtype.startswith("uint")
    rem = tirx.truncmod if fmod == 1 or unsigned else tirx.floormod

    def fn(x: Expr, y: Expr) -> Expr:
        zero = const(0, dtype)
        safe = tirx.Select(y == zero, const(1, dtype), y)
        return tirx.Select(y == zero, x, rem(x, safe))

    return [elementwise(ctx, [a, b], fn)]
