"""Conv (opset 1/11): N-d convolution with groups, strides, dilations, pads, auto_pad and bias.

This TE lowering is the general, always-correct form (any rank, run-time weights). Convs with
constant 2-d (or 1-d) float32 weights are rewritten by compiler/passes/conv_rewrite.py into the
fused onnxjit::Conv op (compiler/ops/direct_conv.py), which runs hand-tiled dense or sparse kernels.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import is_float
from onnxjit.compiler.ops._window import window
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


def conv_operands(ctx: LowerContext) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(input shape, weight shape, group) of a Conv or ConvTranspose node, after the checks both
    share: (N, C, spatial...) operands of equal rank, one float dtype, kernel_shape matching the
    weight. (Their channel layouts differ: each checks its own, then `check_bias`.)"""
    xs, ws = ctx.shape(0), ctx.shape(1)
    if len(xs) < 3 or len(ws) != len(xs):
        raise ctx.error(f"input {xs} and weight {ws} must be (N, C, spatial...) of equal rank")
    if not is_float(ctx.dtype(0)) or ctx.dtype(1) != ctx.dtype(0):
        raise ctx.error(f"float input and weight of one dtype expected, got {ctx.dtype(0)}, {ctx.dtype(1)}")
    kernel = ctx.attr("kernel_shape") or ws[2:]
    if tuple(int(k) for k in kernel) != tuple(ws[2:]):
        raise ctx.error(f"kernel_shape {list(kernel)} differs from the weight's {list(ws[2:])}")
    return xs, ws, int(ctx.attr("group", 1))


def check_bias(ctx: LowerContext, channels: int) -> None:
    if ctx.optional(2) is not None and ctx.shape(2) != (channels,):
        raise ctx.error(f"bias shape {ctx.shape(2)} must be ({channels},)")


@register("Conv", kind=OpKind.OPAQUE, since=1)
def lower_conv(ctx: LowerContext) -> list[te.Tensor]:
    x, w = ctx.input(0), ctx.input(1)
    bias = ctx.optional(2)
    xs, ws, group = conv_operands(ctx)
    n, c = xs[0], xs[1]
    m, cg = ws[0], ws[1]
    if group < 1 or c != cg * group or m % group:
        raise ctx.error(f"channels: input {c}, weight {ws}, group {group} do not agree")
    check_bias(ctx, m)
    win = window(ctx, xs[2:], ws[2:])
    rank, mg, dtype = win.rank, m // group, ctx.dtype(0)
    padded_shape = (n, c, *(win.in_size[i] + win.pad_begin[i] + win.pad_end[i] for i in range(rank)))

    def pad_value(b: object, ch: object, *sp: object) -> object:
        inside = tirx.const(True, "bool")
        src = []
        for i, p in enumerate(sp):
            q = p - win.pad_begin[i]
            inside = tirx.all(inside, q >= 0, q < win.in_size[i])
            src.append(tirx.max(tirx.min(q, win.in_size[i] - 1), 0))
        return tirx.if_then_else(inside, x[(b, ch, *src)], tirx.const(0, dtype))

    xp = te.compute(padded_shape, pad_value, name=ctx.name("pad")) if any(
        win.pad_begin) or any(win.pad_end) else x
    rc = te.reduce_axis((0, cg), name="rc")
    rk = [te.reduce_axis((0, k), name=f"rk{i}") for i, k in enumerate(win.kernel)]

    def body(b: object, o: object, *sp: object) -> object:
        idx = [sp[i] * win.strides[i] + rk[i] * win.dilations[i] for i in range(rank)]
        return te.sum(xp[(b, (o // mg) * cg + rc, *idx)] * w[(o, rc, *rk)], axis=[rc, *rk])

    out = te.compute((n, m, *win.out_size), body, name=ctx.name("conv"))
    if bias is None:
        return [out]
    return [te.compute(out.shape, lambda b, o, *sp: out[(b, o, *sp)] + bias[o], name=ctx.name("bias"))]
