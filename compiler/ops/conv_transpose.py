"""ConvTranspose (opset 1/11): N-d transposed convolution with groups, strides, dilations, pads,
output_padding, output_shape, auto_pad and bias.

This TE lowering is the general, always-correct form (any rank, run-time weights): each output
element gathers the input positions whose scattered window covers it. ConvTransposes with constant
float32 1-d/2-d weights are rewritten by compiler/passes/conv_transpose.py into a Conv on the fast
conv path followed by an interleave of the stride phases.
"""
from __future__ import annotations

from collections.abc import Sequence

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._window import Window, axis_ints
from onnxjit.compiler.ops.conv import check_bias, conv_operands
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


def transpose_window(ctx: LowerContext, in_size: Sequence[int], kernel: Sequence[int]) -> Window:
    """Pads and output size of a ConvTranspose, by the ONNX spec's equations: explicit pads give the
    output size; output_shape (or SAME_* auto_pad, output = input * stride) gives the pads, the odd
    unit going to the end for SAME_UPPER and to the beginning otherwise."""
    rank = len(in_size)
    strides, dilations = axis_ints(ctx, "strides", rank, 1), axis_ints(ctx, "dilations", rank, 1)
    output_padding = axis_ints(ctx, "output_padding", rank, 0)
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations) or any(int(k) < 1 for k in kernel):
        raise ctx.error("kernel_shape, strides and dilations must be positive")
    if any(p < 0 for p in output_padding):
        raise ctx.error(f"output_padding {output_padding} must be non-negative")
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise ctx.error(f"unknown auto_pad {auto_pad!r}")
    span = [(int(kernel[i]) - 1) * dilations[i] + 1 for i in range(rank)]
    full = [strides[i] * (int(in_size[i]) - 1) + output_padding[i] + span[i] for i in range(rank)]
    output_shape = [int(v) for v in (ctx.attr("output_shape") or [])][-rank:] if ctx.attr("output_shape") else []
    if output_shape or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = output_shape or [int(in_size[i]) * strides[i] for i in range(rank)]
        if len(out) != rank:
            raise ctx.error(f"output_shape {out} must have {rank} spatial values")
        total = [full[i] - out[i] for i in range(rank)]
        if auto_pad == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin)]
    else:
        pads = [int(p) for p in (ctx.attr("pads") or [0] * (2 * rank))]
        if auto_pad == "VALID":
            pads = [0] * (2 * rank)
        if len(pads) != 2 * rank or any(p < 0 for p in pads):
            raise ctx.error(f"pads {pads} must be {2 * rank} non-negative values")
        begin, end = pads[:rank], pads[rank:]
        out = [full[i] - begin[i] - end[i] for i in range(rank)]
    if any(o < 1 for o in out):
        raise ctx.error(f"output size {out} must be positive")
    return Window(tuple(int(k) for k in kernel), tuple(strides), tuple(dilations), tuple(begin),
                  tuple(end), tuple(int(s) for s in in_size), tuple(out))


@register("ConvTranspose", kind=OpKind.OPAQUE, since=1)
def lower_conv_transpose(ctx: LowerContext) -> list[te.Tensor]:
    x, w = ctx.input(0), ctx.input(1)
    bias = ctx.optional(2)
    xs, ws, group = conv_operands(ctx)
    n, c = xs[0], xs[1]
    if group < 1 or c % group or ws[0] != c:
        raise ctx.error(f"channels: input {c}, weight {ws} (C, M/group, ...), group {group} do not agree")
    cg, mg = c // group, ws[1]
    m = mg * group
    check_bias(ctx, m)
    win = transpose_window(ctx, xs[2:], ws[2:])
    dtype = ctx.dtype(0)
    rc = te.reduce_axis((0, cg), name="rc")
    rk = [te.reduce_axis((0, k), name=f"rk{i}") for i, k in enumerate(win.kernel)]

    def body(b: object, o: object, *sp: object) -> object:
        # output p takes input i where i * stride - pad_begin + k * dilation = p
        inside = tirx.const(True, "bool")
        src = []
        for i, p in enumerate(sp):
            q = p + win.pad_begin[i] - rk[i] * win.dilations[i]
            s = win.strides[i]
            inside = tirx.all(inside, q >= 0, q % s == 0, q < win.in_size[i] * s)
            src.append(tirx.max(tirx.min(q // s, win.in_size[i] - 1), 0))
        term = x[(b, (o // mg) * cg + rc, *src)] * w[((o // mg) * cg + rc, o % mg, *rk)]
        return te.sum(tirx.if_then_else(inside, term, tirx.const(0, dtype)), axis=[rc, *rk])

    out = te.compute((n, m, *win.out_size), body, name=ctx.name("conv_transpose"))
    if bias is None:
        return [out]
    return [te.compute(out.shape, lambda b, o, *sp: out[(b, o, *sp)] + bias[o], name=ctx.name("bias"))]
