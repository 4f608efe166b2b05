"""The generated CPU kernel of onnxjit::WinogradConv (F(2x2, 3x3)), as TVMScript text.

Three stages per image, all in cache-sized scratch:
1. input transform, per input channel and row of 2x2 tiles: the 4 input rows it reads are copied
   into a zero-padded row buffer, split into even and odd columns (one vector shuffle per 2
   vectors: T.Shuffle), and B^T d B is formed with additions on whole vectors of tiles, stored as
   V[e][c][tile] (tiles of a row contiguous; a row's last vector spills into the next row's
   slots, which that row then overwrites);
2. per block of `ct` output channels and `v` vectors of tiles: the 16 products
   M_e[ct, tiles] = U_e[:, ct]^T V_e[:, tiles] in registers (the dense 1x1 conv tile: one
   broadcast weight, v tile vectors, ct*v accumulators), then Y = A^T M A (additions) into
   Yq[k][i][j][tile] (still vectors of tiles);
3. per output channel and row: the two column phases of Yq are interleaved (T.Shuffle) into
   whole output vectors, and bias, residual and activation applied at that contiguous store.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from onnxjit.compiler.conv_geometry import ConvGeometry, weight_block
from onnxjit.schedules.tvmscript_text import Writer, even_odd_lanes


@dataclass(frozen=True)
class WinogradTiling:
    ct: int       # output channels per register tile
    v: int        # vectors of tiles per register tile
    lanes: int


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _odd_lines(floats: int) -> int:
    """`floats` rounded up to an odd number of 64-byte lines (16 floats)."""
    lines = _cdiv(floats, 16)
    return 16 * (lines + 1 - lines % 2)


def _bt(d0: str, d1: str, d2: str, d3: str) -> tuple[str, str, str, str]:
    """B^T of F(2x2, 3x3) applied to four values."""
    return f"{d0} - {d2}", f"{d1} + {d2}", f"{d2} - {d1}", f"{d1} - {d3}"


def emit_products(t: Writer, lanes: int, channels: int, rows: int, vectors: int,
                  term: Callable[[int, int], str], target: Callable[[int, int], str]) -> None:
    """A register tile of `rows` accumulators acc{r} of `vectors` whole vectors (odd widths, 48
    lanes, ran 9x slower): acc{r}[vector c] = the sum over input channels ci, in order, of
    term(r, c) (an expression of ci and the lane l); then stored to target(r, c)."""
    tiles = [(r, c) for r in range(rows) for c in range(vectors)]
    for r, c in tiles:
        with t.block(f"for l in T.vectorized({lanes}):"):
            t(f"acc{r}[{c * lanes} + l] = T.float32(0)")
    with t.block(f"for ci in T.serial({channels}):"):
        for r, c in tiles:
            with t.block(f"for l in T.vectorized({lanes}):"):
                t(f"acc{r}[{c * lanes} + l] = acc{r}[{c * lanes} + l] + {term(r, c)}")
    for r, c in tiles:
        with t.block(f"for l in T.vectorized({lanes}):"):
            t(f"{target(r, c)} = acc{r}[{c * lanes} + l]")


def output_transform(m: list[str]) -> dict[tuple[int, int], str]:
    """Y = A^T M A of one tile's 16 products m[4a + b], as expressions by output (row, column).
    Expressions, not let-bound names: a let inside a vectorised loop read back zeros."""
    s = [(f"({m[4 * a]} + {m[4 * a + 1]} + {m[4 * a + 2]})",     # A^T over the columns of row a
          f"({m[4 * a + 1]} - {m[4 * a + 2]} - {m[4 * a + 3]})") for a in range(4)]
    return {(i, j): (f"{s[0][j]} + {s[1][j]} + {s[2][j]}" if i == 0
                     else f"{s[1][j]} - {s[2][j]} - {s[3][j]}") for i in range(2) for j in range(2)}


def _f32(x: float) -> str:
    return f"T.float32({float(x)!r})"


class WinogradGen:
    def __init__(self, g: ConvGeometry, post: tuple[str, ...], lo: float, hi: float,
                 tl: WinogradTiling) -> None:
        self.ub = weight_block(g.m)   # U's channel blocks
        if g.m % tl.ct or (tl.ct % self.ub and self.ub % tl.ct):
            raise ValueError(f"{tl.ct} channels per tile do not divide {g.m} or tile U's "
                             f"blocks of {self.ub}")
        self.g, self.post, self.lo, self.hi, self.tl = g, post, lo, hi, tl
        L = self.L = tl.lanes
        self.th, self.tw = _cdiv(g.h, 2), _cdiv(g.w, 2)
        self.p = self.th * self.tw                     # tiles per image
        self.pv = _cdiv(self.p, L)                      # vectors of tiles
        self.rowv = _cdiv(self.tw, L)                   # vectors per row of tiles
        self.pp = self.pv * L + L                       # V / Yq row length (row-spill slack)
        self.rh = _cdiv(self.rowv * L + 1, L) * L       # even / odd half-row length
        self.rb = 2 * self.rh                           # padded input row length (>= w + 2)
        # the 16 planes of V and of Mb, each written (V) or read (Mb) together at one offset:
        # strides of an odd number of 64-byte lines keep them in different L1 sets (a multiple
        # of 4 KB put all 16 in one 12-way set: the input transform ran 5x slower)
        self.ve = _odd_lines(g.c * self.pp)
        self.me = _odd_lines(g.m * tl.v * L)
        self.t = Writer()

    # -- stage 1 -----------------------------------------------------------------------------
    def load_row(self, row: str) -> None:
        """Input row `row` (clamped to zeros outside the image) into ring slot row % 4: copied
        into the zero-padded row buffer (vectors: lanes past the row's end are selected to 0;
        a load past the image's end, only possible on its very last row, goes lane by lane),
        then split into even and odd columns. Tiles of consecutive rows share two input rows,
        so each row is loaded once."""
        g, t, L = self.g, self.t, self.L
        nvec, xlen = _cdiv(g.w, L), g.n * g.c * g.h * g.w
        evens, odds = even_odd_lanes(L)
        t(f"slot = ({row} + 4) % 4")
        t(f"if {row} >= 0 and {row} < {g.h}:")
        with t:
            t(f"src = ((nb * {g.c} + ci) * {g.h} + {row}) * {g.w}")
            t(f"if src + {nvec * L} <= {xlen}:")
            with t:
                t(f"for xv in T.serial({nvec}):")
                with t:
                    t(f"for l in T.vectorized({L}):")
                    with t:
                        t(f"rb[slot * {self.rb} + 1 + xv * {L} + l] = T.if_then_else("
                          f"xv * {L} + l < {g.w}, Xf[src + xv * {L} + l], T.float32(0))")
            t("else:")
            with t:
                t(f"for xt in T.serial({g.w}):")
                with t:
                    t(f"rb[slot * {self.rb} + 1 + xt] = Xf[src + xt]")
        t("else:")
        with t:
            t(f"for xv in T.serial({nvec}):")
            with t:
                t(f"for l in T.vectorized({L}):")
                with t:
                    t(f"rb[slot * {self.rb} + 1 + xv * {L} + l] = T.float32(0)")
        t(f"for q in T.serial({self.rh // L}):")
        with t:
            lo = f"rb[T.ramp(slot * {self.rb} + q * {2 * L}, 1, {L})]"
            hi = f"rb[T.ramp(slot * {self.rb} + {L} + q * {2 * L}, 1, {L})]"
            for half, order in (("ev", evens), ("od", odds)):
                t(f"{half}[T.ramp(slot * {self.rh} + q * {L}, 1, {L})] = "
                  f"T.Shuffle([{lo}, {hi}], [{order}])")

    def transform_row(self) -> None:
        """V[4a+b][ci][ty * tw + tile] for the row's tiles: input column 2tx-1+s is ev[tx] /
        od[tx] / ev[tx+1] / od[tx+1] for s = 0..3 (the row buffer starts at column -1)."""
        t, L = self.t, self.L
        t(f"for j in T.serial({self.rowv}):")
        with t:
            t(f"for l in T.vectorized({L}):")
            with t:
                q = f"j * {L} + l"
                # the ring slot of input row 2ty-1+r
                base = [f"(2 * ty + {r + 3}) % 4 * {self.rh}" for r in range(4)]
                d = [[f"ev[{base[r]} + {q}]", f"od[{base[r]} + {q}]",
                      f"ev[{base[r]} + {q} + 1]", f"od[{base[r]} + {q} + 1]"] for r in range(4)]
                z = [[f"({x})" for x in _bt(*(d[r][s] for r in range(4)))] for s in range(4)]
                for a in range(4):   # z[s][a]: B^T over the rows; then over the columns
                    for b, value in enumerate(_bt(*(z[s][a] for s in range(4)))):
                        t(f"V[{4 * a + b} * {self.ve} + ci * {self.pp} + ty * {self.tw} + {q}] = "
                          f"{value}")

    def input_transform(self) -> None:
        g, t = self.g, self.t
        spill_end = (self.th - 1) * self.tw + self.rowv * self.L
        t(f"for ci in T.serial({g.c}):")
        with t:
            if spill_end < self.pv * self.L:   # tile slots no row writes: zero (never denormal)
                t(f"for e, i in T.grid(16, {self.pv * self.L - spill_end}):")
                with t:
                    t(f"V[e * {self.ve} + ci * {self.pp} + {spill_end} + i] = T.float32(0)")
            t("for r0 in T.serial(2):")     # rows -1 and 0; each tile row then adds two
            with t:
                self.load_row("r0 - 1")
            t(f"for ty in T.serial({self.th}):")
            with t:
                t("for r1 in T.serial(2):")
                with t:
                    self.load_row("2 * ty + 1 + r1")
                self.transform_row()

    # -- stage 2 -----------------------------------------------------------------------------
    def tile(self, nv: int, base: str) -> None:
        """The 16 products for `nv` vectors of tiles from `base`, every output channel (a tile's
        V slices stay in L1 across the channel blocks), then A^T M A into Yq."""
        g, t, L, ct, v, ub = self.g, self.t, self.L, self.tl.ct, self.tl.v, self.ub
        t("for e in T.serial(16):")
        with t:
            t(f"for kb in T.serial({g.m // ct}):")
            with t:
                def weight(i: int) -> str:   # ct divides ub: a tile's channels share a block
                    k = f"kb * {ct} + {i}"
                    return (f"Uf[((e * {g.m // ub} + ({k}) // {ub}) * {g.c} + ci) * {ub}"
                            f" + ({k}) % {ub}]")

                emit_products(
                    t, L, g.c, ct, nv,
                    lambda i, jv: (f"{weight(i)} * "
                                   f"V[e * {self.ve} + ci * {self.pp} + {base} + {jv * L} + l]"),
                    lambda i, jv: f"Mb[e * {self.me} + (kb * {ct} + {i}) * {v * L} + {jv * L} + l]")
        t(f"for k, jv in T.grid({g.m}, {nv}):")
        with t:
            t(f"for l in T.vectorized({L}):")
            with t:
                m = [f"Mb[{e * self.me} + k * {v * L} + jv * {L} + l]" for e in range(16)]
                for (i, j), value in output_transform(m).items():
                    t(f"Yq[(k * 4 + {2 * i + j}) * {self.pp} + {base} + jv * {L} + l] = {value}")

    # -- stage 3 -----------------------------------------------------------------------------
    def post_expr(self, value: str, k: str, yidx: str, width: int) -> str:
        def bc(x: str) -> str:
            return f"T.Broadcast({x}, {width})" if width > 1 else x

        out = f"{value} + {bc(f'B[{k}]')}"
        for op in self.post:
            if op == "add":
                res = f"Rf[T.ramp({yidx}, 1, {width})]" if width > 1 else f"Rf[{yidx}]"
                out = f"({out}) + {res}"
            elif op == "relu":
                out = f"T.max({out}, {bc(_f32(0.0))})"
            elif op == "clip":
                out = f"T.min(T.max({out}, {bc(_f32(self.lo))}), {bc(_f32(self.hi))})"
        return out

    def store_rows(self) -> None:
        g, t, L = self.g, self.t, self.L
        half = L // 2
        first = ", ".join(f"{i}, {L + i}" for i in range(half))
        second = ", ".join(f"{half + i}, {L + half + i}" for i in range(half))
        full, rest = divmod(g.w, 2 * L)
        t(f"for k, oy in T.grid({g.m}, {g.h}):")
        with t:
            t(f"row = ((nb * {g.m} + k) * {g.h} + oy) * {g.w}")
            t(f"src = (k * 4 + oy % 2 * 2) * {self.pp} + oy // 2 * {self.tw}")
            if full:
                t(f"for xc in T.serial({full}):")
                with t:
                    lo = f"Yq[T.ramp(src + xc * {L}, 1, {L})]"
                    hi = f"Yq[T.ramp(src + {self.pp} + xc * {L}, 1, {L})]"
                    for part, order in enumerate((first, second)):
                        yidx = f"row + xc * {2 * L} + {part * L}"
                        value = self.post_expr(f"T.Shuffle([{lo}, {hi}], [{order}])", "k", yidx, L)
                        t(f"Yf[T.ramp({yidx}, 1, {L})] = {value}")
            if rest:
                t(f"for xt in T.serial({rest}):")
                with t:
                    t(f"xo = {full * 2 * L} + xt")
                    value = self.post_expr(f"Yq[src + xo % 2 * {self.pp} + xo // 2]", "k",
                                           "row + xo", 1)
                    t(f"Yf[row + xo] = {value}")

    def scratch(self) -> None:
        """Stage 2 and 3's buffers: Mb (the products of one tile), Yq, the accumulators."""
        g, t, L, ct, v = self.g, self.t, self.L, self.tl.ct, self.tl.v
        t(f"Mb = T.alloc_buffer(({16 * self.me},), 'float32')")
        t(f"Yq = T.alloc_buffer(({g.m * 4 * self.pp},), 'float32')")
        for i in range(ct):
            t(f"acc{i} = T.alloc_buffer(({v * L},), 'float32')")

    def products(self) -> None:
        """Stages 2 and 3 for image nb."""
        t, L, v = self.t, self.L, self.tl.v
        blocks, tail = divmod(self.pv, v)
        if blocks:
            t(f"for pb in T.serial({blocks}):")
            with t:
                self.tile(v, f"pb * {v * L}")
        if tail:
            self.tile(tail, str(blocks * v * L))
        self.store_rows()

    def function(self) -> str:
        g, t = self.g, self.t
        xlen, ylen = g.n * g.c * g.h * g.w, g.n * g.m * g.h * g.w
        t("@T.prim_func")
        # R is a parameter only when the epilogue adds it (the kernel drops an unread input)
        image = (g.n, g.m, g.h, g.w)
        residual = f"R: T.Buffer({image!r}, 'float32'), " if "add" in self.post else ""
        t(f"def wino(X: T.Buffer({(g.n, g.c, g.h, g.w)!r}, 'float32'), "
          f"U: T.Buffer({(16, g.m // self.ub, g.c, self.ub)!r}, 'float32'), "
          f"B: T.Buffer(({g.m},), 'float32'), {residual}Y: T.Buffer({image!r}, 'float32')):")
        with t:
            t("T.func_attr({'global_symbol': 'wino', 'tirx.noalias': True})")
            t(f"Xf = T.decl_buffer(({xlen},), 'float32', data=X.data)")
            t(f"Uf = T.decl_buffer(({16 * g.c * g.m},), 'float32', data=U.data)")
            t(f"Yf = T.decl_buffer(({ylen},), 'float32', data=Y.data)")
            if residual:
                t(f"Rf = T.decl_buffer(({ylen},), 'float32', data=R.data)")
            t(f"V = T.alloc_buffer(({16 * self.ve},), 'float32')")
            t(f"rb = T.alloc_buffer(({4 * self.rb},), 'float32')")   # 4-row ring
            t(f"ev = T.alloc_buffer(({4 * self.rh},), 'float32')")
            t(f"od = T.alloc_buffer(({4 * self.rh},), 'float32')")
            self.scratch()
            t(f"for i in T.serial({4 * self.rb}):")   # the padding columns stay zero
            with t:
                t("rb[i] = T.float32(0)")
            t(f"for nb in T.serial({g.n}):")
            with t:
                self.input_transform()
                self.products()
        return "\n".join(t.lines) + "\n"
