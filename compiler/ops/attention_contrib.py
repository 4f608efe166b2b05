"""com.microsoft MultiHeadAttention and GroupQueryAttention (their CPU-relevant attributes).

Both lower onto the canonical attention (attention_core): without a past cache the kernel is
exactly one onnxjit attention, so the flash template takes it; with one, present_key/value are
concatenated in the same kernel (the attention pass splits that into a concat and a flash kernel).

MultiHeadAttention: query [B, S, N*H]; key/value [B, L, N*H] or [B, N, L, H]; attention_bias
(additive, broadcast to [B, N, S, T]); key_padding_mask [B, T] (0 masks with mask_filter_value);
past_key/past_value [B, N, P, H]; unidirectional (bottom-right causal); scale.
GroupQueryAttention: query [B, S, N*H], key/value [B, S, Nkv*H], past [B, Nkv, P, H]; always
causal; softcap; scale. The cache is taken as full (seqlens_k = P + S - 1 for every batch), as
in prefill and non-padded decode; packed QKV, rotary embedding, local windows, smooth softmax and
the qk output are rejected with an error naming the node.
"""
from __future__ import annotations

import math
from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops.attention_core import AttentionSpec, attention_te, split_layout
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

MS_DOMAIN = "com.microsoft"


def _concat(ctx: LowerContext, past: te.Tensor, new: te.Tensor, layout: str,
            heads: int, name: str) -> te.Tensor:
    b, h, p, d = (int(x) for x in past.shape)
    _, _, s, _ = split_layout(layout, [int(x) for x in new.shape], heads)

    def body(bi: Any, hi: Any, si: Any, di: Any) -> Any:
        fresh = (new[bi, hi, tirx.max(si - p, 0), di] if layout == "bhsd"
                 else new[bi, tirx.max(si - p, 0), hi * d + di])
        return tirx.Select(si < p, past[bi, hi, tirx.min(si, max(p - 1, 0)), di], fresh)

    return te.compute((b, h, p + s, d), body, name=ctx.name(name))


def _to_bhsd(ctx: LowerContext, t: te.Tensor, layout: str, heads: int, name: str) -> te.Tensor:
    if layout == "bhsd":
        return te.compute(t.shape, lambda *i: t(*i), name=ctx.name(name))
    b, h, s, d = split_layout(layout, [int(x) for x in t.shape], heads)
    return te.compute((b, h, s, d), lambda bi, hi, si, di: t[bi, si, hi * d + di],
                      name=ctx.name(name))


def _unsupported(ctx: LowerContext, inputs: dict[int, str], attrs: dict[str, Any]) -> None:
    for i, what in inputs.items():
        if ctx.optional(i) is not None:
            raise ctx.error(f"{what} (input {i}) is not supported")
    for key, default in attrs.items():
        if ctx.attr(key, default) != default:
            raise ctx.error(f"attribute {key}={ctx.attr(key)} is not supported")


def _attend(ctx: LowerContext, q: te.Tensor, k: te.Tensor, v: te.Tensor, heads: int,
            kv_heads: int, kv_layout: str, mask: te.Tensor | None, causal: bool,
            past: tuple[te.Tensor, te.Tensor] | None, softcap: float = 0.0) -> list[te.Tensor]:
    b, _, sq, d = split_layout("bsh", ctx.shape(0), heads)
    if past is not None:
        k = _concat(ctx, past[0], k, kv_layout, kv_heads, "present_key")
        v = _concat(ctx, past[1], v, kv_layout, kv_heads, "present_value")
        kv_layout = "bhsd"
        presents = [k, v]
    else:  # present outputs are the new keys/values in [B, N, S, H]
        presents = [_to_bhsd(ctx, t, kv_layout, kv_heads, n)
                    for t, n in ((k, "present_key"), (v, "present_value"))]
    _, _, skv, _ = split_layout(kv_layout, [int(x) for x in k.shape], kv_heads)
    _, _, _, dv = split_layout(kv_layout, [int(x) for x in v.shape], kv_heads)
    mshape = tuple(int(x) for x in mask.shape) if mask is not None else ()
    if mask is not None and (len(mshape) > 4 or mshape[-1] != skv):
        raise ctx.error(f"attention bias of shape {mshape} does not end in {skv} keys")
    scale = float(ctx.attr("scale", 0.0)) or 1.0 / math.sqrt(d)
    spec = AttentionSpec(b, heads, kv_heads, sq, skv, d, dv, "bsh", kv_layout, kv_layout, "bsh",
                         scale=scale, softcap=softcap, causal=causal, causal_offset=skv - sq,
                         mask="add" if mask is not None else "none", mask_shape=mshape,
                         mask_axes=tuple(range(4 - len(mshape), 4)), dtype=str(q.dtype))
    y = attention_te(spec, q, k, v, mask, ctx.name())
    if spec.dtype != "float32":
        y = te.compute(y.shape, lambda *i: y(*i).astype(spec.dtype), name=ctx.name("cast"))
    return [y, *presents]


