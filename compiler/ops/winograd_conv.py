"""onnxjit::WinogradConv: a dense 3x3 stride-1 "same" conv as Winograd F(2x2, 3x3).

Made by compiler/passes/winograd.py from onnxjit::Conv. Inputs: X [N, C, H, W], U [16, M/ub, C, ub]
(the transformed weights, e = 4a + b, output channels in blocks of ub = 16, 8, 4, 2 or 1:
compiler/conv_geometry.py's weight_block), B [M] (bias), R (the residual, or a 1-element
placeholder). Attributes: the ConvGeometry fields, `post`, `lo`, `hi` as onnxjit::Conv's.
This lowering is the plain definition in TE (V = B^T d B per 4x4 input tile, M_e = U_e^T V_e,
Y = A^T M A per 2x2 output tile, then the epilogue); schedules/conv_winograd.py generates the
fast kernel from the spec on its output block.
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from, is_same_3x3, weight_block
from onnxjit.compiler.graph import ONNXJIT_DOMAIN
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._conv_reference import epilogue
from onnxjit.compiler.ops._tir import SPEC_KEY
from onnxjit.compiler.ops.direct_conv import POST_OPS
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

SPEC_OP = "WinogradConv"
BT = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))   # input transform B^T
AT = ((1, 1, 1, 0), (0, 1, -1, -1))                                  # output transform A^T


def _entry(table: tuple[tuple[int, ...], ...], i: Any, j: Any) -> Any:
    """table[i][j] for index expressions i, j (the reference's coefficient lookup)."""
    value = tirx.const(0.0, "float32")
    for ii, row in enumerate(table):
        for jj, x in enumerate(row):
            if x:
                hit = tirx.all(i == ii, j == jj)
                value = tirx.if_then_else(hit, tirx.const(float(x), "float32"), value)
    return value


def winograd_spec(ctx: LowerContext) -> dict[str, Any]:
    spec: dict[str, Any] = {"op": SPEC_OP}
    for key in ConvGeometry.__dataclass_fields__:
        if ctx.attr(key) is None:
            raise ctx.error(f"attribute {key!r} is required")
        spec[key] = int(ctx.attr(key))
    post = [p for p in str(ctx.attr("post", "")).split(",") if p]
    if any(p not in POST_OPS for p in post):
        raise ctx.error(f"unknown post op in {post}")
    spec.update(post=post, lo=float(ctx.attr("lo", 0.0)), hi=float(ctx.attr("hi", 0.0)))
    return spec


@register("WinogradConv", kind=OpKind.OPAQUE, domain=ONNXJIT_DOMAIN)
def lower_winograd_conv(ctx: LowerContext) -> list[te.Tensor]:
    import json

    spec = winograd_spec(ctx)
    g = geometry_from(spec)
    n, c, h, w, m = g.n, g.c, g.h, g.w, g.m
    ub = weight_block(m)
    want = {0: (n, c, h, w), 1: (16, m // ub, c, ub), 2: (m,)}
    for i, shape in want.items():
        if ctx.shape(i) != shape:
            raise ctx.error(f"input {i} has shape {ctx.shape(i)}, expected {shape}")
    if not is_same_3x3(g):
        raise ctx.error("F(2x2, 3x3) needs a 3x3, stride 1, padding 1 conv without groups")
    if "add" in spec["post"] and ctx.shape(3) != (n, m, h, w):
        raise ctx.error(f"residual shape {ctx.shape(3)} differs from the output's")
    x, u, b, r = (ctx.input(i) for i in range(4))
    th, tw = -(-h // 2), -(-w // 2)
    rr, rs = te.reduce_axis((0, 4), name="rr"), te.reduce_axis((0, 4), name="rs")

    def tile_input(e: Any, ci: Any, q: Any) -> Any:
        bi, ty, tx = q // (th * tw), q // tw % th, q % tw
        yy, xx = 2 * ty - 1 + rr, 2 * tx - 1 + rs
        inside = tirx.all(yy >= 0, yy < h, xx >= 0, xx < w)
        clamped = x[bi, ci, tirx.max(tirx.min(yy, h - 1), 0), tirx.max(tirx.min(xx, w - 1), 0)]
        d = tirx.if_then_else(inside, clamped, tirx.const(0.0, "float32"))
        return te.sum(_entry(BT, e // 4, rr) * _entry(BT, e % 4, rs) * d, axis=[rr, rs])

    v = te.compute((16, c, n * th * tw), tile_input, name=ctx.name("wino_v"))
    rc = te.reduce_axis((0, c), name="rc")
    prod = te.compute((16, m, n * th * tw),
                      lambda e, k, q: te.sum(u[e, k // ub, rc, k % ub] * v[e, rc, q], axis=rc),
                      name=ctx.name("wino_m"))
    ra, rb = te.reduce_axis((0, 4), name="ra"), te.reduce_axis((0, 4), name="rb")

    def output(bi: Any, k: Any, yy: Any, xx: Any) -> Any:
        q = (bi * th + yy // 2) * tw + xx // 2
        return te.sum(_entry(AT, yy % 2, ra) * _entry(AT, xx % 2, rb) * prod[ra * 4 + rb, k, q],
                      axis=[ra, rb])

    conv = te.compute((n, m, h, w), output, name=ctx.name("wino_y"))
    return [te.compute((n, m, h, w), lambda bi, k, yy, xx: epilogue(
        conv[bi, k, yy, xx], k, b, r, (bi, k, yy, xx), spec["post"], spec["lo"], spec["hi"]),
        name=ctx.name("winograd"), attrs={SPEC_KEY: json.dumps(spec, sort_keys=True)})]
