"""The GPU flash attention kernel (float32), generated as TVMScript text from a spec and knobs.

Rows: the query rows sharing one K/V head (GQA: its `group` query heads, each with sq rows) are one
sequence of group * sq rows, tiled by `bq`, so a decode step's query heads share every K/V tile a
block stages. Block (batch, kv head, row tile, KV split) of bq * tv threads: the Q tile is staged in
shared memory once; per key tile of `bkv` keys, K and V tiles are staged in shared memory, the
bq x bkv scores (scale, softcap, mask, causal) are computed cooperatively into shared memory, then
each row's tv threads run the online softmax (running max and sum, in registers) and update their
dv / tv output columns. Causal kernels stop at the tile's last visible key tile.

KV split (`ns` > 1, flash-decoding): the key tiles are divided among ns blocks per row tile, each
writing its rows' unnormalised output, max and sum to a workspace; a second kernel (one block per
query row, threads over dv) merges the ns partials. Few rows (decode) then still fill the GPU.
A fully masked row gives zeros. Masked scores are -3e38, not -inf: WGSL lets compilers assume
finite floats.
"""
from __future__ import annotations

from onnxjit.compiler.ops.attention_core import AttentionSpec

NEG = "T.float32(-3.0e38)"


def cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


def _at(layout: str, hd: int, b: str, h: str, s: str, d: str) -> str:
    if layout == "bhsd":
        return f"{b}, {h}, {s}, {d}"
    return f"{b}, {s}, ({h}) * {hd} + {d}"


def shared_bytes(spec: AttentionSpec, bq: int, bkv: int) -> int:
    return 4 * (bq * spec.d + bkv * spec.d + bkv * spec.dv + bq * bkv)


def _bias(spec: AttentionSpec, roles: dict[str, str], skv_last: int) -> str:
    """Statements adjusting sc[0] for the score at (b, h, qi, kj) (meta vars in scope)."""
    s, lines = spec, []
    if s.softcap > 0:
        lines.append(f"sc[0] = T.float32({s.softcap!r}) * T.tanh(sc[0] / T.float32({s.softcap!r}))")
    if s.mask != "none":
        canon = ("b", "h", "qi", f"T.min(kj, {skv_last})")  # the padded tail reads a real key
        idx = ", ".join("0" if dim == 1 else canon[ax] for dim, ax in zip(s.mask_shape,
                                                                         s.mask_axes))
        mval = f"{roles['mask']}[{idx}]"
        if s.mask == "bool":
            lines.append(f"sc[0] = T.Select({mval} != T.bool(False), sc[0], {NEG})")
        else:
            lines.append(f"sc[0] = sc[0] + T.Cast('float32', {mval})")
    if s.causal:
        lines.append(f"sc[0] = T.Select(kj > qi + {s.causal_offset}, {NEG}, sc[0])")
    return "".join(" " * 24 + line + "\n" for line in lines)