@register("MultiHeadAttention", kind=OpKind.OPAQUE, domain=MS_DOMAIN)
def lower_multi_head_attention(ctx: LowerContext) -> list[te.Tensor]:
    _unsupported(ctx, {3: "bias", 8: "past_sequence_length", 9: "cache_indirection"}, {})
    heads = int(ctx.attr("num_heads", 0))
    if heads <= 0 or ctx.optional(1) is None or ctx.optional(2) is None or len(ctx.shape(0)) != 3:
        raise ctx.error("needs num_heads and separate 3-D query, key and value (packed QKV is "
                        "not supported)")
    kv_layout = "bhsd" if len(ctx.shape(1)) == 4 else "bsh"
    mask = ctx.optional(5)
    pad = ctx.optional(4)
    if pad is not None:
        if len(ctx.shape(4)) != 2:
            raise ctx.error("key_padding_mask must be [batch, total_sequence_length]")
        filt = tirx.const(float(ctx.attr("mask_filter_value", -10000.0)), "float32")
        zero = tirx.const(0.0, "float32")
        bias = mask
        b, t = ctx.shape(4)
        shape = (b, heads, ctx.shape(0)[1], t)

        def combined(bi: Any, hi: Any, i: Any, j: Any) -> Any:
            value = tirx.Select(pad[bi, j] == 0, filt, zero)
            if bias is not None:
                dims = [int(x) for x in bias.shape]
                idx = [0 if dim == 1 else c for dim, c in zip(dims, (bi, hi, i, j)[4 - len(dims):])]
                value = value + bias(*idx).astype("float32")
            return value

        mask = te.compute(shape, combined, name=ctx.name("mask"))
    past_k, past_v = ctx.optional(6), ctx.optional(7)
    past = (past_k, past_v) if past_k is not None and past_v is not None else None
    return _attend(ctx, ctx.input(0), ctx.input(1), ctx.input(2), heads, heads, kv_layout, mask,
                   bool(ctx.attr("unidirectional", 0)), past)


@register("GroupQueryAttention", kind=OpKind.OPAQUE, domain=MS_DOMAIN)
def lower_group_query_attention(ctx: LowerContext) -> list[te.Tensor]:
    _unsupported(ctx, {7: "cos_cache", 8: "sin_cache", 9: "position_ids", 11: "head_sink"},
                 {"do_rotary": 0, "local_window_size": -1, "smooth_softmax": 0})
    heads, kv_heads = int(ctx.attr("num_heads", 0)), int(ctx.attr("kv_num_heads", 0))
    if heads <= 0 or kv_heads <= 0 or ctx.optional(1) is None or ctx.optional(2) is None:
        raise ctx.error("needs num_heads, kv_num_heads and separate query, key and value")
    past_k, past_v = ctx.optional(3), ctx.optional(4)
    past = (past_k, past_v) if past_k is not None and past_v is not None else None
    return _attend(ctx, ctx.input(0), ctx.input(1), ctx.input(2), heads, kv_heads, "bsh",
                   ctx.optional(10), True, past, float(ctx.attr("softcap", 0.0)))
