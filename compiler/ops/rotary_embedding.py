"""RotaryEmbedding (opset 23): rotates pairs of each head's first rotary_embedding_dim features by
position-dependent angles given as cos/sin caches.

Input [B, H, S, D] or [B, S, H*D] (num_heads needed); caches [max_pos, R/2] indexed by
position_ids [B, S], or [B, S, R/2] without position ids. Pairs are (d, d + R/2) or, interleaved,
(2i, 2i + 1); features from R on pass through. One elementwise-shaped TE compute: each output
element reads its own feature, its partner and one cos/sin entry. Position ids outside the cache
are clamped (never a read outside it).
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("RotaryEmbedding", kind=OpKind.INJECTIVE, since=23)
def lower_rotary_embedding(ctx: LowerContext) -> list[te.Tensor]:
    x, cos, sin = ctx.input(0), ctx.input(1), ctx.input(2)
    pos = ctx.optional(3)
    shape = ctx.shape(0)
    interleaved = bool(ctx.attr("interleaved", 0))
    if len(shape) == 4:
        head = shape[3]
    elif len(shape) == 3:
        heads = int(ctx.attr("num_heads", 0))
        if heads <= 0 or shape[2] % heads:
            raise ctx.error(f"3-D input {shape} needs num_heads dividing {shape[2]}")
        head = shape[2] // heads
    else:
        raise ctx.error(f"input must be 3-D or 4-D, got shape {shape}")
    rot = int(ctx.attr("rotary_embedding_dim", 0)) or head
    if rot % 2 or rot > head:
        raise ctx.error(f"rotary_embedding_dim {rot} must be even and at most the head size {head}")
    half = rot // 2
    cache_shape = ctx.shape(1)
    if cache_shape[-1] != half or ctx.shape(2) != cache_shape:
        raise ctx.error(f"cos/sin caches {cache_shape}, {ctx.shape(2)} must end in {half}")
    if (pos is None) != (len(cache_shape) == 3):
        raise ctx.error("caches are [B, S, R/2] without position_ids, [max_pos, R/2] with them")
    dtype = str(x.dtype)

    def split(index: tuple[Expr, ...]) -> tuple[Expr, Expr, Expr, object]:
        """(batch, seq, feature d, function rebuilding x's index with another d)."""
        if len(shape) == 4:
            b, h, s, d = index
            return b, s, d, lambda dd: (b, h, s, dd)
        b, s, hd = index
        base = hd - tirx.floormod(hd, head)
        return b, s, tirx.floormod(hd, head), lambda dd: (b, s, base + dd)

    def cache(t: te.Tensor, b: Expr, s: Expr, j: Expr) -> Expr:
        if pos is None:
            return t(b, s, j)
        p = pos(b, s)
        limit = tirx.const(cache_shape[0] - 1, str(pos.dtype))
        p = tirx.min(tirx.max(p, tirx.const(0, str(pos.dtype))), limit)
        return t(p.astype("int32"), j)

    def body(*index: Expr) -> Expr:
        b, s, d, at = split(index)
        if interleaved:
            j, second = tirx.floordiv(d, 2), tirx.floormod(d, 2) == 1
            partner = tirx.Select(second, d - 1, d + 1)
        else:
            second = d >= half
            j = tirx.Select(second, d - half, d)
            partner = tirx.Select(second, d - half, d + half)
        inside = d < rot
        j = tirx.Select(inside, j, 0)
        partner = tirx.Select(inside, partner, d)
        c, sn = cache(cos, b, s, j), cache(sin, b, s, j)
        v, w = x(*at(d)), x(*at(partner))
        # first of a pair: x1 cos - x2 sin; second: x1 sin + x2 cos (x1 = partner, x2 = v).
        rotated = tirx.Select(second, w * sn + v * c, v * c - w * sn)
        return tirx.Select(inside, rotated, v).astype(dtype)

    return [te.compute(shape, body, name=ctx.name())]
