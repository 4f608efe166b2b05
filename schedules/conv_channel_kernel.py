"""Dense onnxjit::Conv vectorised over output channels, NCHW in and out (knob impl "dense_c").

The register tile is `ob` vectors of `lanes` output channels x `wt` output pixels along one output
row: per (input channel, tap), ob weight-vector loads (Wt packed [group, mg/wct, cg, taps, wct],
so a tap's channels are contiguous), wt scalar broadcasts of the input and ob*wt FMAs. Pixels are
the broadcast dimension, so a row of any width is covered without wasted lanes (the last tile of a
row is narrower) and padding/strides cost nothing in the loop: the input is the zero-padded,
stride-phase-split row layout of compiler/conv_geometry.py. This is the NCHWc kernel of the
prototype (shared/notes/proto-conv.md) with the layout change folded into the kernel: the input
copy the padded layout needs anyway, and stores that scatter each channel vector back to NCHW
(ob*wt*lanes scalar stores per tile against ob*wt*cg*taps FMAs). Accumulators: one buffer per
pixel, ob*lanes wide (under 1 KiB).
"""
from __future__ import annotations

from onnxjit.compiler.conv_geometry import ConvGeometry
from onnxjit.schedules.conv_kernels import MAX_UNROLLED_KX, Epilogue, Tiling, _Gen
from onnxjit.schedules.tvmscript_text import Writer


class ChannelGen(_Gen):
    def __init__(self, g: ConvGeometry, epi: Epilogue, tl: Tiling, block: int) -> None:
        del block
        self.g, self.epi, self.tl = g, epi, tl
        self.sparse, self.crop, self.pack = False, False, False
        self.L, self.ob, self.wt = tl.lanes, tl.ct, tl.v
        self.rt = max(1, tl.rows)
        self.wct = tl.wct or g.mg
        chans = self.ob * self.L
        if g.mg % chans or self.wct % self.L or g.mg % self.wct:
            raise ValueError(f"tiles of {self.ob}x{self.L} channels do not fit {g.mg} channels "
                             f"in weight blocks of {self.wct}")
        if self.wt < 1 or chans * 4 >= 1024:
            raise ValueError(f"tile {self.ob}x{self.L} channels x {self.wt} pixels too large")
        self.cu = tl.cu if tl.cu > 0 and g.cg % tl.cu == 0 else 1
        self.w = Writer()
        self.xs = "Xn" if g.direct else "Xq"
        self.group_copy = not g.direct and g.group > 1
        self.copy_first = f"gi * {g.cg}"
        self.nt = False   # stores scatter channel vectors to NCHW: no whole-vector streaming stores

    def accumulators(self) -> list[tuple[str, int]]:
        return [(f"acc{r}_{p}", self.ob * self.L) for r in range(self.rt) for p in range(self.wt)]

    def sweep(self) -> None:
        g, w, wt, rt = self.g, self.w, self.wt, self.rt
        nx, xr = divmod(g.wo, wt)
        ny, yr = divmod(g.ho, rt)
        with w.block(f"for gi in T.serial({g.group}):"):
            if self.group_copy:
                self.copy_padded()
            for rows, count, y0 in ((rt, ny, "0"), (1, yr, str(ny * rt))):
                if not count:
                    continue
                with w.block(f"for yt in T.serial({count}):"):
                    y = f"({y0} + yt * {rows})"
                    with w.block(f"for cb in T.serial({g.mg // (self.ob * self.L)}):"):
                        if nx:
                            with w.block(f"for xt in T.serial({nx}):"):
                                self.channel_tile(rows, wt, f"{y} * {g.wq} + xt * {wt}",
                                                  f"{y} * {g.wo} + xt * {wt}")
                        if xr:
                            self.channel_tile(rows, xr, f"{y} * {g.wq} + {nx * wt}", f"{y} * {g.wo} + {nx * wt}")

    def channel_tile(self, rows: int, npix: int, base: str, ybase: str) -> None:
        g, w, L, ob = self.g, self.w, self.L, self.ob
        rstride = g.wq   # the next output row on the q grid (stride phases are separate planes)
        for r in range(rows):
            for p in range(npix):
                with w.block(f"for l in T.vectorized({ob * L}):"):
                    w(f"acc{r}_{p}[l] = T.float32(0)")
        unroll_kx = g.kw <= MAX_UNROLLED_KX
        kxs: list[int | str] = list(range(g.kw)) if unroll_kx else ["kx"]
        with w.block(f"for c1 in T.serial({g.cg // self.cu}):"):
            with w.block(f"for ky in T.serial({g.kh}):"):
                row = "0" if g.direct else (
                    f"((ky * {g.dh}) % {g.sh}) * {g.sw * g.plane} + ((ky * {g.dh}) // {g.sh}) * {g.wq}")
                if not unroll_kx:
                    w(f"for kx in T.serial({g.kw}):")
                    w.depth += 1
                for c2 in range(self.cu):
                    cil = f"c1 * {self.cu} + {c2}"
                    for kx in kxs:
                        if g.direct:
                            col = "0"
                        elif isinstance(kx, int):
                            col = str(((kx * g.dw) % g.sw) * g.plane + (kx * g.dw) // g.sw)
                        else:
                            col = f"((kx * {g.dw}) % {g.sw}) * {g.plane} + (kx * {g.dw}) // {g.sw}"
                        xi = f"({self.xchannel(cil)}) * {g.cplane} + {row} + {col} + {base}"
                        for o in range(ob):
                            wi = self.weight_index(cil, f"ky * {g.kw} + {kx}", "cb", o)
                            for r in range(rows):
                                for p in range(npix):
                                    with w.block(f"for l in T.vectorized({L}):"):
                                        w(f"acc{r}_{p}[{o * L} + l] = acc{r}_{p}[{o * L} + l] + "
                                          f"{self.xs}[{xi} + {r * rstride + p}] * Wf[{wi} + l]")
                if not unroll_kx:
                    w.depth -= 1
        hw = g.ho * g.wo
        for r in range(rows):
            for p in range(npix):
                for o in range(ob):
                    co = f"gi * {g.mg} + cb * {ob * L} + {o * L} + l"
                    yi = f"n * {g.m * hw} + ({co}) * {hw} + {ybase} + {r * g.wo + p}"
                    with w.block(f"for l in T.vectorized({L}):"):
                        w(f"Yf[{yi}] = {self.post(f'acc{r}_{p}[{o * L} + l]', co, yi)}")

    def weight_index(self, cil: str, tap: str, cb: str, c: int) -> str:
        """First lane of vector `c` of channel tile `cb` (ob*lanes channels) at (cil, tap)."""
        g, wct, L = self.g, self.wct, self.L
        first = f"{cb} * {self.ob * L} + {c * L}"
        return (f"(((gi * {g.mg // wct} + ({first}) // {wct}) * {g.cg} + {cil}) * {g.taps} + {tap})"
                f" * {wct} + ({first}) % {wct}")
