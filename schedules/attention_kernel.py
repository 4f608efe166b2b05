"""The flash attention kernel for CPUs, generated as TVMScript text from a spec and a knob point.

Design (shared/notes/proto-attention.md): one task per (batch, KV head, block of query rows[, KV
split]). A KV head's G query heads are stacked into the rows (row r = position * G + head), so GQA
reads each K/V tile once for all of them. Per task, Qt = (Q rows * scale * log2 e)ᵀ is packed once;
per KV tile, St = K_tile · Qt holds the transposed scores, so the online softmax runs down columns
with queries in the vector lanes (no horizontal reductions) and neither K nor V is repacked. exp is a
base-2 polynomial. Causal: the KV loop stops at the diagonal and only tiles that cross it are masked.
Nothing scales with S²: scratch is Qt, St, Ot (the unnormalised output rows) and a few row vectors.

Register tiles are one buffer per tile row of W < 1 KiB fp32 lanes: TVM 0.27 keeps only such
(global-scope, < 1 KiB) allocations on the stack, where LLVM promotes them to vector registers.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from onnxjit.compiler.ops.attention_core import AttentionSpec
from onnxjit.schedules.attention_output import MASKV, OutputStage, index_expr
from onnxjit.schedules.tvmscript_text import LOG2E, Writer


@dataclass(frozen=True)
class FlashConfig:
    block_q: int        # query rows per task (a multiple of `lanes`)
    block_kv: int       # keys per tile
    rows: int           # register tile rows (keys in QKᵀ, query rows in PV)
    width: int          # register tile width in fp32 lanes (a multiple of `lanes`)
    split_kv: int       # KV ranges per row block, merged at the end (decode parallelism)
    lanes: int
    parallel: bool


def rows_total(spec: AttentionSpec) -> int:
    return spec.sq * spec.group


def effective_block_q(spec: AttentionSpec, block_q: int, lanes: int) -> int:
    rows = rows_total(spec)
    return min(block_q, -(-rows // lanes) * lanes)


def generate(spec: AttentionSpec, cfg: FlashConfig, params: list[tuple[str, tuple[int, ...], str]],
             roles: dict[str, str], name: str) -> str:
    """TVMScript source of the kernel. `params`: (buffer name, shape, dtype) in call order;
    `roles`: "q"/"k"/"v"/"mask"/"out" -> buffer name."""
    g = _Gen(spec, cfg, roles)
    w = g.w
    sig = ", ".join(f"{n}: T.Buffer({tuple(s)}, '{dt}')" for n, s, dt in params)
    w("@T.prim_func")
    w(f"def {name}({sig}):")
    with w.indent():
        w(f"T.func_attr({{'global_symbol': '{name}', 'tirx.noalias': True}})")
        g.body()
    return "\n".join(w.lines) + "\n"


class _Gen(OutputStage):
    def __init__(self, spec: AttentionSpec, cfg: FlashConfig, roles: dict[str, str]) -> None:
        self.s, self.c, self.roles, self.w = spec, cfg, roles, Writer()
        self.G = spec.group
        self.R = rows_total(spec)
        self.BQ = effective_block_q(spec, cfg.block_q, cfg.lanes)
        self.NRB = -(-self.R // self.BQ)
        self.NF, self.tail = divmod(spec.skv, cfg.block_kv)
        ntiles = self.NF + (1 if self.tail else 0)
        self.split = max(1, min(cfg.split_kv, ntiles))
        self.TPS = -(-ntiles // self.split)          # tiles per split
        self.ragged = self.R % self.BQ != 0
        n_inner = self.NRB * self.split
        self.b = f"(t // {spec.kv_heads * n_inner})"
        self.hkv = f"(t // {n_inner} % {spec.kv_heads})"
        self.r0 = f"(t // {self.split} % {self.NRB} * {self.BQ})"
        self.sp = f"(t % {self.split})" if self.split > 1 else "0"

    # -- row (lane) helpers -----------------------------------------------------------------
    def pos(self, q: str) -> str:
        return f"({self.r0} + {q})" if self.G == 1 else f"(({self.r0} + {q}) // {self.G})"

    def head(self, q: str) -> str:
        return self.hkv if self.G == 1 else f"({self.hkv} * {self.G} + ({self.r0} + {q}) % {self.G})"

    def pos_clamped(self, q: str) -> str:
        return f"T.min({self.pos(q)}, {self.s.sq - 1})" if self.ragged else self.pos(q)

    def k(self, key: str, d: str) -> str:
        s = self.s
        return f"{self.roles['k']}[{index_expr(s.k_layout, s.d, self.b, self.hkv, key, d)}]"

    def v(self, key: str, d: str) -> str:
        s = self.s
        return f"{self.roles['v']}[{index_expr(s.v_layout, s.dv, self.b, self.hkv, key, d)}]"

    # -- kernel body ------------------------------------------------------------------------
    def body(self) -> None:
        s, w = self.s, self.w
        ntask = s.batch * s.kv_heads * self.NRB * self.split
        if self.split > 1:
            shape = (ntask, self.BQ)
            w(f"WO = T.alloc_buffer(({ntask}, {self.BQ}, {s.dv}), 'float32')")
            w(f"WM = T.alloc_buffer({shape}, 'float32')")
            w(f"WL = T.alloc_buffer({shape}, 'float32')")
        loop = "parallel" if self.c.parallel and ntask > 1 else "serial"
        w(f"for t in T.{loop}({ntask}):")
        with w.indent():
            self.task()
        if self.split > 1:
            self.merge()

    def task(self) -> None:
        s, w, BQ = self.s, self.w, self.BQ
        for buf, shape in (("Qt", (s.d, BQ)), ("St", (self.c.block_kv, BQ)), ("Ot", (BQ, s.dv)),
                           ("m", (BQ,)), ("l", (BQ,)), ("mx", (BQ,)), ("al", (BQ,)),
                           ("ls", (BQ,))):
            w(f"{buf} = T.alloc_buffer({shape}, 'float32')")
        self.pack_q()
        w(f"for q in T.vectorized({BQ}):")
        with w.indent():
            w(f"m[q] = T.float32({MASKV!r})")
            w("l[q] = T.float32(0)")
        w(f"for q in T.serial({BQ}):")
        with w.indent():
            w(f"for d in T.vectorized({s.dv}):")
            with w.indent():
                w("Ot[q, d] = T.float32(0)")
        self.kv_loop()
        if self.split > 1:
            self.store_partial()
        else:
            self.store_final()

    def pack_q(self) -> None:
        s, w = self.s, self.w
        scale = s.scale / s.softcap if s.softcap > 0 else s.scale * LOG2E
        q_at = (f"{self.roles['q']}[{index_expr(s.q_layout, s.d, self.b, self.head('q'), self.pos('q'), 'd')}]")
        w(f"for q in T.serial({self.BQ}):")
        with w.indent():
            w(f"for d in T.serial({s.d}):")
            with w.indent():
                if self.ragged:
                    w(f"if {self.r0} + q < {self.R}:")
                    with w.indent():
                        w(f"Qt[d, q] = {q_at} * T.float32({scale!r})")
                    w("else:")
                    with w.indent():
                        w("Qt[d, q] = T.float32(0)")
                else:
                    w(f"Qt[d, q] = {q_at} * T.float32({scale!r})")

    def kv_loop(self) -> None:
        s, w, BKV = self.s, self.w, self.c.block_kv
        lo = f"{self.sp} * {self.TPS}"
        hi = f"T.min({lo} + {self.TPS}, {self.NF})"
        if s.causal:
            # keys any row of this block may see: pos <= last row's position + offset
            last = f"(({self.r0} + {self.BQ - 1}) // {self.G})"
            self.need = f"T.max(T.min({last} + {s.causal_offset + 1}, {s.skv}), 0)"
            hi = f"T.min({hi}, ({self.need} + {BKV - 1}) // {BKV})"
        w(f"for kk in T.serial(T.max({hi} - ({lo}), 0)):")
        with w.indent():
            kb = f"({lo} + kk)"
            if s.causal and s.mask == "none":
                first = f"({self.r0} // {self.G})"
                w(f"if {kb} * {BKV} + {BKV - 1} > {first} + {s.causal_offset}:")
                with w.indent():
                    self.tile(f"{kb} * {BKV}", BKV, masked=True)
                w("else:")
                with w.indent():
                    self.tile(f"{kb} * {BKV}", BKV, masked=False)
            else:
                self.tile(f"{kb} * {BKV}", BKV, masked=s.mask != "none")
        if self.tail:
            cond = f"{self.NF // self.TPS} == {self.sp}"
            if s.causal:
                cond += f" and {self.need} > {self.NF * BKV}"
            w(f"if {cond}:")
            with w.indent():
                self.tile(str(self.NF * BKV), self.tail, masked=s.causal or s.mask != "none")

    def tile(self, k0: str, nk: int, masked: bool) -> None:
        w, BQ = self.w, self.BQ
        w(f"for q in T.vectorized({BQ}):")
        with w.indent():
            w("mx[q] = m[q]")
        self.gemm_qk(k0, nk, masked)
        w(f"for q in T.vectorized({BQ}):")
        with w.indent():
            w("al[q] = exp2(m[q] - mx[q])")
            w("m[q] = mx[q]")
            w("ls[q] = T.float32(0)")
        # exp in vector-register-sized chunks: a BQ-wide polynomial would spill its temporaries
        L = self.c.lanes
        w(f"for j in T.serial({nk}):")
        with w.indent():
            w(f"for qc in T.serial({BQ // L}):")
            with w.indent():
                w(f"for q in T.vectorized({L}):")
                with w.indent():
                    w(f"St[j, qc * {L} + q] = exp2(St[j, qc * {L} + q] - mx[qc * {L} + q])")
                    w(f"ls[qc * {L} + q] = ls[qc * {L} + q] + St[j, qc * {L} + q]")
        w(f"for q in T.vectorized({BQ}):")
        with w.indent():
            w("l[q] = l[q] * al[q] + ls[q]")
        self.gemm_pv(k0, nk)

    def _tiled(self, n_rows: int, n_cols: int, rows: int, width: int,
               emit: Callable[[str, int, str, int], None]) -> None:
        """Covers [0, n_rows) x [0, n_cols) with rows x width register tiles plus edge tiles."""
        w = self.w
        full_r, rem_r = divmod(n_rows, rows)
        full_c, rem_c = divmod(n_cols, width)

        def cols(r0: str, nr: int) -> None:
            if full_c:
                w(f"for c0 in T.serial({full_c}):")
                with w.indent():
                    emit(r0, nr, f"c0 * {width}", width)
            if rem_c:
                emit(r0, nr, str(full_c * width), rem_c)

        if full_r:
            w(f"for r0 in T.serial({full_r}):")
            with w.indent():
                cols(f"r0 * {rows}", rows)
        if rem_r:
            cols(str(full_r * rows), rem_r)

    def gemm_qk(self, k0: str, nk: int, masked: bool) -> None:
        w, s = self.w, self.s

        def emit(j: str, nr: int, q0: str, width: int) -> None:
            for r in range(nr):
                w(f"acc{r} = T.alloc_buffer(({width},), 'float32')")
            w(f"for q in T.vectorized({width}):")
            with w.indent():
                for r in range(nr):
                    w(f"acc{r}[q] = T.float32(0)")
            w(f"for d in T.serial({s.d}):")
            with w.indent():
                w(f"for q in T.vectorized({width}):")
                with w.indent():
                    for r in range(nr):
                        w(f"acc{r}[q] = acc{r}[q] + {self.k(f'{k0} + {j} + {r}', 'd')} * Qt[d, {q0} + q]")
            w(f"for q in T.vectorized({width}):")
            with w.indent():
                for r in range(nr):
                    val = self.epilogue(f"acc{r}[q]", f"{k0} + {j} + {r}", f"{q0} + q", masked)
                    w(f"St[{j} + {r}, {q0} + q] = {val}")
                    w(f"mx[{q0} + q] = T.max(mx[{q0} + q], St[{j} + {r}, {q0} + q])")

        self._tiled(nk, self.BQ, self.c.rows, self.c.width, emit)

    def epilogue(self, acc: str, key: str, lane: str, masked: bool) -> str:
        s = self.s
        val = acc
        if s.softcap > 0:
            val = f"T.float32({s.softcap * LOG2E!r}) * tanh({val})"
        if masked and s.mask != "none":
            canon = (self.b, self.head(lane), self.pos_clamped(lane), key)
            idx = ", ".join("0" if dim == 1 else canon[ax]
                            for dim, ax in zip(s.mask_shape, s.mask_axes))
            mval = f"{self.roles['mask']}[{idx}]"
            if s.mask == "bool":
                val = f"T.if_then_else({mval}, {val}, T.float32({MASKV!r}))"
            else:
                val = f"T.max({val} + {mval} * T.float32({LOG2E!r}), T.float32({MASKV!r}))"
        if masked and s.causal:
            val = (f"T.if_then_else({key} > {self.pos(lane)} + {s.causal_offset}, "
                   f"T.float32({MASKV!r}), {val})")
        return val

    def gemm_pv(self, k0: str, nk: int) -> None:
        w, s = self.w, self.s
        n_rows = self.R if self.NRB == 1 else self.BQ   # skip padding rows of a lone block

        def emit(q: str, nr: int, d0: str, width: int) -> None:
            for r in range(nr):
                w(f"o{r} = T.alloc_buffer(({width},), 'float32')")
            w(f"for d in T.vectorized({width}):")
            with w.indent():
                for r in range(nr):
                    w(f"o{r}[d] = Ot[{q} + {r}, {d0} + d] * al[{q} + {r}]")
            w(f"for j in T.serial({nk}):")
            with w.indent():
                w(f"for d in T.vectorized({width}):")
                with w.indent():
                    for r in range(nr):
                        w(f"o{r}[d] = o{r}[d] + St[j, {q} + {r}] * {self.v(f'{k0} + j', f'{d0} + d')}")
            w(f"for d in T.vectorized({width}):")
            with w.indent():
                for r in range(nr):
                    w(f"Ot[{q} + {r}, {d0} + d] = o{r}[d]")

        self._tiled(n_rows, s.dv, self.c.rows, self.c.width, emit)
