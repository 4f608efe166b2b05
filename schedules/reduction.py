"""CPU template for reductions (Reduce*, Softmax, LayerNorm, RMSNorm) and their epilogues.

Rows: the leading output loops that every reduction keeps (the rows of a softmax, the tokens of
a LayerNorm) are fused into one loop, spread over threads, and every stage of a row is computed
under it, so a row stays in L1 between its statistics passes and its elementwise pass.
Inside a row:
  * a reduction over a contiguous run is split into V lanes with rfactor (V partial
    accumulators in vector registers, one horizontal sum per row); V depends only on the shape, so
    every knob point sums in the same order and gives identical numbers (reduction_lanes.py);
  * a reduction over an outer axis (ReduceSum(axis=0), softmax over a middle axis) keeps k outside
    and the contiguous spatial axis inside, vectorised;
  * elementwise stages are vectorised.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.registry import OpKind
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.common import (
    REDUCE,
    blocks,
    extent,
    inline_spatial,
    is_reduction,
    try_apply,
    writes_param,
)
from onnxjit.schedules.reduction_lanes import (
    Reduction,
    first_reduce_loop,
    own_loops,
    rfactor,
    vectorise_rf,
)

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import LoopRV, SBlockRV, Schedule
    from onnxjit.targets.base import Target


def _lanes(target: Target) -> int:
    return int(getattr(target, "vector_lanes", 8))


def _size(sch: Schedule, block: SBlockRV) -> int:
    total = 1
    for iv in sch.get(block).iter_vars:
        total *= int(iv.dom.extent)
    return total


def _spatial_size(sch: Schedule, block: SBlockRV) -> int:
    total = 1
    for iv in sch.get(block).iter_vars:
        if int(iv.iter_type) != REDUCE:
            total *= int(iv.dom.extent)
    return total


class ReductionTemplate(ScheduleTemplate):
    name = "reduction"
    streams_inputs = True

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.simd_cpu and kernel.kind is OpKind.REDUCTION

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        lanes = _lanes(target)
        grains = (1, 8) if target.threads > 1 else (1,)   # rows per parallel task
        return [{"vec": v, "fuse_rows": f, "unroll": u, "grain": g}
                for v in (2 * lanes, lanes) for f in (True, False) for u in (4, 1)
                for g in grains]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {"vec": 2 * _lanes(target), "fuse_rows": True, "unroll": 4, "grain": 1}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        outs = [b for b in blocks(sch) if writes_param(sch, b)]
        if not outs:
            return
        biggest = max(_size(sch, b) for b in outs)
        # Per-row statistics (mean, 1/std) stay separate blocks computed once per row, instead
        # of being inlined into every element of the output.
        keep = {sch.get(b).name_hint for b in blocks(sch)
                if not is_reduction(sch, b) and _size(sch, b) < biggest}
        inline_spatial(sch, keep=keep)
        outs = [b for b in blocks(sch) if writes_param(sch, b)]
        out = max(outs, key=lambda b: _size(sch, b))
        reductions = [Reduction(sch, b) for b in blocks(sch) if is_reduction(sch, b)]
        depth = self._row_depth(sch, out, reductions)
        lanes = _lanes(target)
        # rfactor first (on the untouched loop nests); the new blocks then move under the row.
        rf_names: list[str] = []
        for red in reductions:
            if red.contiguous:
                rf = rfactor(sch, red.block, red.run, lanes)
                if rf is not None:
                    rf_names.append(sch.get(rf).name_hint)
        row: LoopRV | None = None
        if depth > 0:
            rows = _leading(sch, out, depth)
            loops = sch.get_loops(out)[:depth]
            row = sch.fuse(*loops) if len(loops) > 1 else loops[0]
            if knobs["fuse_rows"]:
                for block in reversed(blocks(sch)):
                    if block != out and _leading(sch, block, depth) == rows:
                        try_apply(lambda b=block: sch.compute_at(b, row))
        vec = int(knobs["vec"])
        for name in rf_names:      # first: they may pull producers into their loops
            rf = sch.get_sblock(name)
            own = own_loops(sch, rf, row)
            if own:
                vectorise_rf(sch, rf, own, int(knobs["unroll"]),
                              row if knobs["fuse_rows"] else None)
        done = set(rf_names)
        for block in blocks(sch):
            own = own_loops(sch, block, row)
            if not own or sch.get(block).name_hint in done:
                continue
            if is_reduction(sch, block):
                _column(sch, block, own, vec)
            elif not _vectorised(sch, own[-1]):
                _vectorise_inner(sch, own[-1], vec)
        if row is not None and target.threads > 1 and extent(sch, row) >= 2:
            grain = int(knobs["grain"])
            if extent(sch, row) >= 2 * grain * target.threads and grain > 1:
                outer, _ = sch.split(row, [None, grain])
                try_apply(lambda: sch.parallel(outer))
            else:
                try_apply(lambda: sch.parallel(row))
        for block in blocks(sch):
            if is_reduction(sch, block):
                _decompose(sch, block)

    @staticmethod
    def _row_depth(sch: Schedule, out: SBlockRV, reductions: list[Reduction]) -> int:
        """Leading output loops shared, extent by extent, with every reduction's row loops."""
        out_extents = [extent(sch, lp) for lp in sch.get_loops(out)]
        depth = len(out_extents)
        for red in reductions:
            rows = [int(iv.dom.extent) for iv in red.spatial[:red.row_depth]]
            match = 0
            while match < min(len(rows), depth) and rows[match] == out_extents[match]:
                match += 1
            depth = min(depth, match)
        # A spatial output with no reduction at all: its outer loop is the row.
        return depth if reductions else min(1, depth)


def _leading(sch: Schedule, block: SBlockRV, depth: int) -> list[int]:
    return [extent(sch, lp) for lp in sch.get_loops(block)[:depth]]


def _vectorised(sch: Schedule, loop: LoopRV) -> bool:
    return int(sch.get(loop).kind) == 2    # ForKind.VECTORIZED


def _column(sch: Schedule, block: SBlockRV, own: list[LoopRV], vec: int) -> None:
    """A reduction over an outer axis: k loops outside the innermost spatial loop, vectorised."""
    n_reduce = sum(1 for iv in sch.get(block).iter_vars if int(iv.iter_type) == REDUCE)
    if n_reduce == 0 or len(own) <= n_reduce:
        return
    spatial_inner = own[len(own) - n_reduce - 1]
    red = own[len(own) - n_reduce:]
    n = extent(sch, spatial_inner)
    width = next((w for w in (vec, vec // 2) if w >= 2 and n % w == 0), 0)
    if width and try_apply(lambda: sch.reorder(*red, spatial_inner)):
        _, lanes = sch.split(spatial_inner, [None, width])
        try_apply(lambda: sch.vectorize(lanes))


def _vectorise_inner(sch: Schedule, inner: LoopRV, vec: int) -> None:
    n = extent(sch, inner)
    for width in (vec, vec // 2):
        if width >= 2 and n % width == 0:
            _, lanes = sch.split(inner, [None, width])
            try_apply(lambda lp=lanes: sch.vectorize(lp))
            return


def _decompose(sch: Schedule, block: SBlockRV) -> None:
    """Moves the init of a reduction out of its k loop (so the update loop has no branch)."""
    loop = first_reduce_loop(sch, block)
    if loop is not None:
        try_apply(lambda: sch.decompose_reduction(block, loop))
