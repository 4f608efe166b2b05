"""Gemm: Y = alpha * A' x B' + beta * C (A' = A^T if transA, B' = B^T if transB; C broadcasts
unidirectionally to [M, N] and is optional from opset 11). Shares MatMul's padded, panel-packed
contraction; alpha and beta apply in the epilogue, on the finished register tile.
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import broadcast_index
from onnxjit.compiler.ops.matmul import contraction
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

Expr = Any


def _gemm(ctx: LowerContext, packed_n: int | None) -> te.Tensor:
    a, b, c = ctx.input(0), ctx.input(1), ctx.optional(2)
    if len(a.shape) != 2 or (packed_n is None and len(b.shape) != 2):
        raise ctx.error(f"Gemm takes 2-D A and B, got {ctx.shape(0)} and {ctx.shape(1)}")
    dtype = str(a.dtype)
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    prod, _, _ = contraction(ctx, a, b, trans_a=bool(ctx.attr("transA", 0)),
                             trans_b=bool(ctx.attr("transB", 0)), packed_n=packed_n)
    m, n = prod.m, prod.n
    if c is not None:
        c_shape = [int(d) for d in c.shape]
        if len(c_shape) > 2 or any(d not in (1, full) for d, full in
                                   zip(c_shape[::-1], (n, m))):
            raise ctx.error(f"C of shape {c_shape} does not broadcast to [{m}, {n}]")
    use_c = c is not None and beta != 0.0

    def body(i: Expr, j: Expr) -> Expr:
        value = prod.at([], i, j)
        if alpha != 1.0:
            value = value * tirx.const(alpha, dtype)
        if use_c:
            assert c is not None
            term = c(*broadcast_index(c.shape, [i, j]))
            value = value + (term if beta == 1.0 else term * tirx.const(beta, dtype))
        return value

    return te.compute((m, n), body, name=ctx.name("gemm"))


@register("Gemm", kind=OpKind.MATMUL, since=7)
def lower_gemm(ctx: LowerContext) -> list[te.Tensor]:
    return [_gemm(ctx, None)]


@register("Gemm", kind=OpKind.MATMUL, since=1, domain="onnxjit")
def lower_gemm_panels(ctx: LowerContext) -> list[te.Tensor]:
    """Gemm whose B was panel-packed (and un-transposed) at compile time; n = B's logical width."""
    return [_gemm(ctx, int(ctx.attr("n")))]
