"""CausalConvWithState (opset 27): causal depthwise conv1d over (B, C, L) with a carried state.

padded = concat(past_state or zeros (B, C, k-1), input) along time;
output[b,c,t] = act(bias[c] + sum_j weight[c,0,j] * padded[b,c,t+j]), act none | silu | swish;
present_state = padded[:, :, L:] (its last k-1 positions). Computed in float32, stored in the
input's dtype. The vectorised kernels are schedules/causal_conv.py and causal_conv_channels.py.

onnxjit::CausalConvWithStateNTC is the same op with input and output in (B, L, C), the layout
around it when an exporter transposes a (B, L, C) activation for the conv and back
(compiler/passes/causal_conv_layout.py): the state stays (B, C, k-1).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.graph import ONNXJIT_DOMAIN
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._tir import tir_extern
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import PrimFunc, T, te

F32 = "float32"


def _padded(past: Any, x: Any, b: Any, c: Any, p: Any, km1: int, has_past: bool,
            channels_last: bool = False) -> Any:
    """padded[b, c, p] as a float32 expression (loads guarded by the select)."""
    t = T.max(p - km1, 0)
    from_x = T.Cast(F32, x[b, t, c] if channels_last else x[b, c, t])
    if km1 == 0:
        return from_x
    from_past = T.Cast(F32, past[b, c, T.min(p, km1 - 1)]) if has_past else T.float32(0)
    return T.if_then_else(p < km1, from_past, from_x)


def reference_func(shapes: Sequence[tuple[Any, ...]], dtype: str, has_bias: bool,
                   has_past: bool, silu: bool, channels_last: bool = False) -> PrimFunc:
    xs, ws, bs, ps = shapes
    batch, chans, length = (int(v) for v in xs)
    if channels_last:
        chans, length = length, chans
    ys = (batch, length, chans) if channels_last else (batch, chans, length)
    last = channels_last
    k = int(ws[2])
    km1 = k - 1
    bias_on, silu_on = int(has_bias), int(silu)
    state_len = max(km1, 1)  # a k=1 state is empty: the kernel writes a 1-wide dummy instead

    @T.prim_func
    def func(x: T.Buffer(xs, dtype), w: T.Buffer(ws, dtype), bias: T.Buffer(bs, dtype),
             past: T.Buffer(ps, dtype), y: T.Buffer(ys, dtype),
             state: T.Buffer((batch, chans, state_len), dtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        acc = T.alloc_buffer((1,), F32, scope="local")
        for b, c, t in T.grid(batch, chans, length):
            acc[0] = T.Cast(F32, bias[c]) if bias_on == 1 else T.float32(0)
            for j in range(k):
                acc[0] = acc[0] + T.Cast(F32, w[c, 0, j]) * _padded(past, x, b, c, t + j, km1,
                                                                    has_past, last)
            out = T.meta_var((b, t, c) if last else (b, c, t))
            if silu_on == 1:
                y[out] = T.Cast(dtype, acc[0] / (T.float32(1) + T.exp(-acc[0])))
            else:
                y[out] = T.Cast(dtype, acc[0])
        for b, c, s in T.grid(batch, chans, state_len):
            state[b, c, s] = T.Cast(dtype, _padded(past, x, b, c, length + s, km1, has_past,
                                                   last))

    return func


@register("CausalConvWithState", kind=OpKind.OPAQUE, since=27)
def lower_causal_conv(ctx: LowerContext) -> list[te.Tensor]:
    return _lower(ctx, channels_last=False)


@register("CausalConvWithStateNTC", kind=OpKind.OPAQUE, domain=ONNXJIT_DOMAIN)
def lower_causal_conv_ntc(ctx: LowerContext) -> list[te.Tensor]:
    return _lower(ctx, channels_last=True)


def _lower(ctx: LowerContext, channels_last: bool) -> list[te.Tensor]:
    x, w = ctx.input(0), ctx.input(1)
    layout = "(B, L, C)" if channels_last else "(B, C, L)"
    if len(ctx.shape(0)) != 3 or len(ctx.shape(1)) != 3 or ctx.shape(1)[1] != 1:
        raise ctx.error(f"expects input {layout} and weight (C, 1, k), got {ctx.shape(0)} and "
                        f"{ctx.shape(1)}")
    batch, chans, length = ctx.shape(0)
    if channels_last:
        chans, length = length, chans
    k = ctx.shape(1)[2]
    if ctx.shape(1)[0] != chans or k < 1:
        raise ctx.error(f"weight shape {ctx.shape(1)} does not fit {chans} channels")
    act = str(ctx.attr("activation", "none"))
    if act not in ("none", "silu", "swish"):
        raise ctx.error(f"unsupported activation {act!r}")
    if k == 1:
        raise ctx.error("kernel size 1 (an empty carried state) is not supported")
    bias, past = ctx.optional(2), ctx.optional(3)
    if past is not None and ctx.shape(3) != (batch, chans, k - 1):
        raise ctx.error(f"past_state shape {ctx.shape(3)} != {(batch, chans, k - 1)}")
    dtype = ctx.dtype(0)
    # Absent optional inputs become tiny never-read stand-ins, so one signature serves all.
    bias_t = bias if bias is not None else te.compute((1,), lambda _: T.Cast(dtype, 0),
                                                       name=ctx.name("nobias"))
    past_t = past if past is not None else te.compute((1, 1, 1), lambda *_: T.Cast(dtype, 0),
                                                       name=ctx.name("nopast"))
    spec = {"op": "CausalConvWithState", "B": batch, "C": chans, "L": length, "k": k,
            "dtype": dtype, "bias": bias is not None, "past": past is not None,
            "silu": act != "none", "channels_last": channels_last}
    return tir_extern(ctx, [x, w, bias_t, past_t], lambda s: reference_func(
        s, dtype, bias is not None, past is not None, act != "none", channels_last), spec, 2)
