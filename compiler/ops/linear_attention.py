"""LinearAttention (opset 27): linear / gated / delta / gated_delta recurrences, GQA, past state.

Per (batch, kv head) the state S (d_k x d_v) evolves token by token:
    S <- e^{g_t} ⊙ S                        (gated rules; g per head or per key dimension)
    w  = β_t (v_t - S^T k_t)  (delta rules)  or  v_t
    S <- S + k_t w^T;   o_t[q head] = scale · q_t^T S   (q heads share their kv head's state)
Computed in float32 (state and output cast to the input dtypes at the end). This file holds the
plain reference loop nest; schedules/linear_attention.py generates the fast kernel.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._tir import tir_extern
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import PrimFunc, T, te

F32 = "float32"
RULES = ("linear", "gated", "delta", "gated_delta")


@dataclass(frozen=True)
class LinearAttentionDims:
    """A LinearAttention kernel spec read once (the reference and the GPU kernels share it)."""

    dtype: str
    sdtype: str
    batch: int
    length: int
    hq: int
    hkv: int
    dk: int
    dv: int
    group: int
    scale: float
    gated: int
    delta: int
    has_past: int
    g_per_key: int
    b_per_head: int

    @staticmethod
    def of(spec: dict[str, Any]) -> LinearAttentionDims:
        batch, length, hq, hkv = (int(spec[key]) for key in ("B", "T", "Hq", "Hkv"))
        return LinearAttentionDims(
            str(spec["dtype"]), str(spec["state_dtype"]), batch, length, hq, hkv,
            int(spec["dk"]), int(spec["dv"]), hq // hkv, float(spec["scale"]), int(spec["gated"]),
            int(spec["delta"]), int(spec["past"]), int(spec["decay_per_key"]),
            int(spec["beta_per_head"]))

    def decay(self, g: Any, b: Any, t: Any, h: Any, i: Any) -> Any:
        """e^{g} of token t, head h, key row i (g per key dimension or per head)."""
        return T.exp(T.Cast(F32, g[b, t, h * self.dk + i] if self.g_per_key else g[b, t, h]))

    def beta_at(self, be: Any, b: Any, t: Any, h: Any) -> Any:
        return T.Cast(F32, be[b, t, h] if self.b_per_head else be[b, t, 0])


def reference_func(shapes: Sequence[tuple[Any, ...]], spec: dict[str, Any]) -> PrimFunc:
    qs, ks, vs, ps, gs, bs = shapes
    d = LinearAttentionDims.of(spec)
    (dtype, sdtype, batch, length, hq, hkv, dk, dv, group, scale, gated, delta, has_past,
     g_per_key, b_per_head) = astuple(d)
    decay, beta_at = d.decay, d.beta_at

    @T.prim_func
    def func(q: T.Buffer(qs, dtype), k: T.Buffer(ks, dtype), v: T.Buffer(vs, dtype),
             past: T.Buffer(ps, sdtype), g: T.Buffer(gs, dtype), be: T.Buffer(bs, dtype),
             out: T.Buffer((batch, length, hq * dv), dtype),
             present: T.Buffer((batch, hkv, dk, dv), sdtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        s = T.alloc_buffer((dk, dv), F32)
        w = T.alloc_buffer((dv,), F32)
        for b, h in T.grid(batch, hkv):
            for i, j in T.grid(dk, dv):
                s[i, j] = T.Cast(F32, past[b, h, i, j]) if has_past == 1 else T.float32(0)
            for t in range(length):
                if gated == 1:
                    for i, j in T.grid(dk, dv):
                        s[i, j] = s[i, j] * decay(g, b, t, h, i)
                for j in range(dv):
                    w[j] = T.Cast(F32, v[b, t, h * dv + j])
                if delta == 1:
                    for j in range(dv):
                        acc = T.alloc_buffer((1,), F32, scope="local")
                        acc[0] = T.float32(0)
                        for i in range(dk):
                            acc[0] = acc[0] + s[i, j] * T.Cast(F32, k[b, t, h * dk + i])
                        w[j] = beta_at(be, b, t, h) * (w[j] - acc[0])
                for i, j in T.grid(dk, dv):
                    s[i, j] = s[i, j] + T.Cast(F32, k[b, t, h * dk + i]) * w[j]
                for gq, j in T.grid(group, dv):
                    acc2 = T.alloc_buffer((1,), F32, scope="local")
                    acc2[0] = T.float32(0)
                    for i in range(dk):
                        acc2[0] = acc2[0] + T.Cast(F32, q[b, t, (h * group + gq) * dk + i]) * s[i, j]
                    out[b, t, (h * group + gq) * dv + j] = T.Cast(dtype, acc2[0] * T.float32(scale))
            for i, j in T.grid(dk, dv):
                present[b, h, i, j] = T.Cast(sdtype, s[i, j])

    return func


def _stand_in(ctx: LowerContext, shape: tuple[int, ...], dtype: str, what: str) -> te.Tensor:
    """A never-read stand-in for an absent optional input (one kernel signature for all)."""
    return te.compute(shape, lambda *_: T.Cast(dtype, 0), name=ctx.name(f"no{what}"))


@register("LinearAttention", kind=OpKind.OPAQUE, since=27)
def lower_linear_attention(ctx: LowerContext) -> list[te.Tensor]:
    rule = str(ctx.attr("update_rule", "gated_delta"))
    if rule not in RULES:
        raise ctx.error(f"unknown update_rule {rule!r}; expected one of {RULES}")
    hq, hkv = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if hq is None or hkv is None or int(hq) <= 0 or int(hkv) <= 0 or int(hq) % int(hkv):
        raise ctx.error(f"q_num_heads ({hq}) must be a positive multiple of kv_num_heads ({hkv})")
    hq, hkv = int(hq), int(hkv)
    q, k, v = ctx.input(0), ctx.input(1), ctx.input(2)
    if any(len(ctx.shape(i)) != 3 for i in range(3)):
        raise ctx.error("query, key and value must be rank 3 (B, T, H*D)")
    batch, length, qd = ctx.shape(0)
    if qd % hq or ctx.shape(2)[2] % hkv or ctx.shape(1)[2] != hkv * (qd // hq):
        raise ctx.error(f"head sizes do not divide: q {ctx.shape(0)}, k {ctx.shape(1)}, "
                        f"v {ctx.shape(2)} with {hq}/{hkv} heads")
    dk, dv = qd // hq, ctx.shape(2)[2] // hkv
    gated, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    past, g, be = ctx.optional(3), ctx.optional(4), ctx.optional(5)
    if gated != (g is not None) or delta != (be is not None):
        raise ctx.error(f"update_rule {rule!r} {'needs' if gated else 'forbids'} decay and "
                        f"{'needs' if delta else 'forbids'} beta")
    if past is not None and ctx.shape(3) != (batch, hkv, dk, dv):
        raise ctx.error(f"past_state shape {ctx.shape(3)} != {(batch, hkv, dk, dv)}")
    if g is not None and ctx.shape(4) not in ((batch, length, hkv), (batch, length, hkv * dk)):
        raise ctx.error(f"decay shape {ctx.shape(4)} must be (B, T, H_kv) or (B, T, H_kv*d_k)")
    if be is not None and ctx.shape(5) not in ((batch, length, hkv), (batch, length, 1)):
        raise ctx.error(f"beta shape {ctx.shape(5)} must be (B, T, H_kv) or (B, T, 1)")
    dtype = ctx.dtype(0)
    scale = float(ctx.attr("scale", 0.0) or 0.0) or 1.0 / math.sqrt(dk)
    spec = {"op": "LinearAttention", "rule": rule, "B": batch, "T": length, "Hq": hq,
            "Hkv": hkv, "dk": dk, "dv": dv, "scale": scale, "dtype": dtype,
            "state_dtype": ctx.dtype(3) if past is not None else dtype,
            "gated": gated, "delta": delta, "past": past is not None,
            "decay_per_key": g is not None and ctx.shape(4)[2] == hkv * dk and dk != 1,
            "beta_per_head": be is not None and ctx.shape(5)[2] == hkv}
    inputs = [q, k, v,
              past if past is not None else _stand_in(ctx, (1, 1, 1, 1), dtype, "past"),
              g if g is not None else _stand_in(ctx, (1, 1, 1), dtype, "decay"),
              be if be is not None else _stand_in(ctx, (1, 1, 1), dtype, "beta")]
    return tir_extern(ctx, inputs, lambda s: reference_func(s, spec), spec, 2)
