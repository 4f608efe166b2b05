"""onnxjit::Conv: a 2-d float32 convolution with constant weights and a fused epilogue.

Made by compiler/passes/conv_rewrite.py from Conv (+ folded BatchNormalization, + Relu / Clip /
residual Add). Inputs: X, Wt (dense weights packed [group, cout/group/wct, cin/group, tap, wct],
flat: per tap, a block of `wct` output channels is contiguous), B (bias), val / off / ptr (BSR
packing of the same weights, or 1-element placeholders), R (the residual, or a placeholder).
Attributes: the ConvGeometry fields, `post` (comma-separated "add", "relu", "clip" in order),
`lo`/`hi` (clip bounds), `block` (BSR rows, 0: no sparse packing), `wct` and `impl` (the cost
model's choice, "dense" or "sparse"; tuning may pick the other).
The lowering's loop nest is the plain reference (compiler/ops/_conv_reference.py); the conv
template replaces it with a register-tiled one (schedules/conv_kernels.py).
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from
from onnxjit.compiler.graph import ONNXJIT_DOMAIN
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._conv_reference import reference_conv
from onnxjit.compiler.ops._tir import tir_extern
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te

SPEC_OP = "DirectConv"
POST_OPS = ("add", "relu", "clip")


def conv_spec(ctx: LowerContext) -> dict[str, Any]:
    spec: dict[str, Any] = {"op": SPEC_OP}
    for key in ConvGeometry.__dataclass_fields__:
        value = ctx.attr(key, 1 if key == "wa" else None)
        if value is None:
            raise ctx.error(f"attribute {key!r} is required")
        spec[key] = int(value)
    post = [p for p in str(ctx.attr("post", "")).split(",") if p]
    if any(p not in POST_OPS for p in post):
        raise ctx.error(f"unknown post op in {post}")
    spec.update(post=post, lo=float(ctx.attr("lo", 0.0)), hi=float(ctx.attr("hi", 0.0)),
                block=int(ctx.attr("block", 0)), impl=str(ctx.attr("impl", "dense")),
                wct=int(ctx.attr("wct", 0)))
    return spec


def _check(ctx: LowerContext, g: ConvGeometry, spec: dict[str, Any]) -> None:
    want = {0: (g.n, g.c, g.h, g.w), 1: (g.group * g.cg * g.taps * g.mg,), 2: (g.m,)}
    for i, shape in want.items():
        if ctx.shape(i) != shape:
            raise ctx.error(f"input {i} has shape {ctx.shape(i)}, expected {shape}")
    if "add" in spec["post"] and ctx.shape(6) != (g.n, g.m, g.ho, g.wo):
        raise ctx.error(f"residual shape {ctx.shape(6)} differs from the output's")
    if spec["impl"] == "sparse" and (spec["block"] < 1 or g.m % spec["block"]):
        raise ctx.error(f"sparse impl needs a block height dividing {g.m}, got {spec['block']}")
    if spec["wct"] < 0 or (spec["wct"] and g.mg % spec["wct"]):
        raise ctx.error(f"weight block {spec['wct']} does not divide {g.mg} channels per group")
    if any(ctx.dtype(i) != "float32" for i in (0, 1, 2, 3, 6)):
        raise ctx.error("float32 tensors expected")


@register("Conv", kind=OpKind.OPAQUE, domain=ONNXJIT_DOMAIN)
def lower_direct_conv(ctx: LowerContext) -> list[te.Tensor]:
    spec = conv_spec(ctx)
    g = geometry_from(spec)
    _check(ctx, g, spec)
    inputs = [ctx.input(i) for i in range(7)]
    out_shape = (g.n, g.m, g.ho, g.wo)
    return tir_extern(ctx, inputs, lambda shapes: reference_conv(
        g, spec["post"], spec["lo"], spec["hi"], spec["wct"],
        [*shapes, out_shape]), spec, 1)  # TE needs its own dim objects
