"""onnxjit::ExpandDepthwise: a sparse 1x1 conv whose output only a depthwise conv reads, as one op.

Made by compiler/passes/expand_depthwise.py from two onnxjit::Conv nodes (MobileNet's expand +
depthwise pair). Inputs: X, then the pointwise conv's Wt, B, val, off, ptr, then the depthwise
conv's Wt, B and R (residual or placeholder). Attributes: each conv's ConvGeometry fields and
post / lo / hi, prefixed "p_" (pointwise: also block, wct) and "d_" (depthwise). The kernel
(schedules/conv_expand_dw.py) computes the expanded tensor a block of channels at a time into a
scratch that stays in cache, so it never goes through memory; this lowering is the plain
reference: the whole expanded tensor, then the depthwise conv over it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from
from onnxjit.compiler.graph import ONNXJIT_DOMAIN
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._conv_reference import epilogue
from onnxjit.compiler.ops._tir import tir_extern
from onnxjit.compiler.ops.direct_conv import POST_OPS
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import PrimFunc, T, te

SPEC_OP = "ExpandDepthwise"


def _half(ctx: LowerContext, prefix: str) -> dict[str, Any]:
    half: dict[str, Any] = {}
    for key in ConvGeometry.__dataclass_fields__:
        value = ctx.attr(prefix + key, 1 if key == "wa" else None)
        if value is None:
            raise ctx.error(f"attribute {prefix + key!r} is required")
        half[key] = int(value)
    post = [p for p in str(ctx.attr(prefix + "post", "")).split(",") if p]
    if any(p not in POST_OPS for p in post):
        raise ctx.error(f"unknown post op in {post}")
    half.update(post=post, lo=float(ctx.attr(prefix + "lo", 0.0)), hi=float(ctx.attr(prefix + "hi", 0.0)))
    return half


def expand_dw_spec(ctx: LowerContext) -> dict[str, Any]:
    p, d = _half(ctx, "p_"), _half(ctx, "d_")
    p.update(block=int(ctx.attr("p_block", 1)), wct=int(ctx.attr("p_wct", 0)))
    gp, gd = geometry_from(p), geometry_from(d)
    if not gp.direct or gp.group != 1 or "add" in p["post"] or p["block"] < 1 or gp.m % p["block"]:
        raise ctx.error("the pointwise half must be a plain 1x1 with a sparse packing and no residual")
    if not (gd.group == gd.c == gd.m == gp.m and (gd.n, gd.h, gd.w) == (gp.n, gp.h, gp.w)):
        raise ctx.error("the depthwise half must take the pointwise output, one channel per group")
    return {"op": SPEC_OP, "p": p, "d": d}


def reference_expand_dw(gp: ConvGeometry, gd: ConvGeometry, p: dict[str, Any], d: dict[str, Any],
                        shapes: Sequence[tuple[Any, ...]]) -> PrimFunc:
    """Params (X, W1, B1, val, off, ptr, W2, B2, R, Y): Z = pointwise(X) whole, then Y = dw(Z)."""
    xs, w1s, b1s, vs, os_, ps, w2s, b2s, rs, ys = shapes
    wct = p["wct"] or gp.mg
    C, M, HW, KW, TAPS = gp.c, gp.m, gp.h * gp.w, gd.kw, gd.taps
    ZLEN, YLEN, HOWO = gp.n * M * HW, gd.n * M * gd.ho * gd.wo, gd.ho * gd.wo
    has_r = "add" in d["post"]

    @T.prim_func
    def func(X: T.Buffer(xs, "float32"), W1: T.Buffer(w1s, "float32"), B1: T.Buffer(b1s, "float32"),
             val: T.Buffer(vs, "float32"), off: T.Buffer(os_, "int32"), ptr: T.Buffer(ps, "int32"),
             W2: T.Buffer(w2s, "float32"), B2: T.Buffer(b2s, "float32"), R: T.Buffer(rs, "float32"),
             Y: T.Buffer(ys, "float32")) -> None:
        T.func_attr({"tirx.noalias": True})
        Xf = T.decl_buffer((gp.n * C * HW,), "float32", data=X.data)
        W1f = T.decl_buffer((max(1, int(w1s[0])),), "float32", data=W1.data)
        W2f = T.decl_buffer((max(1, int(w2s[0])),), "float32", data=W2.data)
        Yf = T.decl_buffer((YLEN,), "float32", data=Y.data)
        Rf = T.decl_buffer((YLEN if has_r else 1,), "float32", data=R.data)
        Z = T.alloc_buffer((ZLEN,), "float32")
        acc = T.alloc_buffer((1,), "float32")
        for n, co, q in T.grid(gp.n, M, HW):
            acc[0] = T.float32(0)
            for ci in T.serial(C):
                acc[0] = acc[0] + W1f[((co // wct) * C + ci) * wct + co % wct] * Xf[(n * C + ci) * HW + q]
            Z[(n * M + co) * HW + q] = epilogue(acc[0], co, B1, Rf, 0, p["post"], p["lo"], p["hi"])
        for n, c, y, x in T.grid(gd.n, M, gd.ho, gd.wo):
            acc[0] = T.float32(0)
            for t in T.serial(TAPS):
                yy = T.meta_var(y * gd.sh - gd.pt + t // KW * gd.dh)
                xx = T.meta_var(x * gd.sw - gd.pl + t % KW * gd.dw)
                acc[0] = acc[0] + T.if_then_else(
                    yy >= 0 and yy < gd.h and xx >= 0 and xx < gd.w,
                    W2f[c * TAPS + t] * Z[(n * M + c) * HW + yy * gd.w + xx], T.float32(0))
            yi = T.meta_var((n * M + c) * HOWO + y * gd.wo + x)
            Yf[yi] = epilogue(acc[0], c, B2, Rf, yi, d["post"], d["lo"], d["hi"])

    return func


@register("ExpandDepthwise", kind=OpKind.OPAQUE, domain=ONNXJIT_DOMAIN)
def lower_expand_dw(ctx: LowerContext) -> list[te.Tensor]:
    spec = expand_dw_spec(ctx)
    gp, gd = geometry_from(spec["p"]), geometry_from(spec["d"])
    want = {0: (gp.n, gp.c, gp.h, gp.w), 1: (gp.c * gp.m,), 2: (gp.m,), 6: (gd.m * gd.taps,), 7: (gd.m,)}
    for i, shape in want.items():
        if ctx.shape(i) != shape:
            raise ctx.error(f"input {i} has shape {ctx.shape(i)}, expected {shape}")
    inputs = [ctx.input(i) for i in range(9)]
    out_shape = (gd.n, gd.m, gd.ho, gd.wo)
    return tir_extern(ctx, inputs, lambda shapes: reference_expand_dw(
        gp, gd, spec["p"], spec["d"], [*shapes, out_shape]), spec, 1)
