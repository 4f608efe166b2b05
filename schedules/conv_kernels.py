"""Register-tiled loop nests for onnxjit::Conv (dense and sparse), NCHW, vectorised over pixels.

Both read the row layout of compiler/conv_geometry.py (Xq; a zero-padded, stride-phase-split copy
built at the top of the kernel unless the conv is a plain 1x1) and compute a tile of output pixels
held in registers: `v` vectors of `lanes` pixels x `ct` output channels (dense: weights broadcast,
one input vector load shared by ct FMAs) or x `br` rows of a sparse block (the block's input-row
load shared by br FMAs). Pixel tiles run over the flat q grid ("flat": rows of wq, columns past
wo computed and dropped at the store) or along each output row ("rows": no waste, shorter tiles).
The store applies the epilogue: + bias, then each post op (residual add, relu, clip) in order.

The kernel is generated as TVMScript text so every register-tile statement has constant indices:
each accumulator row is its own buffer under 1 KiB, the only allocations TVM 0.27 keeps on the stack
(where LLVM turns them into vector registers; one (ct, v, lanes) buffer over 1 KiB goes to the heap
and runs 3-5x slower, shared/notes/cpu-kernels.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from onnxjit.compiler.conv_geometry import ConvGeometry
from onnxjit.compiler.tvm_api import PrimFunc, parse_tvmscript
from onnxjit.schedules import conv_pack
from onnxjit.schedules.conv_copy import emit_padded_copy
from onnxjit.schedules.tvmscript_text import Writer

MAX_UNROLLED_KX = 11        # wider kernels loop over kx too


@dataclass(frozen=True)
class Tiling:
    impl: str          # "dense" | "sparse"
    v: int             # vectors per tile
    ct: int            # dense: output channels per tile (sparse: ignored, br from the packing)
    cu: int            # dense: input-channel unroll
    mode: str          # "flat" | "rows"
    lanes: int
    cob: int = 0       # dense: channel tiles per cache block (0: all)
    wct: int = 0       # dense: output channels per weight block of Wt (0: all of a group's)
    rows: int = 1      # rows mode and dense_c: output rows per tile (they share each weight / index load)
    nt: bool = False   # pixel kernels: non-temporal (streaming) stores of whole output vectors
    pack: int = 0      # sparse 1x1 (direct): 1 tiles packed into a scratch, 2 double-buffered and
    #                    pipelined (schedules/conv_pack.py); 0 read X in place
    pf: int = 0        # packed: prefetch a coming tile's input (LLVM locality 1-3)


@dataclass(frozen=True)
class Epilogue:
    post: tuple[str, ...]     # "add", "relu", "clip"
    lo: float
    hi: float


def packs(g: ConvGeometry, impl: str, mode: str, pack: int, cob: int = 0) -> bool:
    """Whether a point packs pixel tiles: a 1x1 read in place, flat tiles, sparse or dense with
    all channel tiles per pixel tile (cob 0: each packed tile serves every output channel)."""
    return (pack > 0 and g.direct and mode == "flat"
            and (impl == "sparse" or (impl == "dense" and cob == 0 and g.group == 1)))


# Streaming stores (LLVM's !nontemporal; x86 vmovntps) skip reading each output line before it is
# written: a third of the memory traffic of a sparse layer whose output exceeds the caches.
# linkonce_odr: every conv kernel of a module imports the same definitions.
NT_LL = """
define linkonce_odr void @onnxjit_conv_nt_v{w}f32(ptr %p, <{w} x float> %v) #0 {{
  store <{w} x float> %v, ptr %p, align {align}, !nontemporal !0
  ret void
}}
define linkonce_odr void @onnxjit_conv_sfence() #0 {{
  call void @llvm.x86.sse.sfence()
  ret void
}}
declare void @llvm.x86.sse.sfence()
attributes #0 = {{ alwaysinline nounwind }}
!0 = !{{i32 1}}
"""


def _f32(x: float) -> str:
    return f"T.float32({float(x)!r})"


class _Gen:
    def __init__(self, g: ConvGeometry, epi: Epilogue, tl: Tiling, block: int) -> None:
        self.g, self.epi, self.tl = g, epi, tl
        self.sparse = tl.impl == "sparse"
        self.ct = block if self.sparse else tl.ct
        if g.mg % self.ct or (self.sparse and g.group != 1):
            raise ValueError(f"tile of {self.ct} channels does not divide {g.mg}")
        if tl.v < 1 or tl.v * tl.lanes * 4 >= 1024:
            raise ValueError(f"{tl.v} vectors of {tl.lanes} lanes: an accumulator row must stay under 1 KiB")
        self.wct = tl.wct or g.mg
        if not self.sparse and (g.mg % self.wct or self.wct % self.ct):
            raise ValueError(f"weight blocks of {self.wct} channels do not hold tiles of {self.ct}")
        self.cu = tl.cu if (not self.sparse and tl.cu > 0 and g.cg % tl.cu == 0) else 1
        self.L, self.V = tl.lanes, tl.v
        self.MR = self.V * self.L
        self.flat = tl.mode == "flat"
        self.rt = 1 if self.flat else max(1, min(tl.rows, g.ho))   # rows mode: output rows per tile
        nb = g.mg // self.ct
        self.nb = nb
        self.cob = tl.cob if (not self.sparse and 0 < tl.cob and nb % tl.cob == 0) else nb
        self.crop = self.flat and g.wq != g.wo
        self.w = Writer()
        self.xs = "Xn" if g.direct else "Xq"
        self.group_copy = not g.direct and g.group > 1
        self.copy_first = f"gi * {g.cg}"   # group gi's first channel in Xn (its copy's source)
        # XNNPACK-style L1 blocking (schedules/conv_pack.py)
        self.pack = packs(g, tl.impl, tl.mode, tl.pack, tl.cob)
        if self.pack:
            self.xs, self.xbase = "Xp", "0"
        # aligned whole-vector stores: every tile starts a multiple of lanes into an output plane
        self.nt = tl.nt and not self.crop and tl.lanes in (8, 16) and (g.ho * g.wo) % tl.lanes == 0 \
            and (self.flat or g.wo % tl.lanes == 0)

    def accumulators(self) -> list[tuple[str, int]]:
        return [(f"acc{c}_{r}", self.MR) for c in range(self.ct) for r in range(self.rt)]

    # -- expressions -------------------------------------------------------------------------
    def post(self, value: str, co: str, yi: str, lanes: int = 0) -> str:
        """The epilogue (bias, residual, relu, clip) of one output element, or of a whole vector
        of `lanes` lanes (yi: the first lane's output index)."""
        def bc(x: str) -> str:
            return f"T.Broadcast({x}, {lanes})" if lanes else x

        value = f"{value} + {bc(f'B[{co}]')}"
        for op in self.epi.post:
            if op == "add":
                value = f"{value} + Rf[{f'T.ramp({yi}, 1, {lanes})' if lanes else yi}]"
            elif op == "relu":
                value = f"T.max({value}, {bc('T.float32(0)')})"
            elif op == "clip":
                if math.isfinite(self.epi.lo):
                    value = f"T.max({value}, {bc(_f32(self.epi.lo))})"
                if math.isfinite(self.epi.hi):
                    value = f"T.min({value}, {bc(_f32(self.epi.hi))})"
        return value

    # -- tiles -------------------------------------------------------------------------------
    def segments(self, nv: int, nr: int, compute: bool = True) -> list[tuple[int, int]]:
        """(lane offset, width) of each vector of a tile of nv full vectors and nr lanes. Reading
        the padded copy, a partial vector is computed full width (the copy has `lanes` elements of
        slack at its end) and only its nr lanes stored: one vector op instead of several narrow ones."""
        width = self.L if compute and (self.pack or not self.g.direct) else nr
        return [(v * self.L, self.L) for v in range(nv)] + ([(nv * self.L, width)] if nr else [])

    def zero(self, segs: list[tuple[int, int]], nrows: int) -> None:
        w = self.w
        for c in range(self.ct):
            for r in range(nrows):
                for o, width in segs:
                    with w.block(f"for l in T.vectorized({width}):"):
                        w(f"acc{c}_{r}[{o} + l] = T.float32(0)")

    def fma(self, c: int, r: int, o: int, width: int, weight: str, xi: str) -> None:
        w = self.w
        with w.block(f"for l in T.vectorized({width}):"):
            w(f"acc{c}_{r}[{o} + l] = acc{c}_{r}[{o} + l] + {weight} * {self.xs}[{xi} + {o} + l]")

    def store(self, segs: list[tuple[int, int]], co0: str, rows: list[tuple[str, str]]) -> None:
        """`segs`: the store segments (partial vectors at their true width)."""
        g, w = self.g, self.w
        for c in range(self.ct):
            co = f"{co0} + {c}"
            for r, (base, ybase) in enumerate(rows):
                for o, width in segs:
                    if self.crop:
                        with w.block(f"for l in T.unroll({width}):"):
                            q = f"{base} + {o} + l"
                            with w.block(f"if ({q}) % {g.wq} < {g.wo}:"):
                                yi = (f"n * {g.m * g.ho * g.wo} + ({co}) * {g.ho * g.wo} + ({q}) // {g.wq}"
                                      f" * {g.wo} + ({q}) % {g.wq}")
                                w(f"Yf[{yi}] = {self.post(f'acc{c}_{r}[{o} + l]', co, yi)}")
                    elif self.nt and width == self.L:
                        yi = f"n * {g.m * g.ho * g.wo} + ({co}) * {g.ho * g.wo} + {ybase} + {o}"
                        value = self.post(f"acc{c}_{r}[T.ramp({o}, 1, {width})]", co, yi, self.L)
                        w(f"T.evaluate(T.call_extern('void', 'onnxjit_conv_nt_v{width}f32', "
                          f"T.address_of(Yf[{yi}]), {value}))")
                    else:
                        with w.block(f"for l in T.vectorized({width}):"):
                            yi = f"n * {g.m * g.ho * g.wo} + ({co}) * {g.ho * g.wo} + {ybase} + {o} + l"
                            w(f"Yf[{yi}] = {self.post(f'acc{c}_{r}[{o} + l]', co, yi)}")

    def weight_index(self, cil: str, tap: str, cb: str, c: int) -> str:
        """Wt is [group, mg / wct, cg, taps, wct]; a tile's ct channels lie in one wct block."""
        g, wct, ct = self.g, self.wct, self.ct
        blk, j = f"({cb} * {ct}) // {wct}", f"({cb} * {ct}) % {wct} + {c}"
        return f"(((gi * {g.mg // wct} + {blk}) * {g.cg} + {cil}) * {g.taps} + {tap}) * {wct} + {j}"

    def dense_tile(self, segs: list[tuple[int, int]], out: list[tuple[int, int]],
                   rows: list[tuple[str, str]]) -> None:
        g, w, ct = self.g, self.w, self.ct
        cb = f"(cbo * {self.cob} + cbi)"
        co0 = f"gi * {g.mg} + {cb} * {ct}"
        self.zero(segs, len(rows))
        unroll_kx = g.kw <= MAX_UNROLLED_KX
        kxs = list(range(g.kw)) if unroll_kx else ["kx"]
        with w.block(f"for c1 in T.serial({g.cg // self.cu}):"):
            with w.block(f"for ky in T.serial({g.kh}):"):
                if g.direct:
                    row = "0"
                else:
                    row = (f"((ky * {g.dh}) % {g.sh}) * {g.sw * g.plane} + ((ky * {g.dh}) // {g.sh}) * {g.wq}")
                if not unroll_kx:
                    w(f"for kx in T.serial({g.kw}):")
                    w.depth += 1
                for c2 in range(self.cu):
                    ci = f"({self.xchannel(f'c1 * {self.cu} + {c2}')})"
                    for kx in kxs:
                        if g.direct:
                            col = "0"
                        elif unroll_kx:
                            px, ix = (kx * g.dw) % g.sw, (kx * g.dw) // g.sw
                            col = str(px * g.plane + ix)
                        else:
                            col = f"((kx * {g.dw}) % {g.sw}) * {g.plane} + (kx * {g.dw}) // {g.sw}"
                        for c in range(ct):
                            wi = self.weight_index(f"c1 * {self.cu} + {c2}", f"ky * {g.kw} + {kx}", cb, c)
                            for r, (base, _) in enumerate(rows):
                                for o, width in segs:
                                    xi = (f"{ci} * {self.MR} + {self.xbase}" if self.pack
                                          else f"{ci} * {g.cplane} + {row} + {col} + {base}")
                                    self.fma(c, r, o, width, f"Wf[{wi}]", xi)
                if not unroll_kx:
                    w.depth -= 1
        self.store(out, co0, rows)

    def sparse_tile(self, segs: list[tuple[int, int]], out: list[tuple[int, int]],
                    rows: list[tuple[str, str]]) -> None:
        w, br = self.w, self.ct
        self.zero(segs, len(rows))
        with w.block("for jj in T.serial(ptr[ib], ptr[ib + 1]):"):
            for c in range(br):
                for r, (base, _) in enumerate(rows):
                    for o, width in segs:
                        xi = f"offp[jj] + {self.xbase}" if self.pack else f"off[jj] + {base}"
                        self.fma(c, r, o, width, f"val[jj * {br} + {c}]", xi)
        self.store(out, f"ib * {br}", rows)

    def tile(self, nv: int, nr: int, rows: list[tuple[str, str]]) -> None:
        w = self.w
        segs, out = self.segments(nv, nr), self.segments(nv, nr, compute=False)
        if self.sparse:
            with w.block(f"for ib in T.serial({self.nb}):"):
                self.sparse_tile(segs, out, rows)
        else:
            with w.block(f"for cbi in T.serial({self.cob}):"):
                self.dense_tile(segs, out, rows)

    def sweep(self) -> None:
        with self.w.block(f"for gi in T.serial({1 if self.sparse else self.g.group}):"):
            self.group_sweep()

    def group_sweep(self) -> None:
        """Group gi's output tiles (and its padded copy first, with groups)."""
        g, w, MR = self.g, self.w, self.MR
        length = g.nq if self.flat else g.wo
        nt, rem = divmod(length, MR)
        rv, rr = divmod(rem, self.L)
        if self.group_copy:
            self.copy_padded()
        with w.block(f"for cbo in T.serial({1 if self.sparse else self.nb // self.cob}):"):
            if self.pack:
                conv_pack.sweep(self)
                return
            if self.flat:
                if nt:
                    with w.block(f"for pt in T.serial({nt}):"):
                        self.tile(self.V, 0, [(f"pt * {MR}", f"pt * {MR}")])
                if rem:
                    self.tile(rv, rr, [(str(nt * MR), str(nt * MR))])
                return
            full, tail = divmod(g.ho, self.rt)
            for nrows, count, y0 in ((self.rt, full, "0"), (tail, 1 if tail else 0, str(full * self.rt))):
                if not count:
                    continue
                with w.block(f"for yt in T.serial({count}):"):
                    def rows(x0: str, nrows: int = nrows, y0: str = y0) -> list[tuple[str, str]]:
                        return [(f"({y0} + yt * {nrows} + {r}) * {g.wq} + {x0}",
                                 f"({y0} + yt * {nrows} + {r}) * {g.wo} + {x0}") for r in range(nrows)]
                    if nt:
                        with w.block(f"for pt in T.serial({nt}):"):
                            self.tile(self.V, 0, rows(f"pt * {MR}"))
                    if rem:
                        self.tile(rv, rr, rows(str(nt * MR)))

    def copy_padded(self) -> None:
        """The whole image's padded copy, or with groups (depthwise) only group gi's channels,
        just before their sweep: the copy then stays in cache instead of streaming the whole
        padded image through memory (a depthwise conv is memory-bound)."""
        g = self.g
        if self.group_copy:
            emit_padded_copy(self.w, g, self.L, self.L, g.cg, self.copy_first)
        else:
            emit_padded_copy(self.w, g, self.L, self.L)

    def xchannel(self, local: str) -> str:
        """Xq plane index of group gi's input channel `local`."""
        return local if self.group_copy else f"gi * {self.g.cg} + {local}"

    def function(self, shapes: list[tuple[int, ...]]) -> str:
        g, w = self.g, self.w
        names = ("X", "Wt", "B", "val", "off", "ptr", "R", "Y")
        dtypes = ("float32",) * 4 + ("int32", "int32") + ("float32",) * 2
        sig = ", ".join(f"{n}: T.Buffer({tuple(s)!r}, '{d}')" for n, s, d in zip(names, shapes, dtypes))
        xlen = g.c * g.h * g.w
        ylen = g.n * g.m * g.ho * g.wo
        w("@T.prim_func")
        with w.block(f"def conv({sig}):"):
            w("T.func_attr({'global_symbol': 'conv', 'tirx.noalias': True})")
            w(f"Wf = T.decl_buffer(({max(1, int(shapes[1][0]))},), 'float32', data=Wt.data)")
            w(f"Yf = T.decl_buffer(({ylen},), 'float32', data=Y.data)")
            w(f"Rf = T.decl_buffer(({ylen if 'add' in self.epi.post else 1},), 'float32', data=R.data)")
            for name, width in self.accumulators():
                w(f"{name} = T.alloc_buffer(({width},), 'float32')")
            if self.pack:
                conv_pack.declare(self, max(1, int(shapes[4][0])))
            if not g.direct:
                channels = g.cg if self.group_copy else g.c
                w(f"Xq = T.alloc_buffer(({channels * g.cplane + self.L},), 'float32')")
            if self.nt:
                w(f"with T.attr(T.int32(0), 'pragma_import_llvm', {NT_LL.format(w=self.L, align=4 * self.L)!r}):")
                w.depth += 1
            with w.block(f"for n in T.serial({g.n}):"):
                w(f"Xn = T.decl_buffer(({xlen},), 'float32', data=X.data, elem_offset=n * {xlen})")
                if not g.direct and not self.group_copy:
                    self.copy_padded()
                self.sweep()
            if self.nt:
                w("T.evaluate(T.call_extern('void', 'onnxjit_conv_sfence'))")
                w.depth -= 1
        return "\n".join(w.lines) + "\n"


def conv_source(g: ConvGeometry, epi: Epilogue, tl: Tiling, shapes: list[tuple[int, ...]],
                block: int) -> str:
    if tl.impl == "dense_c":
        from onnxjit.schedules.conv_channel_kernel import ChannelGen
        return ChannelGen(g, epi, tl, block).function(shapes)
    return _Gen(g, epi, tl, block).function(shapes)


def conv_kernel(g: ConvGeometry, epi: Epilogue, tl: Tiling, shapes: list[tuple[int, ...]],
                block: int) -> PrimFunc:
    """The kernel; params (X, Wt, B, val, off, ptr, R, Y) with the kernel's own shapes."""
    return parse_tvmscript(conv_source(g, epi, tl, [tuple(int(d) for d in s) for s in shapes], block))
