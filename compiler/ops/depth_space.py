"""DepthToSpace and SpaceToDepth: blocks of `blocksize` x `blocksize` pixels moved between the
channel axis and the spatial axes of an (N, C, H, W) tensor.

Channel order within a block: DCR (the default; depth-column-row: channel (i * b + j) * C' + c)
or CRD (column-row-depth: c * b * b + i * b + j), where (i, j) is the pixel's offset in its block.
SpaceToDepth takes `mode` from opset 28; before, its order is DCR's.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


def _checked(ctx: LowerContext, mode_since: int) -> tuple[tuple[int, ...], int, str]:
    shape = ctx.shape(0)
    b = int(ctx.attr("blocksize", 0))
    if len(shape) != 4:
        raise ctx.error(f"input of rank {len(shape)}: {ctx.node.op_type} needs (N, C, H, W)")
    if b < 1:
        raise ctx.error(f"blocksize {b} must be positive")
    mode = str(ctx.attr("mode", "DCR")) if ctx.opset >= mode_since else "DCR"
    if mode not in ("DCR", "CRD"):
        raise ctx.error(f"mode {mode!r} is not DCR or CRD")
    return shape, b, mode


@register("DepthToSpace", kind=OpKind.INJECTIVE, since=1)
def lower_depth_to_space(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    (n, c, h, w), b, mode = _checked(ctx, 11)
    if c % (b * b):
        raise ctx.error(f"{c} channels do not split into blocks of {b}x{b}")
    out_c = c // (b * b)

    def body(ni: Expr, ci: Expr, y: Expr, xx: Expr) -> Expr:
        i, j = y % b, xx % b
        channel = (i * b + j) * out_c + ci if mode == "DCR" else ci * (b * b) + i * b + j
        return x(ni, channel, y // b, xx // b)

    return [te.compute((n, out_c, h * b, w * b), body, name=ctx.name())]


@register("SpaceToDepth", kind=OpKind.INJECTIVE, since=1)
def lower_space_to_depth(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    (n, c, h, w), b, mode = _checked(ctx, 28)
    if h % b or w % b:
        raise ctx.error(f"spatial size {h}x{w} is not a multiple of blocksize {b}")

    def body(ni: Expr, ch: Expr, y: Expr, xx: Expr) -> Expr:
        if mode == "DCR":
            block, ci = ch // c, ch % c
        else:
            ci, block = ch // (b * b), ch % (b * b)
        return x(ni, ci, y * b + block // b, xx * b + block % b)

    return [te.compute((n, c * b * b, h // b, w // b), body, name=ctx.name())]
