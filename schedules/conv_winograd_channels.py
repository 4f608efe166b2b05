"""onnxjit::WinogradConv with the 16 products vectorised over output channels (small images).

With few 2x2 tiles (a 14x14 image has 49) vectors of tiles waste lanes (49 of 64 used) and the
register tile is one or two vectors wide; vectors of output channels waste none. Here a register
tile is `rows` tiles x `kv` vectors of output channels: per input channel, kv weight vectors
(U's 16-channel blocks are contiguous) and `rows` broadcast tile values feed rows*kv FMAs. The
products go to Mb[e][tile][channel]; the output transform then runs per tile on channel vectors
and scatters each output vector's lanes to their channel planes with the epilogue (4 outputs per
tile and vector). Stage 1 (the input transform) is the tile-vectorised kernel's.
"""
from __future__ import annotations

from onnxjit.compiler.conv_geometry import ConvGeometry
from onnxjit.schedules.conv_winograd_kernel import (WinogradGen, WinogradTiling, _odd_lines,
                                                    emit_products, output_transform)


class ChannelWinogradGen(WinogradGen):
    """`tl.ct`: tiles per register tile (rows); `tl.v`: vectors of output channels (kv)."""

    def __init__(self, g: ConvGeometry, post: tuple[str, ...], lo: float, hi: float,
                 tl: WinogradTiling) -> None:
        super().__init__(g, post, lo, hi, WinogradTiling(1, 1, tl.lanes))
        if g.m % (tl.v * tl.lanes) or self.ub != tl.lanes:
            raise ValueError(f"{tl.v} vectors of {tl.lanes} channels do not tile {g.m}")
        self.rows, self.kv = tl.ct, tl.v
        self.me = _odd_lines(self.p * g.m)

    def scratch(self) -> None:
        t, L = self.t, self.L
        t(f"Mb = T.alloc_buffer(({16 * self.me},), 'float32')")
        for r in range(self.rows):
            t(f"acc{r} = T.alloc_buffer(({self.kv * L},), 'float32')")

    def tile(self, nrows: int, p0: str) -> None:
        g, L, kv = self.g, self.L, self.kv
        emit_products(
            self.t, L, g.c, nrows, kv,
            lambda r, j: (f"V[e * {self.ve} + ci * {self.pp} + {p0} + {r}] * "
                          f"Uf[((e * {g.m // L} + kb * {kv} + {j}) * {g.c} + ci) * {L} + l]"),
            lambda r, j: f"Mb[e * {self.me} + ({p0} + {r}) * {g.m} + (kb * {kv} + {j}) * {L} + l]")

    def products(self) -> None:
        g, t, L = self.g, self.t, self.L
        blocks, tail = divmod(self.p, self.rows)
        t("for e in T.serial(16):")
        with t:
            t(f"for kb in T.serial({g.m // (self.kv * L)}):")
            with t:
                if blocks:
                    t(f"for pr in T.serial({blocks}):")
                    with t:
                        self.tile(self.rows, f"pr * {self.rows}")
                if tail:
                    self.tile(tail, str(blocks * self.rows))
        self.scatter()

    def scatter(self) -> None:
        """Y = A^T M A per tile on channel vectors, bias/residual/activation, 4 scattered stores."""
        g, t, L = self.g, self.t, self.L
        t(f"for ty, tx, kc in T.grid({self.th}, {self.tw}, {g.m // L}):")
        with t:
            p = f"(ty * {self.tw} + tx)"
            m = [f"Mb[{e * self.me} + {p} * {g.m} + kc * {L} + l]" for e in range(16)]
            for (i, j), value in output_transform(m).items():
                # the second output row / column of a tile past an odd image's edge: skipped
                cond = ([f"2 * ty + 1 < {g.h}"] if g.h % 2 and i else []) + (
                    [f"2 * tx + 1 < {g.w}"] if g.w % 2 and j else [])
                yidx = (f"((nb * {g.m} + kc * {L} + l) * {g.h} + 2 * ty + {i}) * {g.w}"
                        f" + 2 * tx + {j}")
                store = f"Yf[{yidx}] = {self.post_expr(value, f'kc * {L} + l', yidx, 1)}"
                if cond:
                    with t.block(f"if {' and '.join(cond)}:"):
                        with t.block(f"for l in T.vectorized({L}):"):
                            t(store)
                else:
                    with t.block(f"for l in T.vectorized({L}):"):
                        t(store)
