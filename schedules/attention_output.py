"""The output stage of the flash attention kernel (attention_kernel.py): the final normalised
store, and for split-KV tasks the partial results and their merge."""
from __future__ import annotations

from typing import Any

from onnxjit.schedules.tvmscript_text import Writer

MASKV = -1e30          # masked score (finite: exp2 of masked - max stays 0, never NaN)
LIVE = -1e29           # a row whose running max stays below this saw no unmasked key


def index_expr(layout: str, hd: int, b: str, h: str, s: str, d: str) -> str:
    return f"{b}, {h}, {s}, {d}" if layout == "bhsd" else f"{b}, {s}, ({h}) * {hd} + {d}"


class OutputStage:
    """Mixin of the generator: needs s (spec), c (config), w (Writer), roles and the row helpers."""

    s: Any
    c: Any
    w: Writer
    roles: dict[str, str]
    BQ: int
    R: int
    NRB: int
    split: int
    ragged: bool
    r0: str
    b: str

    def head(self, q: str) -> str:
        raise NotImplementedError

    def pos(self, q: str) -> str:
        raise NotImplementedError

    def _out(self, q: str, d: str) -> str:
        s = self.s
        return f"{self.roles['out']}[{index_expr(s.o_layout, s.dv, self.b, self.head(q), self.pos(q), d)}]"

    def _row_guard(self) -> None:
        if self.ragged:
            self.w(f"if {self.r0} + q < {self.R}:")
            self.w.depth += 1

    def store_final(self) -> None:
        w, s = self.w, self.s
        w(f"for q in T.serial({self.BQ}):")
        with w.indent():
            depth = w.depth
            self._row_guard()
            w(f"for d in T.vectorized({s.dv}):")
            with w.indent():
                w(f"{self._out('q', 'd')} = T.if_then_else(m[q] > T.float32({LIVE!r}), "
                  "Ot[q, d] / l[q], T.float32(0))")
            w.depth = depth

    def store_partial(self) -> None:
        w, s = self.w, self.s
        w(f"for q in T.serial({self.BQ}):")
        with w.indent():
            w("WM[t, q] = m[q]")
            w("WL[t, q] = l[q]")
            w(f"for d in T.vectorized({s.dv}):")
            with w.indent():
                w("WO[t, q, d] = Ot[q, d]")

    def merge(self) -> None:
        """Combines the KV splits of each row block: rescale to the common max, sum, divide."""
        w, s, S = self.w, self.s, self.split
        ngroups = s.batch * s.kv_heads * self.NRB
        loop = "parallel" if self.c.parallel and ngroups > 1 else "serial"
        w(f"for u in T.{loop}({ngroups}):")
        with w.indent():
            w(f"acc = T.alloc_buffer(({s.dv},), 'float32')")
            w(f"for q in T.serial({self.BQ}):")
            with w.indent():
                tq = f"u * {S}"
                w("mm = T.alloc_buffer((1,), 'float32')")
                w("ll = T.alloc_buffer((1,), 'float32')")
                w(f"mm[0] = WM[{tq}, q]")
                w(f"for p in T.serial(1, {S}):")
                with w.indent():
                    w(f"mm[0] = T.max(mm[0], WM[{tq} + p, q])")
                w("ll[0] = T.float32(0)")
                w(f"for d in T.vectorized({s.dv}):")
                with w.indent():
                    w("acc[d] = T.float32(0)")
                w(f"for p in T.serial({S}):")
                with w.indent():
                    w(f"ll[0] = ll[0] + WL[{tq} + p, q] * exp2(WM[{tq} + p, q] - mm[0])")
                    w(f"for d in T.vectorized({s.dv}):")
                    with w.indent():
                        w(f"acc[d] = acc[d] + WO[{tq} + p, q, d] * exp2(WM[{tq} + p, q] - mm[0])")
                # the output indexing uses t-based row/head helpers: rebind them to this group
                t_expr = f"(u * {S})"
                out = self._out("q", "d").replace("(t ", f"({t_expr} ")
                guard = f"{self.r0} + q < {self.R}".replace("(t ", f"({t_expr} ")
                if self.ragged:
                    w(f"if {guard}:")
                    w.depth += 1
                w(f"for d in T.vectorized({s.dv}):")
                with w.indent():
                    w(f"{out} = T.if_then_else(mm[0] > T.float32({LIVE!r}), "
                      "acc[d] / ll[0], T.float32(0))")
                if self.ragged:
                    w.depth -= 1
