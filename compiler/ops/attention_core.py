"""onnxjit's canonical attention op (domain "onnxjit"): every attention spelling lowers onto it.

    Y = softmax(softcap(scale * Q Kᵀ) + mask + causal) V,   per (batch, query head)

Q/K/V/Y are each either 4-D [B, H, S, D] ("bhsd") or 3-D [B, S, H*D] ("bsh"), so the head
reshapes/transposes around multi-head projections never become kernels. Query head h reads KV head
h // (q_heads / kv_heads) (GQA/MQA). Causal: query i sees key j iff j <= i + causal_offset. A
fully masked row gives a zero output row (ONNX Attention's rule).

The TE lowering here is the reference semantics (it materialises the scores: the correctness oracle
and fallback); schedules/attention.py replaces it with the flash kernel, reading the spec from the
`onnxjit_attention` block annotation this lowering leaves.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from onnxjit.compiler.graph import ONNXJIT_DOMAIN
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

ANNOTATION = "onnxjit_attention"
LAYOUTS = ("bhsd", "bsh")
NEG_INF = float("-inf")


@dataclass(frozen=True)
class AttentionSpec:
    batch: int
    q_heads: int
    kv_heads: int
    sq: int
    skv: int
    d: int                      # query/key head size
    dv: int                     # value head size
    q_layout: str
    k_layout: str
    v_layout: str
    o_layout: str
    scale: float
    softcap: float = 0.0        # 0: none
    causal: bool = False
    causal_offset: int = 0
    mask: str = "none"          # "none" | "bool" | "add"
    mask_shape: tuple[int, ...] = ()
    mask_axes: tuple[int, ...] = ()   # canonical axis (0 b, 1 h, 2 i, 3 j) of each mask axis
    dtype: str = "float32"

    @property
    def group(self) -> int:
        return self.q_heads // self.kv_heads

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> AttentionSpec:
        raw: dict[str, Any] = json.loads(text)
        raw["mask_shape"] = tuple(raw["mask_shape"])
        raw["mask_axes"] = tuple(raw["mask_axes"])
        return AttentionSpec(**raw)


def layout_shape(layout: str, b: int, h: int, s: int, d: int) -> tuple[int, ...]:
    return (b, h, s, d) if layout == "bhsd" else (b, s, h * d)


def layout_index(layout: str, hd: int, b: Any, h: Any, s: Any, d: Any) -> tuple[Any, ...]:
    """Index of element (b, h, s, d) of a tensor in `layout` (head size `hd`)."""
    return (b, h, s, d) if layout == "bhsd" else (b, s, h * hd + d)


def split_layout(layout: str, shape: Sequence[int], heads: int) -> tuple[int, int, int, int]:
    """(batch, heads, seq, head size) of a tensor of `shape` in `layout`."""
    if layout == "bhsd":
        b, h, s, d = shape
        return int(b), int(h), int(s), int(d)
    b, s, hidden = shape
    return int(b), heads, int(s), int(hidden) // heads


def scores_bias(spec: AttentionSpec, mask: te.Tensor | None, b: Any, h: Any, i: Any, j: Any,
                score: Any) -> Any:
    """The biased score of one (b, h, i, j); masked-out entries are -inf."""
    neg_inf = tirx.const(NEG_INF, "float32")
    if spec.softcap > 0:
        cap = tirx.const(spec.softcap, "float32")
        score = cap * te.tanh(score / cap)
    if mask is not None:
        canon = (b, h, i, j)
        idx = [0 if dim == 1 else canon[ax] for dim, ax in zip(spec.mask_shape, spec.mask_axes)]
        value = mask(*idx)
        if spec.mask == "bool":
            score = tirx.Select(value.astype("bool"), score, neg_inf)
        else:
            score = score + value.astype("float32")
    if spec.causal:
        score = tirx.Select(j > i + spec.causal_offset, neg_inf, score)
    return score


def attention_te(spec: AttentionSpec, q: te.Tensor, k: te.Tensor, v: te.Tensor,
                 mask: te.Tensor | None, name: str) -> te.Tensor:
    """Reference attention in TE (scores materialised); output in spec.o_layout."""
    B, H, G, Sq, Skv = spec.batch, spec.q_heads, spec.group, spec.sq, spec.skv
    r = te.reduce_axis((0, spec.d), name="d")

    def qk(b: Any, h: Any, i: Any, j: Any) -> Any:
        qv = q(*layout_index(spec.q_layout, spec.d, b, h, i, r)).astype("float32")
        kv = k(*layout_index(spec.k_layout, spec.d, b, h // G, j, r)).astype("float32")
        return te.sum(qv * kv, axis=r)

    # The spec and which placeholder plays which role, for the flash template to regenerate it.
    roles = {role: t.op.name for role, t in (("q", q), ("k", k), ("v", v), ("mask", mask))
             if t is not None}
    note = json.dumps({"spec": spec.to_json(), "roles": roles}, sort_keys=True)
    raw = te.compute((B, H, Sq, Skv), qk, name=f"{name}_qk", attrs={ANNOTATION: note})
    scale = tirx.const(spec.scale, "float32")
    biased = te.compute((B, H, Sq, Skv), lambda b, h, i, j: scores_bias(
        spec, mask, b, h, i, j, raw[b, h, i, j] * scale), name=f"{name}_biased")
    y4 = softmax_pv(biased, v, spec, name)
    if spec.o_layout == "bhsd":
        return y4
    return te.compute((B, Sq, H * spec.dv), lambda b, s, c: y4[b, c // spec.dv, s, c % spec.dv],
                      name=f"{name}_out")


def rounded(x: Any, dtype: str) -> Any:
    """x rounded through `dtype` (emulates a reference that computes in fp16/bf16)."""
    return x if dtype == "float32" else x.astype(dtype).astype("float32")


def softmax_rows(biased: te.Tensor, name: str, dtype: str = "float32") -> te.Tensor:
    """Softmax over the last axis; an all -inf row gives zeros (not NaN). Steps round through
    `dtype` when the reference computes in a narrower type."""
    B, H, Sq, Skv = (int(x) for x in biased.shape)
    j1 = te.reduce_axis((0, Skv), name="j")
    mx = te.compute((B, H, Sq), lambda b, h, i: te.max(biased[b, h, i, j1], axis=j1),
                    name=f"{name}_max")
    zero = tirx.const(0.0, "float32")
    neg_inf = tirx.const(NEG_INF, "float32")
    ex = te.compute((B, H, Sq, Skv), lambda b, h, i, j: tirx.Select(
        mx[b, h, i] == neg_inf, zero, rounded(te.exp(rounded(biased[b, h, i, j] - mx[b, h, i],
                                                             dtype)), dtype)), name=f"{name}_exp")
    j2 = te.reduce_axis((0, Skv), name="j")
    total = te.compute((B, H, Sq), lambda b, h, i: te.sum(ex[b, h, i, j2], axis=j2),
                       name=f"{name}_sum")
    one = tirx.const(1.0, "float32")
    return te.compute((B, H, Sq, Skv), lambda b, h, i, j: rounded(ex[b, h, i, j] / tirx.Select(
        total[b, h, i] == zero, one, rounded(total[b, h, i], dtype)), dtype), name=f"{name}_probs")


def softmax_pv(biased: te.Tensor, v: te.Tensor, spec: AttentionSpec, name: str) -> te.Tensor:
    probs = softmax_rows(biased, name)
    jv = te.reduce_axis((0, spec.skv), name="j")
    G = spec.group
    return te.compute(
        (spec.batch, spec.q_heads, spec.sq, spec.dv),
        lambda b, h, i, c: te.sum(probs[b, h, i, jv] * v(
            *layout_index(spec.v_layout, spec.dv, b, h // G, jv, c)).astype("float32"), axis=jv),
        name=f"{name}_pv")


def spec_from_node(ctx: LowerContext) -> AttentionSpec:
    """The spec of an onnxjit::Attention node from its attributes and input shapes."""
    layouts = [str(ctx.attr(f"{t}_layout", "bhsd")) for t in "qkvo"]
    if any(lay not in LAYOUTS for lay in layouts):
        raise ctx.error(f"unknown layout in {layouts}")
    qh, kvh = int(ctx.attr("q_heads", 0)), int(ctx.attr("kv_heads", 0))
    b, qh, sq, d = split_layout(layouts[0], ctx.shape(0), qh)
    _, kvh, skv, dk = split_layout(layouts[1], ctx.shape(1), kvh)
    _, _, skv2, dv = split_layout(layouts[2], ctx.shape(2), kvh)
    if d != dk or skv != skv2 or kvh <= 0 or qh % kvh:
        raise ctx.error(f"inconsistent Q/K/V shapes {ctx.shape(0)} {ctx.shape(1)} {ctx.shape(2)}")
    mask = ctx.optional(3)
    kind, mshape, maxes = "none", (), ()
    if mask is not None:
        kind = "bool" if ctx.dtype(3) == "bool" else "add"
        mshape = ctx.shape(3)
        maxes = tuple(int(a) for a in ctx.attr("mask_axes", tuple(range(4 - len(mshape), 4))))
        full = (b, qh, sq, skv)
        if len(maxes) != len(mshape) or any(m not in (1, full[a]) for m, a in zip(mshape, maxes)):
            raise ctx.error(f"mask shape {mshape} does not broadcast to {full}")
    scale = float(ctx.attr("scale", 0.0)) or 1.0 / math.sqrt(d)
    return AttentionSpec(b, qh, kvh, sq, skv, d, dv, *layouts, scale=scale,
                         softcap=float(ctx.attr("softcap", 0.0)),
                         causal=bool(ctx.attr("causal", 0)),
                         causal_offset=int(ctx.attr("causal_offset", 0)), mask=kind,
                         mask_shape=tuple(mshape), mask_axes=maxes, dtype=ctx.dtype(0))


@register("Attention", kind=OpKind.OPAQUE, domain=ONNXJIT_DOMAIN)
def lower_attention(ctx: LowerContext) -> list[te.Tensor]:
    spec = spec_from_node(ctx)
    y = attention_te(spec, ctx.input(0), ctx.input(1), ctx.input(2), ctx.optional(3), ctx.name())
    return [y if spec.dtype == "float32" else te.compute(
        y.shape, lambda *i: y(*i).astype(spec.dtype), name=ctx.name("cast"))]


@register("AttentionKVConcat", kind=OpKind.INJECTIVE, domain=ONNXJIT_DOMAIN)
def lower_kv_concat(ctx: LowerContext) -> list[te.Tensor]:
    """present = concat(past [B, H, P, D], new in `layout` (attr), axis=2) as [B, H, P+S, D];
    without a past (input 0 omitted), `new` in [B, H, S, D] (attr `heads` for a 3-D `new`)."""
    past, new = ctx.optional(0), ctx.input(1)
    layout = str(ctx.attr("layout", "bhsd"))
    if past is None:  # no past: the new keys/values in [B, H, S, D]
        b, h, s, d = split_layout(layout, ctx.shape(1), int(ctx.attr("heads", 0)))
        return [te.compute((b, h, s, d), lambda *i: new(*layout_index(layout, d, *i)),
                           name=ctx.name("present"))]
    b, h, p, d = ctx.shape(0)
    _, _, s, _ = split_layout(layout, ctx.shape(1), h)

    def body(bi: Any, hi: Any, si: Any, di: Any) -> Any:
        # if_then_else, as Concat: a Select with clamped indices vectorised 5x slower (54 vs 10 us
        # for a [1, 8, 255, 64] cache), loading both sides of every element.
        return tirx.if_then_else(si < p, past[bi, hi, si, di],
                                 new(*layout_index(layout, d, bi, hi, si - p, di)))

    return [te.compute((b, h, p + s, d), body, name=ctx.name("present"))]
