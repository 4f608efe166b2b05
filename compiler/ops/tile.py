"""Tile (opset 6/13): repeats the input `repeats[i]` times along each axis (repeats constant)."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.ops._movement import int_list
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


@register("Tile", kind=OpKind.INJECTIVE, since=6)
def lower_tile(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    repeats = int_list(ctx, ctx.require_const(1, "repeats"), "repeats")
    if len(repeats) != len(shape) or any(r < 0 for r in repeats):
        raise ctx.error(f"repeats {repeats} must be {len(shape)} non-negative values")
    out_shape = [d * r for d, r in zip(shape, repeats)]

    def body(*index: Expr) -> Expr:
        # Axes not repeated (or of size 1) index directly: no modulo in the common broadcast case.
        return x(*(i if r == 1 else 0 if d == 1 else i % d
                   for i, d, r in zip(index, shape, repeats)))

    return [te.compute(out_shape, body, name=ctx.name())]
