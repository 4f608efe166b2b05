"""CPU template for matmul kernels (MatMul, Gemm, their packed forms) with fused epilogues.

The lowering (compiler/ops/matmul.py) gives a contraction on a padded domain over panel-packed B,
so tiles divide the loops exactly. Loop nest, outer to inner:
    batch x row block (parallel), column tile, row tile, k (unrolled by kt),
    tile rows (unrolled), tile columns (vectorised)
The row block (mb row tiles, ~96 rows) keeps a block of A in L2 while every column panel of B
passes; each B panel (K x 16, contiguous) serves all row tiles of the block. The mi x nj
accumulator tile is a small default-scope buffer, which LLVM keeps in registers (sized so that
accumulators + B vectors + one A broadcast fit 16 ymm / 32 zmm registers). The epilogue (bias,
Gelu, ...) runs, unrolled, on each finished tile while it is in registers. Optional K blocks (knob
kc) keep a row block's partial sums in memory between blocks and run the epilogue per row block.
Every knob point sums k in the same order, so all points give bit-identical results.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops.matmul import ACC_SUFFIX, PACK_SUFFIX, PANEL
from onnxjit.compiler.registry import OpKind
from onnxjit.compiler.tvm_api import Schedule
from onnxjit.schedules.base import Knobs, ScheduleTemplate, inputs_by_param
from onnxjit.schedules.common import blocks, extent, inline_spatial, is_reduction, try_apply

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import LoopRV, SBlockRV
    from onnxjit.targets.base import Target

ROW_BLOCKS = (48, 96, 192)     # target rows of A per L2 block
K_UNROLL = (4,)           # LLVM keeps 4-step unrolled tiles tight; 1 was ~5% slower
# K blocks (0: the whole K per register tile). On the znver3 box hardware prefetch kept full-K
# tiles at least as fast up to K = 16384 (71 vs 58 GF/s at K = 4096), so blocking is for tuning.
K_BLOCKS = (0, 512)


def _lanes(target: Target, bits: int = 32) -> int:
    """Elements of `bits` bits per vector register (the target reports float32 lanes)."""
    return max(1, int(getattr(target, "vector_lanes", 8)) * 32 // bits)


def _registers(target: Target) -> int:
    """Vector registers a register tile may fill: the target's own figure where it gives one
    (wasm engines keep registers for themselves: 14), else 16 (AVX2) or 32 (AVX-512)."""
    default = 32 if _lanes(target) >= 16 else 16
    return int(getattr(target, "vector_registers", default))


def _k_unrolls(target: Target) -> tuple[int, ...]:
    """k steps per loop body, the default first: the target's own (`matmul_k_unroll`: wasm
    engines compile the loads LLVM hoists across unrolled steps as they are written) or 4."""
    return tuple(int(kt) for kt in getattr(target, "matmul_k_unroll", K_UNROLL))


def _largest_divisor(n: int, cap: int) -> int:
    return max(d for d in range(1, max(1, min(n, cap)) + 1) if n % d == 0)


def _row_block(tiles: int, target: int) -> int:
    """Row tiles per block: the smallest divisor of `tiles` reaching `target`. Rounding up, not
    down: a prime tile count must not give one-tile blocks (B would be re-read per tile)."""
    return min(d for d in range(1, tiles + 1) if tiles % d == 0 and (d >= target or d == tiles))


class _Shape:
    """What the template needs to know of a matmul kernel: loop extents and its blocks."""

    def __init__(self, sch: Schedule) -> None:
        reductions = [b for b in blocks(sch) if is_reduction(sch, b)]
        accs = [b for b in reductions if sch.get(b).name_hint.endswith(ACC_SUFFIX)]
        if len(reductions) != 1 or len(accs) != 1:
            raise KnobError(f"matmul template expects one contraction block, found "
                            f"{[sch.get(b).name_hint for b in reductions]}")
        self.acc = accs[0]
        loops = sch.get_loops(self.acc)
        if len(loops) < 3:
            raise KnobError("matmul template expects (..., m, n, k) loops")
        self.m, self.n, self.k = (extent(sch, lp) for lp in loops[-3:])
        if not self.m * self.n * self.k:
            raise KnobError("empty matmul: the fallback template writes its zeros")
        self.bits = int(sch.get(self.acc).writes[0].source.dtype.bits)
        self.pack = [b for b in blocks(sch) if sch.get(b).name_hint.endswith(PACK_SUFFIX)]


def _analyse(kernel: Kernel) -> _Shape:
    return _Shape(Schedule(kernel.func))


class MatmulTemplate(ScheduleTemplate):
    name = "matmul"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        if not target.simd_cpu or kernel.kind is not OpKind.MATMUL:
            return False
        try:
            _analyse(kernel)
        except KnobError:
            return False
        return True

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        """Tile shapes x row blocks x k unroll (x packing a run-time B); points that tile this
        kernel identically are dropped, so small kernels get small spaces."""
        shape = _analyse(kernel)
        default = self.default(kernel, target)
        packs = (True, False) if shape.pack else (True,)
        tiles = self._tile_shapes(shape, target)[:10 // len(packs)]
        points: list[Knobs] = [default]
        seen = {self._effective(shape, default)}
        for pack in packs:
            for mi, nt, half in tiles:
                for rows in ROW_BLOCKS:
                    for kt in _k_unrolls(target):
                        for kc in K_BLOCKS:
                            knobs = {"mi": mi, "nt": nt, "rows": rows, "kt": kt, "kc": kc,
                                     "pack_b": pack, **({"half": True} if half else {})}
                            key = self._effective(shape, knobs)
                            if key not in seen:
                                seen.add(key)
                                points.append(knobs)
        return points[:64]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        shape = _analyse(kernel)
        mi, nt, half = self._tile_shapes(shape, target)[0]
        # Packing a run-time B pays once a few row tiles reuse it.
        return {"mi": mi, "nt": nt, "rows": 96, "kt": _k_unrolls(target)[0], "kc": 0,
                "pack_b": shape.m >= 4 * mi,
                **({"half": True} if half else {})}

    def rereads(self, kernel: Kernel, knobs: Knobs) -> frozenset[str]:
        """Every input but A: register tiles read A as broadcast scalars, which never straddle
        cache lines, so a 16-byte aligned A goes in place (1024x512x48: its 2 MB copy was a
        quarter of the time); B (or its packing) and epilogue operands are loaded as vectors."""
        sch = Schedule(kernel.func)
        a = str(sch.get(_Shape(sch).acc).reads[0].source.name)
        return frozenset(v for p, v in inputs_by_param(kernel).items() if p != a)

    def estimate(self, kernel: Kernel, knobs: Knobs, target: Target) -> float:
        """Tuning order: the default's tile shape and row block first, K blocks last."""
        shape = _analyse(kernel)
        tiles = self._tile_shapes(shape, target)
        tile = (int(knobs["mi"]), int(knobs["nt"]), bool(knobs.get("half", False)))
        rank = tiles.index(tile) if tile in tiles else len(tiles)
        rows = abs(int(knobs["rows"]) - 96) / 96
        return 1.0 + rank + 0.5 * rows + (2.0 if knobs.get("kc") else 0.0) \
            + (0.25 if knobs.get("pack_b", True) != (shape.m >= 4 * int(knobs["mi"])) else 0.0)

    @staticmethod
    def _tile_shapes(shape: _Shape, target: Target) -> list[tuple[int, int, bool]]:
        """(rows, 16-column panels, half a panel) register tiles that divide the kernel, best first.

        A tile needs mi * v accumulators, v vectors of B and one broadcast of A (v = vectors per
        tile row); over the register file LLVM spills the accumulators (3x slower). Order: most
        accumulators (latency hiding, loads per FMA), then taller tiles. Any panel count dividing
        the panels may be a tile's width (the register budget bounds it): with 32 registers a
        5-panel N = 80 takes 4x5 (20 accumulators; 1.2x faster than 8x1 on AVX-512). Where a panel
        is 4 or more vectors (128-bit SIMD: wasm), tiles may also be half a panel wide.
        """
        lanes = _lanes(target, shape.bits)
        registers = _registers(target)
        panels = shape.n // PANEL if shape.n % PANEL == 0 else 0
        heights = [d for d in range(min(shape.m, 8), 0, -1) if shape.m % d == 0]
        widest = max(1, (registers - 1) // (2 * max(1, PANEL // lanes)))   # one row + B vectors
        widths = [(nt, False) for nt in (range(1, widest + 1) if panels else (1,))]
        half = bool(panels and PANEL // lanes >= 4)
        if half:
            widths.append((1, True))
        shapes = []
        for mi in heights:
            for nt, h in widths:
                cols = PANEL // 2 if h else nt * PANEL if panels else shape.n
                v = -(-cols // lanes)
                # Tiles wider than 4 panels only at 4+ rows: B streams from L2 once per row
                # tile, and a 2x10 tile (1 FMA per B load) ran 1.4x slower than 6x2 at K = 1024.
                wide_ok = nt <= 4 or mi >= 4
                if (not panels or panels % nt == 0) and wide_ok and v * (mi + 1) + 1 <= registers:
                    shapes.append((mi, nt, h, mi * v))
        shapes.sort(key=lambda t: (-t[3], -t[0]))
        # (No tile fits a tiny register budget, e.g. scalar wasm: the narrowest one still works.)
        return [(mi, nt, h) for mi, nt, h, _ in shapes] or [(1, 1, half)]

    @staticmethod
    def _effective(shape: _Shape, knobs: Knobs) -> tuple[int, ...]:
        """What a knob point does to this kernel: (tile rows (0 if it does not divide), tile
        columns, row-block tiles, k unroll, K block (0: none), packs B)."""
        mi = int(knobs["mi"]) if shape.m % int(knobs["mi"]) == 0 else 0
        nt = int(knobs["nt"])
        if shape.n < PANEL:
            nj = shape.n
        elif knobs.get("half") and shape.n % PANEL == 0:
            nj = PANEL // 2
        else:
            nj = _largest_divisor(shape.n // PANEL, nt) * PANEL if shape.n % PANEL == 0 else PANEL
        mb = _row_block(shape.m // mi, max(1, int(knobs["rows"]) // mi)) if mi else 0
        kt = _largest_divisor(shape.k, int(knobs["kt"]))
        kc = int(knobs.get("kc", 0))
        kc = _largest_divisor(shape.k // kt, kc // kt) * kt if kc else 0
        if kc * 2 > shape.k:
            kc = 0
        return mi, nj, mb, kt, kc, int(bool(knobs.get("pack_b", True)) and bool(shape.pack))

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        shape = _Shape(sch)
        lanes = _lanes(target, shape.bits)
        pack_b = bool(knobs.get("pack_b", True))
        for pack in shape.pack:
            if not pack_b:
                sch.compute_inline(pack)
        keep = {sch.get(p).name_hint for p in shape.pack if pack_b}
        inline_spatial(sch, keep=keep)
        acc = sch.get_sblock(sch.get(shape.acc).name_hint)
        *batch, i, j, k = sch.get_loops(acc)
        mi, nj, mb, kt, kc, _ = self._effective(shape, knobs)
        if not mi:
            raise KnobError(f"tile height {knobs['mi']} does not divide the {shape.m} rows")
        io, ii = sch.split(i, [None, mi])
        io_o, io_i = sch.split(io, [None, mb])
        jo, ji = sch.split(j, [None, nj])
        if kc:
            # K blocks: the row block's accumulators live in memory (L2) between blocks; LLVM
            # still keeps each tile in registers within a block. Epilogue after the last block.
            kb, kr = sch.split(k, [None, kc])
            ko, ki = sch.split(kr, [None, kt])
            sch.reorder(*batch, io_o, kb, jo, io_i, ko, ki, ii, ji)
            anchor, depth = io_o, len(batch) + 1
        else:
            ko, ki = sch.split(k, [None, kt])
            sch.reorder(*batch, io_o, jo, io_i, ko, ki, ii, ji)
            anchor, depth = io_i, len(batch) + 3
        epilogues: list[tuple[SBlockRV, int]] = []   # (block, loops of its own under anchor)
        for consumer in sch.get_consumers(acc):
            if try_apply(lambda c=consumer, a=anchor: sch.reverse_compute_at(c, a)):
                epilogues.append((consumer, len(sch.get_loops(consumer)) - depth))
        if nj % lanes == 0:
            vo, vi = sch.split(ji, [None, lanes])
            sch.unroll(vo)
            sch.vectorize(vi)
        sch.unroll(ii)
        sch.unroll(ki)
        self._parallel(sch, [*batch, io_o], None if kc else jo, jo, target.threads)
        sch.decompose_reduction(acc, kb if kc else ko)
        for block, n_own in epilogues:
            _epilogue(sch, block, n_own, lanes, unroll=not kc)
        for name in keep:
            _schedule_pack(sch, sch.get_sblock(name), lanes, target.threads)

    @staticmethod
    def _parallel(sch: Schedule, outer: list[LoopRV], fusable: LoopRV | None, inner: LoopRV,
                  threads: int) -> None:
        """Spreads batch x row block x column tile over threads. Each thread gets a contiguous
        run of (row block, column tile) pairs, so A blocks are reused as without threads, and a
        few row blocks still balance (9 blocks on 2 threads would idle one thread 11%). With K
        blocks in between, the column tiles are spread only when row blocks are too few."""
        if threads <= 1:
            return
        count = 1
        for loop in outer:
            count *= extent(sch, loop)
        if fusable is not None:
            outer = [*outer, fusable]
        elif count < threads:
            try_apply(lambda: sch.parallel(inner))
            return
        fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
        try_apply(lambda: sch.parallel(fused))


def _vectorize_inner(sch: Schedule, block: SBlockRV, lanes: int) -> LoopRV | None:
    """Vectorises the block's innermost loop by `lanes`; returns the loop of whole vectors."""
    loops = sch.get_loops(block)
    if not loops or extent(sch, loops[-1]) % lanes:
        return None
    outer, vec = sch.split(loops[-1], [None, lanes])
    try_apply(lambda: sch.vectorize(vec))
    return outer


def _epilogue(sch: Schedule, block: SBlockRV, n_own: int, lanes: int, unroll: bool) -> None:
    """The epilogue on a finished tile: fully unrolled, so the tile is read from registers
    (on a finished row block, with K blocks: vectorised only)."""
    own = list(sch.get_loops(block))[-n_own:] if n_own > 0 else []
    vec_outer = _vectorize_inner(sch, block, lanes) if own else None
    if not unroll:
        return
    for loop in [*own[:-1], *([vec_outer] if vec_outer is not None else [])]:
        try_apply(lambda lp=loop: sch.unroll(lp))


def _schedule_pack(sch: Schedule, block: SBlockRV, lanes: int, threads: int) -> None:
    """B -> panels: 16 contiguous columns per k (vectorised), panels spread over threads."""
    loops: list[LoopRV] = list(sch.get_loops(block))
    _vectorize_inner(sch, block, lanes)
    if threads > 1 and len(loops) >= 3:
        outer = sch.fuse(*loops[:-2])
        try_apply(lambda: sch.parallel(outer))