def generate(spec: AttentionSpec, bq: int, bkv: int, tv: int, ns: int,
             params: list[tuple[str, tuple[int, ...], str]], roles: dict[str, str]) -> str:
    s = spec
    g, rows = s.group, s.group * s.sq          # rows per K/V head
    nt, ov = bq * tv, cdiv(s.dv, tv)
    nqt, nkt = cdiv(rows, bq), cdiv(s.skv, bkv)
    # Scores: thread tx owns ne of the tile's bq * bkv (clamped: spare ones recompute the last);
    # its ne dot products share each d step, so one K value serves them all.
    ne = cdiv(bq * bkv, nt)
    f = f"T.min(e * {nt} + tx, {bq * bkv - 1})"
    if ne <= 2:  # the dot products share each K value; more of them: one at a time (registers)
        scores = f'''
                for e in T.unroll({ne}):
                    acc[e] = T.float32(0)
                for d in range({s.d}):
                    for e in T.unroll({ne}):
                        acc[e] = acc[e] + Qs[{f} // {bkv}, d] * Ks[{f} % {bkv}, d]
                for e in T.unroll({ne}):'''
    else:
        scores = f'''
                for e in range({ne}):
                    acc[e] = T.float32(0)
                    for d in range({s.d}):
                        acc[e] = acc[e] + Qs[{f} // {bkv}, d] * Ks[{f} % {bkv}, d]'''
    tps = cdiv(nkt, ns)                         # key tiles per split
    blocks = s.batch * s.kv_heads * nqt * ns
    q, k, v, out = roles["q"], roles["k"], roles["v"], roles["out"]
    sig = ", ".join(f"{n}: T.Buffer({shape}, '{dt}')" for n, shape, dt in params)
    # Causal: the last key tile any row of this tile sees (a tile spanning two heads: every key).
    hi = f"T.min(qt * {bq} + {bq - 1}, {rows - 1})"
    qi_max = f"T.Select(qt * {bq} // {s.sq} == {hi} // {s.sq}, {hi} % {s.sq}, {s.sq - 1})"
    kt_end = (f"T.min({nkt}, ({qi_max} + {s.causal_offset}) // {bkv} + 1)" if s.causal
              else str(nkt))
    kt_lo, kt_hi = (f"sp * {tps}", f"T.max(sp * {tps}, T.min(sp * {tps} + {tps}, {kt_end}))") \
        if ns > 1 else ("0", kt_end)
    npart = s.batch * s.kv_heads * rows * ns

    def row_head(row: str) -> str:     # query head of a row (clamped into range) of K/V head hk
        return f"hk * {g} + T.min({row}, {rows - 1}) // {s.sq}"

    def row_qi(row: str) -> str:
        return f"T.min({row}, {rows - 1}) % {s.sq}"

    def stage(dst: str, src: str, layout: str, width: int, count: int) -> str:
        key = f"kt * {bkv} + (e * {nt} + tx) // {width}"
        col = f"(e * {nt} + tx) % {width}"
        return f'''
                for e in range({cdiv(count * width, nt)}):
                    if e * {nt} + tx < {count * width}:
                        {dst}[(e * {nt} + tx) // {width}, {col}] = T.if_then_else(
                            {key} < {s.skv},
                            {src}[{_at(layout, width, "b", "hk", f"T.min({key}, {s.skv - 1})",
                                       col)}], T.float32(0))'''

    q_row = f"qt * {bq} + (e * {nt} + tx) // {s.d}"
    stage_k = stage("Ks", k, s.k_layout, s.d, bkv)
    stage_v = stage("Vs", v, s.v_layout, s.dv, bkv)
    if ns == 1:
        store = f'''
            if qt * {bq} + r < {rows}:
                for u in T.unroll({ov}):
                    if c0 + u * {tv} < {s.dv}:
                        {out}[{_at(s.o_layout, s.dv, "b", row_head(f"qt * {bq} + r"),
                                   row_qi(f"qt * {bq} + r"), f"c0 + u * {tv}")}] = T.Select(
                            st[1] > T.float32(0), o[u] / st[1], T.float32(0))'''
        workspace, merge = "", ""
    else:
        part = f"((b * {s.kv_heads} + hk) * {rows} + qt * {bq} + r) * {ns} + sp"
        store = f'''
            if qt * {bq} + r < {rows}:
                if c0 == 0:
                    Pm[{part}] = st[0]
                    Pl[{part}] = st[1]
                for u in T.unroll({ov}):
                    if c0 + u * {tv} < {s.dv}:
                        Po[({part}) * {s.dv} + c0 + u * {tv}] = o[u]'''
        workspace = f'''
    Pm = T.alloc_buffer(({npart},), "float32")
    Pl = T.alloc_buffer(({npart},), "float32")
    Po = T.alloc_buffer(({npart * s.dv},), "float32")'''
        merge = _merge(s, ns, rows, out)
    return f'''
@T.prim_func
def main({sig}):
    T.func_attr({{"tirx.noalias": True}}){workspace}
    for bx in T.thread_binding({blocks}, thread="blockIdx.x"):
        for tx in T.thread_binding({nt}, thread="threadIdx.x"):
            Qs = T.alloc_buffer(({bq}, {s.d}), "float32", scope="shared")
            Ks = T.alloc_buffer(({bkv}, {s.d}), "float32", scope="shared")
            Vs = T.alloc_buffer(({bkv}, {s.dv}), "float32", scope="shared")
            S = T.alloc_buffer(({bq}, {bkv}), "float32", scope="shared")
            o = T.alloc_buffer(({ov},), "float32", scope="local")
            st = T.alloc_buffer((5,), "float32", scope="local")
            acc = T.alloc_buffer(({ne},), "float32", scope="local")
            sc = T.alloc_buffer((1,), "float32", scope="local")
            sp = T.meta_var(bx % {ns})
            qt = T.meta_var(bx // {ns} % {nqt})
            hk = T.meta_var(bx // {ns * nqt} % {s.kv_heads})
            b = T.meta_var(bx // {ns * nqt * s.kv_heads})
            r = T.meta_var(tx // {tv})
            c0 = T.meta_var(tx % {tv})
            for e in range({cdiv(bq * s.d, nt)}):
                if e * {nt} + tx < {bq * s.d}:
                    Qs[(e * {nt} + tx) // {s.d}, (e * {nt} + tx) % {s.d}] = T.if_then_else(
                        qt * {bq} + (e * {nt} + tx) // {s.d} < {rows},
                        {q}[{_at(s.q_layout, s.d, "b", row_head(q_row), row_qi(q_row),
                                 f"(e * {nt} + tx) % {s.d}")}], T.float32(0))
            for u in T.unroll({ov}):
                o[u] = T.float32(0)
            st[0] = {NEG}
            st[1] = T.float32(0)
            for kt in range({kt_lo}, {kt_hi}):
                T.tvm_storage_sync("shared"){stage_k}{stage_v}
                T.tvm_storage_sync("shared")
{scores}
                    if e * {nt} + tx < {bq * bkv}:
                        h = T.meta_var({row_head(f"qt * {bq} + (e * {nt} + tx) // {bkv}")})
                        qi = T.meta_var({row_qi(f"qt * {bq} + (e * {nt} + tx) // {bkv}")})
                        kj = T.meta_var(kt * {bkv} + (e * {nt} + tx) % {bkv})
                        sc[0] = acc[e] * T.float32({s.scale!r})
{_bias(s, roles, s.skv - 1)}
                        S[(e * {nt} + tx) // {bkv}, (e * {nt} + tx) % {bkv}] = T.Select(
                            kj < {s.skv}, T.max(sc[0], {NEG}), {NEG})
                T.tvm_storage_sync("shared")
                st[2] = {NEG}
                for j in range({bkv}):
                    st[2] = T.max(st[2], S[r, j])
                st[3] = T.max(st[0], st[2])
                if st[3] > T.float32(-1.0e38):
                    st[4] = T.exp(st[0] - st[3])
                    st[1] = st[1] * st[4]
                    for u in T.unroll({ov}):
                        o[u] = o[u] * st[4]
                    for j in range({bkv}):
                        st[4] = T.Select(S[r, j] > T.float32(-1.0e38), T.exp(S[r, j] - st[3]),
                                         T.float32(0))
                        st[1] = st[1] + st[4]
                        for u in T.unroll({ov}):
                            if c0 + u * {tv} < {s.dv}:
                                o[u] = o[u] + st[4] * Vs[j, T.min(c0 + u * {tv}, {s.dv - 1})]
                    st[0] = st[3]{store}{merge}
'''


