"""The register-tile LinearAttention kernel for the linear and gated rules (no delta term).

Without the delta term a state tile evolves independently of the others, so a rows x (cb
vectors) tile stays in registers while a chunk of `tc` tokens streams through it (the prototype's
`tile_kernel`, shared/notes/proto-scan.md §3a). Per token and tile: rows*cb update FMAs (plus a
decay multiply for gated), rows*cb readout FMAs, and one add into the chunk's partial outputs;
no state loads or stores. exp(decay) is computed once per chunk into a table.
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.tvm_api import PrimFunc, T
from onnxjit.schedules._vecmath import bcast, splat, vexp

F32 = "float32"


def tile_kernel(spec: dict[str, Any], w: int, rows: int, cb: int, tc: int,
                threads: int) -> PrimFunc:
    batch, length, hq, hkv = (int(spec[key]) for key in ("B", "T", "Hq", "Hkv"))
    dk, dv = int(spec["dk"]), int(spec["dv"])
    group, scale = hq // hkv, float(spec["scale"])
    gated, has_past, per_key = bool(spec["gated"]), bool(spec["past"]), bool(spec["decay_per_key"])
    ps = (batch, hkv, dk, dv) if has_past else (1, 1, 1, 1)
    gs = (batch, length, hkv * dk if per_key else hkv) if gated else (1, 1, 1)
    span = cb * w
    nchunk = (length + tc - 1) // tc
    head_loop = T.parallel if threads > 1 else T.serial
    lane = T.ramp(0, 1, w)
    ew = dk if per_key else 1          # decay table width per token
    ng = batch * length * hkv if gated and not per_key else 0   # per-head decays to exp

    def decay(eg: Any, tt: Any, row: Any) -> Any:
        return bcast(eg[tt, row] if per_key else eg[tt, 0], w)

    @T.prim_func
    def func(q: T.Buffer((batch, length, hq * dk), F32), k: T.Buffer((batch, length, hkv * dk), F32),
             v: T.Buffer((batch, length, hkv * dv), F32), past: T.Buffer(ps, F32),
             g: T.Buffer(gs, F32), be: T.Buffer((1, 1, 1), F32),
             out: T.Buffer((batch, length, hq * dv), F32),
             present: T.Buffer((batch, hkv, dk, dv), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        # per-head decays exp'd up front as vectors (not one libm exp per token)
        egall = T.alloc_buffer((ng,), F32)
        gf = T.decl_buffer((ng,), F32, data=g.data)
        for i in T.serial(ng // w):
            egall[T.ramp(i * w, 1, w)] = vexp(gf[T.ramp(i * w, 1, w)], w)
        for i in T.serial(ng % w):
            egall[ng // w * w + i] = T.exp(gf[ng // w * w + i])
        for bh in head_loop(batch * hkv):
            b = T.meta_var(bh // hkv)
            h = T.meta_var(bh % hkv)
            s = T.alloc_buffer((dk, dv), F32)                 # kernel-owned state
            eg = T.alloc_buffer((tc, ew), F32)                # exp(decay) of the chunk
            opart = T.alloc_buffer((group, tc, span), F32)    # partial outputs of a column block
            # The chunk's q/k/v rows, staged contiguously: in the inputs a head's rows are
            # (H*d*4)-byte strided, which maps every token into the same few L1 sets, and the
            # tiles re-read the chunk dk/rows * dv/span times.
            qs = T.alloc_buffer((group, tc, dk), F32)
            ks = T.alloc_buffer((tc, dk), F32)
            vs = T.alloc_buffer((tc, dv), F32)
            for i in T.serial(dk):
                for c in T.serial(dv // w):
                    if has_past:
                        s[i, T.ramp(c * w, 1, w)] = past[b, h, i, T.ramp(c * w, 1, w)]
                    else:
                        s[i, T.ramp(c * w, 1, w)] = splat(0.0, w)
            for ch in T.serial(nchunk):
                n_tok = T.meta_var(T.min(tc, length - ch * tc))
                if gated:
                    for tt in T.serial(n_tok):
                        if per_key:
                            for c in T.serial(dk // w):
                                eg[tt, T.ramp(c * w, 1, w)] = vexp(
                                    g[b, ch * tc + tt, T.ramp(h * dk + c * w, 1, w)], w)
                        else:
                            eg[tt, 0] = egall[(b * length + ch * tc + tt) * hkv + h]
                for tt in T.serial(n_tok):
                    for c in T.serial(dk // w):
                        ks[tt, T.ramp(c * w, 1, w)] = k[b, ch * tc + tt, T.ramp(h * dk + c * w, 1, w)]
                        for gq in T.serial(group):
                            qs[gq, tt, T.ramp(c * w, 1, w)] = q[
                                b, ch * tc + tt, T.ramp((h * group + gq) * dk + c * w, 1, w)]
                    for c in T.serial(dv // w):
                        vs[tt, T.ramp(c * w, 1, w)] = v[b, ch * tc + tt, T.ramp(h * dv + c * w, 1, w)]
                for jb in T.serial(dv // span):
                    for gq, tt in T.grid(group, n_tok):
                        for c in T.unroll(cb):
                            opart[gq, tt, T.ramp(c * w, 1, w)] = splat(0.0, w)
                    for ib in T.serial(dk // rows):
                        tile = T.alloc_buffer((rows, span), F32, scope="global")   # registers
                        acc = T.alloc_buffer((group, span), F32, scope="global")
                        for r in T.unroll(rows):
                            for c in T.unroll(cb):
                                tile[r, T.ramp(c * w, 1, w)] = s[ib * rows + r,
                                                                 T.ramp(jb * span + c * w, 1, w)]
                        for tt in T.serial(n_tok):
                            for r in T.unroll(rows):
                                for c in T.unroll(cb):
                                    col = T.meta_var(T.ramp(c * w, 1, w))
                                    vcol = T.meta_var(T.ramp(jb * span + c * w, 1, w))
                                    if gated:
                                        tile[r, col] = (decay(eg, tt, ib * rows + r) * tile[r, col]
                                                        + bcast(ks[tt, ib * rows + r], w)
                                                        * vs[tt, vcol])
                                    else:
                                        tile[r, col] = (tile[r, col]
                                                        + bcast(ks[tt, ib * rows + r], w)
                                                        * vs[tt, vcol])
                            for gq in T.unroll(group):
                                for c in T.unroll(cb):
                                    acc[gq, T.ramp(c * w, 1, w)] = opart[gq, tt, T.ramp(c * w, 1, w)]
                                for r in T.unroll(rows):
                                    for c in T.unroll(cb):
                                        acc[gq, T.ramp(c * w, 1, w)] = (
                                            acc[gq, T.ramp(c * w, 1, w)]
                                            + bcast(qs[gq, tt, ib * rows + r], w)
                                            * tile[r, T.ramp(c * w, 1, w)])
                                for c in T.unroll(cb):
                                    opart[gq, tt, T.ramp(c * w, 1, w)] = acc[gq, T.ramp(c * w, 1, w)]
                        for r in T.unroll(rows):
                            for c in T.unroll(cb):
                                s[ib * rows + r, T.ramp(jb * span + c * w, 1, w)] = tile[
                                    r, T.ramp(c * w, 1, w)]
                    for gq, tt in T.grid(group, n_tok):
                        for c in T.unroll(cb):
                            out[b, ch * tc + tt, T.ramp((h * group + gq) * dv + jb * span + c * w,
                                                        1, w)] = (opart[gq, tt, T.ramp(c * w, 1, w)]
                                                                  * splat(scale, w))
            for i in T.serial(dk):
                for c in T.serial(dv // w):
                    present[b, h, i, T.ramp(c * w, 1, w)] = s[i, T.ramp(c * w, 1, w)]

    del lane
    return func
