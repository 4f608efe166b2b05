"""GPU loop nests for the recurrences (CumSum, LinearScan, SelectiveScan, LinearAttention,
CausalConvWithState): time stays serial, everything independent of it runs in parallel.

Each generator returns a PrimFunc with the op's full reference signature (inputs, then outputs;
the templates drop absent optional inputs with `internalise_params`). `nt` is the threads per
block. The shapes (1-D thread grid over independent lines, state in registers):
  * CumSum: one thread per (outer, inner) line, adjacent threads on adjacent columns (coalesced);
    with `chunks` > 1 the scanned axis is split: chunk sums, a scan of the sums, then each chunk
    rescanned from its offset (3 launches), for few long lines.
  * LinearScan / SelectiveScan: one thread per channel d, its N states in registers.
  * LinearAttention: one thread per (batch, kv head, value column j): column j of the state
    S (d_k values) in registers; every update and readout of column j reads only column j.
  * CausalConvWithState: one thread per output element, then one per state element.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from typing import Any

from onnxjit.compiler.ops._tir import prod
from onnxjit.compiler.ops.linear_attention import LinearAttentionDims
from onnxjit.compiler.tvm_api import PrimFunc, T

F32 = "float32"


def _blocks(total: int, nt: int) -> int:
    return max(1, (total + nt - 1) // nt)


def cumsum_kernel(spec: dict[str, Any], shapes: Sequence[Any], dtypes: Sequence[str], nt: int,
                  chunks: int) -> PrimFunc:
    dims = [int(d) for d in spec["shape"]]
    axis, dtype = int(spec["axis"]), str(spec["dtype"])
    outer, n, inner = prod(dims[:axis]), dims[axis], prod(dims[axis + 1:])
    total, lines = prod(dims), outer * inner
    excl, rev = int(spec["exclusive"]), int(spec["reverse"])
    xshape, ashape, adtype = shapes[0], shapes[1], dtypes[1]
    zero = T.Cast(dtype, 0)
    if chunks <= 1 or n < 2 * chunks:
        chunks = 1
    clen = (n + chunks - 1) // chunks
    chunks = (n + clen - 1) // clen
    work = lines * chunks

    def at(o: Any, j: Any, i: Any) -> Any:
        jj = j if rev == 0 else n - 1 - j
        return (o * n + jj) * inner + i

    @T.prim_func
    def plain(x: T.Buffer(xshape, dtype), axis_in: T.Buffer(ashape, adtype),
              y: T.Buffer(xshape, dtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        xf = T.decl_buffer((total,), dtype, data=x.data)
        yf = T.decl_buffer((total,), dtype, data=y.data)
        for bx in T.thread_binding(_blocks(lines, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                acc = T.alloc_buffer((1,), dtype, scope="local")
                if bx * nt + tx < lines:
                    acc[0] = zero
                    for j in range(n):
                        idx = T.meta_var(at((bx * nt + tx) // inner, j, (bx * nt + tx) % inner))
                        if excl == 1:
                            yf[idx] = acc[0]
                            acc[0] = acc[0] + xf[idx]
                        else:
                            acc[0] = acc[0] + xf[idx]
                            yf[idx] = acc[0]

    if chunks == 1:
        return plain

    @T.prim_func
    def chunked(x: T.Buffer(xshape, dtype), axis_in: T.Buffer(ashape, adtype),
                y: T.Buffer(xshape, dtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        xf = T.decl_buffer((total,), dtype, data=x.data)
        yf = T.decl_buffer((total,), dtype, data=y.data)
        sums = T.alloc_buffer((work,), dtype)   # [chunk, line]: adjacent threads, adjacent lines
        for bx in T.thread_binding(_blocks(work, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                acc = T.alloc_buffer((1,), dtype, scope="local")
                if bx * nt + tx < work:
                    acc[0] = zero
                    line = T.meta_var((bx * nt + tx) % lines)
                    ch = T.meta_var((bx * nt + tx) // lines)
                    for j in range(clen):
                        if ch * clen + j < n:
                            acc[0] = acc[0] + xf[at(line // inner, ch * clen + j, line % inner)]
                    sums[bx * nt + tx] = acc[0]
        for bx in T.thread_binding(_blocks(lines, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                run = T.alloc_buffer((2,), dtype, scope="local")
                if bx * nt + tx < lines:
                    run[0] = zero
                    for c in range(chunks):  # exclusive scan of the chunk sums, in place
                        run[1] = sums[c * lines + bx * nt + tx]
                        sums[c * lines + bx * nt + tx] = run[0]
                        run[0] = run[0] + run[1]
        for bx in T.thread_binding(_blocks(work, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                acc = T.alloc_buffer((1,), dtype, scope="local")
                if bx * nt + tx < work:
                    acc[0] = sums[bx * nt + tx]
                    line = T.meta_var((bx * nt + tx) % lines)
                    ch = T.meta_var((bx * nt + tx) // lines)
                    for j in range(clen):
                        if ch * clen + j < n:
                            idx = T.meta_var(at(line // inner, ch * clen + j, line % inner))
                            if excl == 1:
                                yf[idx] = acc[0]
                                acc[0] = acc[0] + xf[idx]
                            else:
                                acc[0] = acc[0] + xf[idx]
                                yf[idx] = acc[0]

    return chunked


def _act(kind: str, v: Any) -> Any:
    if kind == "sigmoid":
        return T.float32(1) / (T.float32(1) + T.exp(-v))
    if kind == "exp":
        return T.exp(v)
    return v


def linear_scan_kernel(spec: dict[str, Any], shapes: Sequence[Any], nt: int) -> PrimFunc:
    length, d, n, act = int(spec["L"]), int(spec["D"]), int(spec["N"]), str(spec["act"])
    hs, as_, bs, xs, cs = shapes[:5]

    @T.prim_func
    def func(h0: T.Buffer(hs, F32), a: T.Buffer(as_, F32), b: T.Buffer(bs, F32),
             x: T.Buffer(xs, F32), c: T.Buffer(cs, F32), h: T.Buffer((d, n), F32),
             y: T.Buffer((length, d), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        for bx in T.thread_binding(_blocks(d, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                hl = T.alloc_buffer((n,), F32, scope="local")
                acc = T.alloc_buffer((1,), F32, scope="local")
                i = T.meta_var(bx * nt + tx)
                if i < d:
                    for j in T.unroll(n):
                        hl[j] = h0[i, j]
                    for t in range(length):
                        acc[0] = T.float32(0)
                        for j in T.unroll(n):
                            hl[j] = _act(act, a[t, i, j]) * hl[j] + b[t, i, j] * x[t, i]
                            acc[0] = acc[0] + hl[j] * c[t, j]
                        y[t, i] = acc[0]
                    for j in T.unroll(n):
                        h[i, j] = hl[j]

    return func


def selective_scan_kernel(spec: dict[str, Any], shapes: Sequence[Any], nt: int) -> PrimFunc:
    length, d, n, skip = int(spec["L"]), int(spec["D"]), int(spec["N"]), int(spec["skip"])
    hs, dts, xs, bs, cs, a_s, ds = shapes[:7]

    @T.prim_func
    def func(h0: T.Buffer(hs, F32), dt: T.Buffer(dts, F32), x: T.Buffer(xs, F32),
             bm: T.Buffer(bs, F32), cm: T.Buffer(cs, F32), am: T.Buffer(a_s, F32),
             dskip: T.Buffer(ds, F32), h: T.Buffer((d, n), F32),
             y: T.Buffer((length, d), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        for bx in T.thread_binding(_blocks(d, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                hl = T.alloc_buffer((n,), F32, scope="local")
                al = T.alloc_buffer((n,), F32, scope="local")
                acc = T.alloc_buffer((1,), F32, scope="local")
                i = T.meta_var(bx * nt + tx)
                if i < d:
                    for j in T.unroll(n):
                        hl[j] = h0[i, j]
                        al[j] = am[i, j]
                    for t in range(length):
                        acc[0] = T.float32(0)
                        for j in T.unroll(n):
                            hl[j] = T.exp(dt[t, i] * al[j]) * hl[j] + dt[t, i] * x[t, i] * bm[t, j]
                            acc[0] = acc[0] + hl[j] * cm[t, j]
                        if skip == 1:
                            acc[0] = acc[0] + dskip[i] * x[t, i]
                        y[t, i] = acc[0]
                    for j in T.unroll(n):
                        h[i, j] = hl[j]

    return func


def linear_attention_kernel(spec: dict[str, Any], shapes: Sequence[Any], nt: int) -> PrimFunc:
    qs, ks, vs, ps, gs, bs = shapes[:6]
    d = LinearAttentionDims.of(spec)
    (dtype, sdtype, batch, length, hq, hkv, dk, dv, group, scale, gated, delta, has_past,
     g_per_key, b_per_head) = astuple(d)
    decay, beta_at = d.decay, d.beta_at
    cols = batch * hkv * dv

    @T.prim_func
    def func(q: T.Buffer(qs, dtype), k: T.Buffer(ks, dtype), v: T.Buffer(vs, dtype),
             past: T.Buffer(ps, sdtype), g: T.Buffer(gs, dtype), be: T.Buffer(bs, dtype),
             out: T.Buffer((batch, length, hq * dv), dtype),
             present: T.Buffer((batch, hkv, dk, dv), sdtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        for bx in T.thread_binding(_blocks(cols, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                s = T.alloc_buffer((dk,), F32, scope="local")
                w = T.alloc_buffer((2,), F32, scope="local")
                col = T.meta_var(bx * nt + tx)
                b = T.meta_var(col // (hkv * dv))
                h = T.meta_var(col // dv % hkv)
                j = T.meta_var(col % dv)
                if col < cols:
                    for i in T.unroll(dk):
                        s[i] = T.Cast(F32, past[b, h, i, j]) if has_past == 1 else T.float32(0)
                    for t in range(length):
                        if gated == 1:
                            for i in T.unroll(dk):
                                s[i] = s[i] * decay(g, b, t, h, i)
                        w[0] = T.Cast(F32, v[b, t, h * dv + j])
                        if delta == 1:
                            w[1] = T.float32(0)
                            for i in T.unroll(dk):
                                w[1] = w[1] + s[i] * T.Cast(F32, k[b, t, h * dk + i])
                            w[0] = beta_at(be, b, t, h) * (w[0] - w[1])
                        for i in T.unroll(dk):
                            s[i] = s[i] + T.Cast(F32, k[b, t, h * dk + i]) * w[0]
                        for gq in range(group):
                            w[1] = T.float32(0)
                            for i in T.unroll(dk):
                                w[1] = w[1] + T.Cast(F32, q[b, t, (h * group + gq) * dk + i]) * s[i]
                            out[b, t, (h * group + gq) * dv + j] = T.Cast(
                                dtype, w[1] * T.float32(scale))
                    for i in T.unroll(dk):
                        present[b, h, i, j] = T.Cast(sdtype, s[i])

    return func


def causal_conv_kernel(spec: dict[str, Any], shapes: Sequence[Any], nt: int) -> PrimFunc:
    xs, ws, bs, ps = shapes[:4]
    dtype = str(spec["dtype"])
    batch, chans, length, k = (int(spec[key]) for key in ("B", "C", "L", "k"))
    km1, bias_on, past_on, silu_on = k - 1, int(spec["bias"]), int(spec["past"]), int(spec["silu"])
    outs, states = batch * chans * length, batch * chans * km1
    last = bool(spec.get("channels_last"))  # (B, L, C) in and out (onnxjit::...NTC)
    ys = (batch, length, chans) if last else (batch, chans, length)

    def at(b: Any, c: Any, t: Any) -> tuple[Any, Any, Any]:
        return (b, t, c) if last else (b, c, t)

    def padded(past: Any, x: Any, b: Any, c: Any, p: Any) -> Any:
        from_x = T.Cast(F32, x[at(b, c, T.max(p - km1, 0))])
        from_past = T.Cast(F32, past[b, c, T.min(p, km1 - 1)]) if past_on else T.float32(0)
        return T.if_then_else(p < km1, from_past, from_x)

    @T.prim_func
    def func(x: T.Buffer(xs, dtype), w: T.Buffer(ws, dtype), bias: T.Buffer(bs, dtype),
             past: T.Buffer(ps, dtype), y: T.Buffer(ys, dtype),
             state: T.Buffer((batch, chans, km1), dtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        for bx in T.thread_binding(_blocks(outs, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                acc = T.alloc_buffer((1,), F32, scope="local")
                e = T.meta_var(bx * nt + tx)
                b = T.meta_var(e // (chans * length))
                # neighbouring threads take neighbouring elements of the output's layout
                c = T.meta_var(e % chans if last else e // length % chans)
                t = T.meta_var(e // chans % length if last else e % length)
                if e < outs:
                    acc[0] = T.Cast(F32, bias[c]) if bias_on == 1 else T.float32(0)
                    for j in T.unroll(k):
                        acc[0] = acc[0] + T.Cast(F32, w[c, 0, j]) * padded(past, x, b, c, t + j)
                    if silu_on == 1:
                        y[at(b, c, t)] = T.Cast(dtype, acc[0] / (T.float32(1) + T.exp(-acc[0])))
                    else:
                        y[at(b, c, t)] = T.Cast(dtype, acc[0])
        for bx in T.thread_binding(_blocks(states, nt), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                e = T.meta_var(bx * nt + tx)
                if e < states:
                    state[e // (chans * km1), e // km1 % chans, e % km1] = T.Cast(
                        dtype, padded(past, x, e // (chans * km1), e // km1 % chans,
                                      length + e % km1))

    return func
