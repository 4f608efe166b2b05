"""ONNX Attention (opsets 23, 24, 25): the general lowering, mirroring onnx's reference semantics.

Everything the spec allows lowers here (3-D/4-D, GQA/MQA, causal with offset, boolean/additive
masks shorter than the KV length, past/present KV, nonpad_kv_seqlen, sliding windows, softcap, the
qk_matmul_output modes, fp16/bf16). It materialises the scores; the attention pass
(passes/attention.py) moves the common fp32 forms onto the flash kernel (onnxjit::Attention).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops.attention_core import (
    NEG_INF, layout_index, rounded, softmax_rows, split_layout)
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

F32 = "float32"


def _round_to(dtype: str, x: float) -> float:
    try:
        return float(np.asarray(x, dtype=np.dtype(dtype)))
    except TypeError:  # bfloat16 is not a numpy dtype without ml_dtypes
        import ml_dtypes

        return float(np.asarray(x, dtype=ml_dtypes.bfloat16))


def _as4d(ctx: LowerContext, t: te.Tensor, heads: int, name: str) -> te.Tensor:
    if len(t.shape) == 4:
        return t
    b, h, s, d = split_layout("bsh", [int(x) for x in t.shape], heads)
    return te.compute((b, h, s, d), lambda *i: t(*layout_index("bsh", d, *i)), name=ctx.name(name))


def _concat(ctx: LowerContext, past: te.Tensor, new: te.Tensor, name: str) -> te.Tensor:
    b, h, p, d = (int(x) for x in past.shape)
    s = int(new.shape[2])
    return te.compute((b, h, p + s, d), lambda bi, hi, si, di: tirx.Select(
        si < p, past[bi, hi, tirx.min(si, max(p - 1, 0)), di],
        new[bi, hi, tirx.max(si - p, 0), di]), name=ctx.name(name))


def _bias(ctx: LowerContext, mask: te.Tensor | None, nonpad: te.Tensor | None, past_len: int,
          sq: int, skv: int, b: Any, h: Any, i: Any, j: Any) -> Any:
    """The additive bias of one score (0 or -inf, or the float mask's value)."""
    zero, neg_inf = tirx.const(0.0, F32), tirx.const(NEG_INF, F32)
    causal = bool(ctx.attr("is_causal", 0))
    left, right = int(ctx.attr("left_window_size", -1)), int(ctx.attr("right_window_size", -1))
    bias = zero
    if mask is not None:
        shape = [int(x) for x in mask.shape]
        canon = (b, h, i, j)[4 - len(shape):]
        idx = [0 if dim == 1 else c for dim, c in zip(shape, canon)]
        if shape[-1] < skv:
            idx[-1] = tirx.min(j, shape[-1] - 1)
        value = mask(*idx)
        bias = tirx.Select(value, zero, neg_inf) if mask.dtype == "bool" else value.astype(F32)
        if shape[-1] < skv:
            bias = tirx.Select(j < shape[-1], bias, neg_inf)
    if nonpad is not None:
        n = nonpad[b].astype("int32")
        offset = n - sq
        bias = tirx.Select(j < n, bias, neg_inf)
    else:
        offset = tirx.const(past_len, "int32")
    if causal:
        bias = tirx.Select(j > i + offset, neg_inf, bias)
    if left >= 0:
        bias = tirx.Select(i + offset - j > left, neg_inf, bias)
    if right >= 0:
        bias = tirx.Select(j - (i + offset) > right, neg_inf, bias)
    return bias


@register("Attention", kind=OpKind.OPAQUE, since=23)
def lower_attention(ctx: LowerContext) -> list[te.Tensor]:
    q_in, k_in, v_in = ctx.input(0), ctx.input(1), ctx.input(2)
    rank = len(q_in.shape)
    if rank not in (3, 4) or len(k_in.shape) != rank or len(v_in.shape) != rank:
        raise ctx.error("Q, K and V must all be 3-D or all 4-D")
    qh, kvh = int(ctx.attr("q_num_heads", 0)), int(ctx.attr("kv_num_heads", 0))
    if rank == 3 and (qh <= 0 or kvh <= 0):
        raise ctx.error("3-D inputs need q_num_heads and kv_num_heads")
    dtype = str(q_in.dtype)
    q, k, v = _as4d(ctx, q_in, qh, "q4"), _as4d(ctx, k_in, kvh, "k4"), _as4d(ctx, v_in, kvh, "v4")
    past_k, past_v = ctx.optional(4), ctx.optional(5)
    if (past_k is None) != (past_v is None):
        raise ctx.error("past_key and past_value must be given together")
    past_len = int(past_k.shape[2]) if past_k is not None else 0
    if past_k is not None and past_v is not None:
        k, v = _concat(ctx, past_k, k, "present_key"), _concat(ctx, past_v, v, "present_value")
    b, hq, sq, d = (int(x) for x in q.shape)
    _, hkv, skv, dv = (int(x) for x in v.shape)
    if hq % int(k.shape[1]) or int(k.shape[1]) != hkv:
        raise ctx.error(f"{hq} query heads cannot share {hkv} KV heads")
    group = hq // hkv
    scale = ctx.attr("scale")
    scale = float(scale) if scale is not None else 1.0 / math.sqrt(d)
    # The reference scales Q and K by sqrt(scale) rounded to T1 (numerical-overflow guard).
    sqrt_scale = tirx.const(_round_to(dtype, math.sqrt(scale)), F32)
    r = te.reduce_axis((0, d), name="d")
    acc = te.compute((b, hq, sq, skv), lambda bi, hi, i, j: te.sum(
        rounded(q[bi, hi, i, r].astype(F32) * sqrt_scale, dtype)
        * rounded(k[bi, hi // group, j, r].astype(F32) * sqrt_scale, dtype), axis=r),
        name=ctx.name("qk_acc"))
    raw = acc if dtype == F32 else te.compute(acc.shape, lambda *i: rounded(acc(*i), dtype),
                                              name=ctx.name("qk"))
    softcap = float(ctx.attr("softcap", 0.0))
    capped = raw
    if softcap > 0:
        cap = tirx.const(softcap, F32)
        capped = te.compute(raw.shape, lambda *i: rounded(cap * te.tanh(raw(*i) / cap), dtype),
                            name=ctx.name("softcap"))
    mask, nonpad = ctx.optional(3), ctx.optional(6)
    bias = te.compute((b, hq, sq, skv), lambda *i: _bias(ctx, mask, nonpad, past_len, sq, skv, *i),
                      name=ctx.name("bias"))
    biased = te.compute(raw.shape, lambda *i: rounded(capped(*i) + bias(*i), dtype),
                        name=ctx.name("biased"))
    probs = softmax_rows(biased, ctx.name(), dtype)
    jb = te.reduce_axis((0, skv), name="j")
    bias_max = te.compute((b, hq, sq), lambda *i: te.max(bias(*i, jb), axis=jb),
                          name=ctx.name("bias_max"))
    zero = tirx.const(0.0, F32)
    guarded = te.compute(raw.shape, lambda bi, hi, i, j: tirx.Select(
        bias_max[bi, hi, i] == tirx.const(NEG_INF, F32), zero, probs[bi, hi, i, j]),
        name=ctx.name("guarded"))
    if dtype != F32:  # the reference casts the probabilities to T1 before the PV product
        guarded = te.compute(raw.shape, lambda *i: guarded(*i).astype(dtype).astype(F32),
                             name=ctx.name("probs_t1"))
    jv = te.reduce_axis((0, skv), name="j")
    y4 = te.compute((b, hq, sq, dv), lambda bi, hi, i, c: te.sum(
        guarded[bi, hi, i, jv] * v[bi, hi // group, jv, c].astype(F32), axis=jv),
        name=ctx.name("pv"))
    if rank == 3:
        y = te.compute((b, sq, hq * dv), lambda bi, s, c: y4[bi, c // dv, s, c % dv].astype(dtype),
                       name=ctx.name("y"))
    else:
        y = te.compute(y4.shape, lambda *i: y4(*i).astype(dtype), name=ctx.name("y"))
    mode = int(ctx.attr("qk_matmul_output_mode", 0))
    if mode not in (0, 1, 2, 3):
        raise ctx.error(f"qk_matmul_output_mode {mode} is not one of 0..3")

    # Recomputed from two producers, not copied from one intermediate: the fallback schedule
    # reverse-inlines a single-producer copy into a producer that other blocks still read.
    def qk_value(bi: Any, hi: Any, i: Any, j: Any) -> Any:
        if mode == 3:
            return tirx.Select(bias_max[bi, hi, i] == tirx.const(NEG_INF, F32), zero,
                               probs[bi, hi, i, j])
        value = rounded(acc[bi, hi, i, j], dtype)
        if softcap > 0:
            value = rounded(tirx.const(softcap, F32) * te.tanh(value / tirx.const(softcap, F32)),
                            dtype)
        return rounded(value + bias[bi, hi, i, j], dtype) if mode == 2 else value

    qk_out = te.compute(raw.shape, lambda *i: qk_value(*i).astype(dtype), name=ctx.name("qk_out"))
    return [y, k, v, qk_out]