def merge_threads(dv: int) -> int:
    t = 32
    while t < dv and t < 256:
        t *= 2
    return t


def _merge(s: AttentionSpec, ns: int, rows: int, out: str) -> str:
    """The second kernel: one block per query row combines its ns partial results."""
    tm = merge_threads(s.dv)
    nrow = s.batch * s.kv_heads * rows
    part = f"rw * {ns} + p"
    return f'''
    for rw in T.thread_binding({nrow}, thread="blockIdx.x"):
        for tx in T.thread_binding({tm}, thread="threadIdx.x"):
            mt = T.alloc_buffer((3,), "float32", scope="local")
            b = T.meta_var(rw // {s.kv_heads * rows})
            hk = T.meta_var(rw // {rows} % {s.kv_heads})
            h = T.meta_var(hk * {s.group} + rw % {rows} // {s.sq})
            qi = T.meta_var(rw % {s.sq})
            mt[0] = {NEG}
            for p in range({ns}):
                mt[0] = T.max(mt[0], Pm[{part}])
            mt[1] = T.float32(0)
            for p in range({ns}):
                mt[1] = mt[1] + Pl[{part}] * T.exp(Pm[{part}] - mt[0])
            for u in range({cdiv(s.dv, tm)}):
                if u * {tm} + tx < {s.dv}:
                    mt[2] = T.float32(0)
                    for p in range({ns}):
                        mt[2] = mt[2] + Po[({part}) * {s.dv} + u * {tm} + tx] * T.exp(
                            Pm[{part}] - mt[0])
                    {out}[{_at(s.o_layout, s.dv, "b", "h", "qi", f"u * {tm} + tx")}] = T.Select(
                        mt[1] > T.float32(0), mt[2] / mt[1], T.float32(0))'''
