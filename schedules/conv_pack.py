"""Packed pixel tiles for sparse 1x1 convs read in place (XNNPACK-style L1 blocking).

A tile is MR = v x lanes pixels of all C input channels, copied into a 64-byte aligned
kernel-local scratch laid out [C][MR], so every output block reads its input vectors from one
contiguous, line-aligned block in L1 instead of from C rows a plane apart (more streams than the
hardware prefetcher follows). The copy is the feed's only read, so numpy's 16-byte aligned feeds
need no 64-byte aligned copy (ScheduleTemplate.rereads).

With `pack` = 2 the scratch is double-buffered and the copy is software-pipelined: while the
output blocks run over tile t, each block also copies its share of the input channels of tile
t + 1 into the other buffer, so the feed's reads overlap the FMAs instead of stalling between
tiles (a copy of all C rows of a tile costs about as much as a third of its FMAs). With `pf`
(LLVM locality, 2 = L2) each block also prefetches its share of the tile after that.
"""
from __future__ import annotations

from typing import Any


def declare(gen: Any, nnz: int) -> None:
    """The scratch and the blocks' input offsets as scratch rows (ci * MR, from ci * plane)."""
    g, w = gen.g, gen.w
    w(f"Xp = T.alloc_buffer(({max(1, gen.tl.pack) * g.c * gen.MR},), 'float32', align=64)")
    if gen.sparse:
        w(f"offp = T.alloc_buffer(({nnz},), 'int32', align=64)")
        with w.block(f"for j in T.serial({nnz}):"):
            w(f"offp[j] = T.truncdiv(off[j], {g.cplane}) * {gen.MR}")


def _copy(gen: Any, ci: str, dst: str, src: str, nv: int, nr: int) -> None:
    """Xp[dst + ...] = input channel ci's pixels src ... (nv vectors and nr lanes; a partial
    vector's other lanes keep stale values, computed on and never stored)."""
    g, w = gen.g, gen.w
    for o, width in gen.segments(nv, nr, compute=False):
        with w.block(f"for l in T.vectorized({width}):"):
            w(f"Xp[{dst} + ({ci}) * {gen.MR} + {o} + l] = Xn[({ci}) * {g.cplane} + {src} + {o} + l]")


def _pack(gen: Any, dst: str, src: str, nv: int, nr: int) -> None:
    with gen.w.block(f"for ci in T.serial({gen.g.c}):"):
        _copy(gen, "ci", dst, src, nv, nr)


def _loop(gen: Any) -> tuple[str, int]:
    """The output-block loop: sparse row blocks (ib), dense channel tiles (cbi)."""
    return ("ib", gen.nb) if gen.sparse else ("cbi", gen.cob)


def _share(gen: Any) -> list[tuple[str, bool]]:
    """An output block's input channels (expression, needs a bound check) for pipelined work."""
    var, nb = _loop(gen)
    c = gen.g.c
    per = -(-c // nb)
    return [(f"{var} * {per} + {k}", per * nb > c) for k in range(per)]


def _prefetch(gen: Any, src: str) -> None:
    """Block ib's share of the lines of pixels src ... src + MR; the run's last element's line
    too (a feed bound in place may start anywhere in a line)."""
    g, w, MR = gen.g, gen.w, gen.MR
    last = g.c * g.cplane - 1
    for ci, _ in _share(gen):
        for o in [*range(0, MR, 16), MR - 1]:
            at = f"T.min(T.min({ci}, {g.c - 1}) * {g.cplane} + {src} + {o}, {last})"
            w(f"T.evaluate(T.call_llvm_intrin('void', 'llvm.prefetch.p0', "
              f"T.address_of(Xn[{at}]), 0, {gen.tl.pf}, 1))")


def _blocks(gen: Any, buf: str, base: str, nv: int, nr: int, pipelined: str | None) -> None:
    """Every output block over the packed tile in buffer `buf`; `pipelined`: a condition under
    which each block also copies (and prefetches) its share of the next tile(s)."""
    g, w, MR = gen.g, gen.w, gen.MR
    var, count = _loop(gen)
    with w.block(f"for {var} in T.serial({count}):"):
        if pipelined is not None:
            with w.block(f"if {pipelined}:"):
                nxt = f"{base} + {MR}"
                for ci, check in _share(gen):
                    if check:
                        with w.block(f"if {ci} < {g.c}:"):
                            _copy(gen, ci, f"(1 - {buf}) * {g.c * MR}", nxt, gen.V, 0)
                    else:
                        _copy(gen, ci, f"(1 - {buf}) * {g.c * MR}", nxt, gen.V, 0)
            if gen.tl.pf:
                _prefetch(gen, f"{base} + {2 * MR}")
        elif gen.tl.pf:
            _prefetch(gen, f"{base} + {MR}")
        gen.xbase = f"{buf} * {g.c * MR}"
        tile = gen.sparse_tile if gen.sparse else gen.dense_tile
        tile(gen.segments(nv, nr), gen.segments(nv, nr, compute=False), [(base, base)])


def sweep(gen: Any) -> None:
    """Whole tiles (each packed before its blocks, or pipelined), then the remaining pixels."""
    g, w, MR = gen.g, gen.w, gen.MR
    full, rem = divmod(g.nq, MR)
    rv, rr = divmod(rem, gen.L)
    if full and gen.tl.pack >= 2:
        _pack(gen, "0", "0", gen.V, 0)
        with w.block(f"for pt in T.serial({full}):"):
            _blocks(gen, "pt % 2", f"pt * {MR}", gen.V, 0, f"pt + 1 < {full}")
        if rem:
            _pack(gen, str(full % 2 * g.c * MR), str(full * MR), rv, rr)
            _blocks(gen, str(full % 2), str(full * MR), rv, rr, None)
        return
    if full:
        with w.block(f"for pt in T.serial({full}):"):
            _pack(gen, "0", f"pt * {MR}", gen.V, 0)
            _blocks(gen, "0", f"pt * {MR}", gen.V, 0, None)
    if rem:
        _pack(gen, "0", str(full * MR), rv, rr)
        _blocks(gen, "0", str(full * MR), rv, rr, None)
