"""Where: select(cond, x, y) with numpy broadcasting over all three inputs."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, elementwise
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("Where", kind=OpKind.ELEMENTWISE, since=9)
def lower_where(ctx: LowerContext) -> list[te.Tensor]:
    cond, x, y = ctx.input(0), ctx.input(1), ctx.input(2)
    if str(cond.dtype) != "bool":
        raise ctx.error(f"condition must be bool, got {cond.dtype}")
    if x.dtype != y.dtype:
        raise ctx.error(f"branch dtypes differ ({x.dtype} vs {y.dtype})")

    def select(c: Expr, a: Expr, b: Expr) -> Expr:
        # Select (not if_then_else): both loads are in bounds, so the branch-free form vectorises.
        return tirx.Select(c, a, b)

    return [elementwise(ctx, [cond, x, y], select)]
