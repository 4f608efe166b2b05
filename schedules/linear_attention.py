"""CPU template for LinearAttention (float32): the token-by-token column sweep (every rule).

On CPUs the recurrent form beats the chunk-parallel and WY forms (those pay on tensor cores;
shared/notes/proto-scan.md §3), so prefill and T=1 decode share this kernel. Per (batch, kv head)
the d_k x d_v state lives in a kernel-owned buffer (L1; sweeping a kernel-owned copy avoids the
4 KiB aliasing with the caller's q/k rows). Per token one sweep over its rows, `cb` column vectors
at a time, does everything:
    s = e_i S[i] + k_i w            (S <- decayed state + rank-1 update; e = 1 for ungated rules)
    o += q_i s                       (readout, one accumulator per query head of the group)
    r' += (k ⊙ e)_{t+1, i} s         (delta rules: the next token's retrieval S^T k, carried)
with w = β (v - r) for the delta rules (r carried from the previous sweep) and w = v otherwise.
Threads split the (batch, kv head) pairs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import internalise_params, read_spec
from onnxjit.compiler.tvm_api import PrimFunc, T
from onnxjit.schedules._vecmath import bcast, splat, tree_sum, vexp
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.linear_attention_tile import tile_kernel

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

F32 = "float32"


class LinearAttentionTemplate(ScheduleTemplate):
    name = "linear_attention"
    streams_inputs = True

    def _spec(self, kernel: Kernel) -> dict[str, Any] | None:
        if kernel.op_types != ("LinearAttention",):
            return None
        spec = read_spec(kernel.func)
        if spec is None or spec.get("op") != "LinearAttention":
            return None
        if spec["dtype"] != F32 or spec["state_dtype"] != F32:
            return None
        if len(kernel.func.params) != 5 + spec["past"] + spec["gated"] + spec["delta"]:
            return None
        return spec

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.simd_cpu and bool(self.space(kernel, target))

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        spec = self._spec(kernel)
        if spec is None:
            return []
        lanes = getattr(target, "vector_lanes", 8)
        dk, dv = int(spec["dk"]), int(spec["dv"])
        hq, hkv = int(spec["Hq"]), int(spec["Hkv"])
        if spec["decay_per_key"] and dk % lanes:
            return []
        points: list[Knobs] = [{"form": "sweep", "cb": cb, "unroll": u, "rows": 0, "tc": 0}
                               for cb in (1, 2, 4) for u in (1, 2)
                               if dv % (cb * lanes) == 0 and dk % u == 0]
        if not spec["delta"]:  # without the delta term, state tiles can stay in registers
            regs = 16 if lanes <= 8 else 32
            points += [{"form": "tile", "cb": cb, "unroll": 1, "rows": r, "tc": tc}
                       for r in (4, 8) for cb in (1, 2) for tc in (16, 32)
                       if dk % r == 0 and dv % (cb * lanes) == 0
                       and r * cb + cb * (hq // hkv) + 2 <= regs]
        return points

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        # cb=4 shares each row's k/q broadcasts over 4 column vectors: the sweep is bound by one
        # state store per 2-3 FMAs, so fewer other instructions per row is what counts. With 16
        # registers (AVX2) cb=4's accumulators, update vector and broadcasts spill: cb=2 there
        # (an AVX2 build of the delta sweep: 6.0 ms at cb=2 vs 7.4 ms at cb=4).
        # The register-tile form (linear, gated) needs no state loads or stores at all.
        space = self.space(kernel, target)
        wide = getattr(target, "vector_lanes", 8) >= 16
        for point in ({"form": "tile", "cb": 2, "unroll": 1, "rows": 4, "tc": 32},
                      {"form": "sweep", "cb": 4 if wide else 2, "unroll": 1, "rows": 0, "tc": 0},
                      {"form": "sweep", "cb": 2, "unroll": 1, "rows": 0, "tc": 0}):
            if point in space:
                return point
        return space[0]

    def apply(self, sch: Any, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("linear_attention template generates its loop nest (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec = self._spec(kernel)
        if spec is None or dict(knobs) not in [dict(k) for k in self.space(kernel, target)]:
            raise KnobError(f"linear_attention: knobs {dict(knobs)} do not fit this kernel")
        lanes = getattr(target, "vector_lanes", 8)
        if knobs["form"] == "tile":
            func = tile_kernel(spec, lanes, int(knobs["rows"]), int(knobs["cb"]), int(knobs["tc"]),
                               target.threads)
        else:
            func = sweep_kernel(spec, lanes, int(knobs["cb"]), int(knobs["unroll"]),
                                target.threads)
        keep = [True, True, True, spec["past"], spec["gated"], spec["delta"], True, True]
        return internalise_params(func, keep).with_attr("global_symbol", kernel.name)


def sweep_kernel(spec: dict[str, Any], w: int, cb: int, unroll: int, threads: int) -> PrimFunc:
    batch, length, hq, hkv = (int(spec[key]) for key in ("B", "T", "Hq", "Hkv"))
    dk, dv = int(spec["dk"]), int(spec["dv"])
    group, scale = hq // hkv, float(spec["scale"])
    gated, delta, has_past = bool(spec["gated"]), bool(spec["delta"]), bool(spec["past"])
    per_key, b_head = bool(spec["decay_per_key"]), bool(spec["beta_per_head"])
    ps = (batch, hkv, dk, dv) if has_past else (1, 1, 1, 1)
    gs = (batch, length, hkv * dk if per_key else hkv) if gated else (1, 1, 1)
    bs = (batch, length, hkv if b_head else 1) if delta else (1, 1, 1)
    span = cb * w                                    # columns per sweep block
    ng = batch * length * hkv if gated and not per_key else 0   # per-head decays to exp
    ng_vec = ng // w
    staged = (group + 3) * dk                        # floats of broadcast rows per token
    rp = (1024 - staged) // dv if staged + dv <= 1024 else dk   # state rows per 4 KiB page
    rp = min(rp, dk)
    npages = (dk + rp - 1) // rp
    page = 1024 if npages > 1 else dk * dv           # floats a page (one page: no gap needed)
    stage = rp * dv if npages > 1 else dk * dv       # where the broadcast rows start
    wsize = npages * page if npages > 1 else dk * dv + staged   # floats of the block
    head_loop = T.parallel if threads > 1 else T.serial
    lane = T.ramp(0, 1, w)

    def decay_vec(g: Any, b: Any, t: Any, h: Any, c: Any, e1: Any) -> Any:
        """exp(g_t) for key rows c*w .. c*w+w-1 (per head: the scalar e1[0], already exp'd)."""
        if per_key:
            return vexp(g[b, t, T.ramp(h * dk + c * w, 1, w)], w)
        return bcast(e1[0], w)

    def e_row(e: Any, e1: Any, i: Any) -> Any:
        return bcast(e[i], w) if per_key else bcast(e1[0], w)

    def beta(be: Any, b: Any, t: Any, h: Any) -> Any:
        return bcast(be[b, t, h] if b_head else be[b, t, 0], w)

    @T.prim_func
    def func(q: T.Buffer((batch, length, hq * dk), F32), k: T.Buffer((batch, length, hkv * dk), F32),
             v: T.Buffer((batch, length, hkv * dv), F32), past: T.Buffer(ps, F32),
             g: T.Buffer(gs, F32), be: T.Buffer(bs, F32),
             out: T.Buffer((batch, length, hq * dv), F32),
             present: T.Buffer((batch, hkv, dk, dv), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        # per-head decays exp'd up front as vectors (a libm exp per token cost ~10% of a sweep)
        eg = T.alloc_buffer((ng,), F32)
        gf = T.decl_buffer((ng,), F32, data=g.data)
        for i in T.serial(ng_vec):
            eg[T.ramp(i * w, 1, w)] = vexp(gf[T.ramp(i * w, 1, w)], w)
        for i in T.serial(ng - ng_vec * w):
            eg[ng_vec * w + i] = T.exp(gf[ng_vec * w + i])
        for bh in head_loop(batch * hkv):
            b = T.meta_var(bh // hkv)
            h = T.meta_var(bh % hkv)
            # One kernel-owned block holds the state (rows in 4 KiB pages of `rp` rows) and the
            # rows the sweep broadcasts from (in the pages' free tail): no broadcast load can
            # 4K-alias an in-flight state store, whatever the caller's buffer addresses.
            ws = T.alloc_buffer((wsize,), F32)
            s3 = T.decl_buffer((npages, rp, dv), F32, data=ws.data, strides=(page, dv, 1))
            ks = T.decl_buffer((dk,), F32, data=ws.data, elem_offset=stage)       # k_t
            kg = T.decl_buffer((dk,), F32, data=ws.data, elem_offset=stage + dk)  # k_{t+1} ⊙ e
            e = T.decl_buffer((dk,), F32, data=ws.data, elem_offset=stage + 2 * dk)  # decay rows
            qs = T.decl_buffer((group * dk,), F32, data=ws.data, elem_offset=stage + 3 * dk)
            e1 = T.alloc_buffer((1,), F32)               # a per-head decay, exp'd once
            r = T.alloc_buffer((dv,), F32)               # carried retrieval S^T (k ⊙ e)
            for i in T.serial(dk):
                for c in T.serial(dv // w):
                    if has_past:
                        s3[i // rp, i % rp, T.ramp(c * w, 1, w)] = past[b, h, i,
                                                                        T.ramp(c * w, 1, w)]
                    else:
                        s3[i // rp, i % rp, T.ramp(c * w, 1, w)] = splat(0.0, w)
            if delta:
                # kg = k_0 ⊙ e_0 and r = S^T kg, as if a sweep had preceded token 0
                for c in T.serial(dk // w):
                    kg[T.ramp(c * w, 1, w)] = k[b, 0, T.ramp(h * dk + c * w, 1, w)]
                if gated:
                    if not per_key:
                        e1[0] = eg[(b * length + 0) * hkv + h]
                    for c in T.serial(dk // w):
                        kg[T.ramp(c * w, 1, w)] = (kg[T.ramp(c * w, 1, w)]
                                                   * decay_vec(g, b, 0, h, c, e1))
                for c in T.serial(dv // w):
                    r[T.ramp(c * w, 1, w)] = splat(0.0, w)
                    for i in T.serial(dk):
                        r[T.ramp(c * w, 1, w)] = (
                            r[T.ramp(c * w, 1, w)]
                            + bcast(kg[i], w) * s3[i // rp, i % rp, T.ramp(c * w, 1, w)])
            for t in T.serial(length):
                if delta:
                    tn = T.meta_var(T.min(t + 1, length - 1))
                    if gated and not per_key:
                        e1[0] = eg[(b * length + tn) * hkv + h]
                    for c in T.serial(dk // w):
                        if gated:
                            kg[T.ramp(c * w, 1, w)] = (k[b, tn, T.ramp(h * dk + c * w, 1, w)]
                                                       * decay_vec(g, b, tn, h, c, e1))
                        else:
                            kg[T.ramp(c * w, 1, w)] = k[b, tn, T.ramp(h * dk + c * w, 1, w)]
                if gated:
                    if per_key:
                        for c in T.serial(dk // w):
                            e[T.ramp(c * w, 1, w)] = decay_vec(g, b, t, h, c, e1)
                    else:
                        e1[0] = eg[(b * length + t) * hkv + h]
                for c in T.serial(dk // w):
                    ks[T.ramp(c * w, 1, w)] = k[b, t, T.ramp(h * dk + c * w, 1, w)]
                for c in T.serial(group * dk // w):
                    qs[T.ramp(c * w, 1, w)] = q[b, t, T.ramp(h * group * dk + c * w, 1, w)]
                for jb in T.serial(dv // span):
                    wv = T.alloc_buffer((cb, w), F32, scope="global")
                    # `unroll` independent accumulator chains (rows mod unroll): a 64-row FMA
                    # chain per token would bound the sweep by latency, not throughput
                    oa = T.alloc_buffer((unroll * group * cb, w), F32, scope="global")
                    rn = T.alloc_buffer((unroll * cb, w), F32, scope="global")
                    for c in T.unroll(cb):
                        col = T.meta_var(jb * span + c * w)
                        if delta:
                            wv[c, lane] = beta(be, b, t, h) * (v[b, t, T.ramp(h * dv + col, 1, w)]
                                                               - r[T.ramp(col, 1, w)])
                            for ii in T.unroll(unroll):
                                rn[ii * cb + c, lane] = splat(0.0, w)
                        else:
                            wv[c, lane] = v[b, t, T.ramp(h * dv + col, 1, w)]
                        for ii in T.unroll(unroll):
                            for gq in T.unroll(group):
                                oa[(ii * group + gq) * cb + c, lane] = splat(0.0, w)
                    for io in T.serial(dk // unroll):
                        for ii in T.unroll(unroll):
                            i = T.meta_var(io * unroll + ii)
                            # this row's broadcasts and new state in registers: loaded and
                            # stored once (LLVM cannot tell the state stores from these rows)
                            bq = T.alloc_buffer((group + 2, w), F32, scope="global")
                            sn = T.alloc_buffer((cb, w), F32, scope="global")
                            bq[group, lane] = bcast(ks[i], w)
                            for gq in T.unroll(group):
                                bq[gq, lane] = bcast(qs[gq * dk + i], w)
                            if delta:
                                bq[group + 1, lane] = bcast(kg[i], w)
                            for c in T.unroll(cb):
                                col = T.meta_var(jb * span + c * w)
                                srow = T.meta_var(s3[i // rp, i % rp, T.ramp(col, 1, w)])
                                if gated:
                                    sn[c, lane] = (e_row(e, e1, i) * srow
                                                   + bq[group, lane] * wv[c, lane])
                                else:
                                    sn[c, lane] = srow + bq[group, lane] * wv[c, lane]
                                s3[i // rp, i % rp, T.ramp(col, 1, w)] = sn[c, lane]
                                for gq in T.unroll(group):
                                    ai = T.meta_var((ii * group + gq) * cb + c)
                                    oa[ai, lane] = oa[ai, lane] + bq[gq, lane] * sn[c, lane]
                                if delta:
                                    rn[ii * cb + c, lane] = (rn[ii * cb + c, lane]
                                                             + bq[group + 1, lane] * sn[c, lane])
                    for c in T.unroll(cb):
                        col = T.meta_var(jb * span + c * w)
                        for gq in T.unroll(group):
                            out[b, t, T.ramp((h * group + gq) * dv + col, 1, w)] = tree_sum(
                                [oa[(u * group + gq) * cb + c, lane] for u in range(unroll)]
                            ) * splat(scale, w)
                        if delta:
                            r[T.ramp(col, 1, w)] = tree_sum([rn[u * cb + c, lane]
                                                             for u in range(unroll)])
            for i in T.serial(dk):
                for c in T.serial(dv // w):
                    present[b, h, i, T.ramp(c * w, 1, w)] = s3[i // rp, i % rp, T.ramp(c * w, 1, w)]

    return func
