"""CPU template for reductions (Reduce*, Softmax, LayerNorm, RMSNorm) and their epilogues.

Rows: the leading output loops that every reduction keeps (the rows of a softmax, the tokens of
a LayerNorm) are fused into one loop, spread over threads, and every stage of a row is computed
under it, so a row stays in L1 between its statistics passes and its elementwise pass.
Inside a row:
  * a reduction over the contiguous innermost axis is split into V lanes with rfactor (V partial
    accumulators in vector registers, one horizontal sum per row); V depends only on the shape, so
    every knob point sums in the same order and gives identical numbers;
  * a reduction over an outer axis (ReduceSum(axis=0), softmax over a middle axis) keeps k outside
    and the contiguous spatial axis inside, vectorised;
  * elementwise stages are vectorised.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.registry import OpKind
from onnxjit.compiler.tvm_api import expr_vars
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


class _Reduction:
    """How one reduction block reads its input: which loops are rows, whether k is contiguous."""

    def __init__(self, sch: Schedule, block: SBlockRV) -> None:
        self.block = block
        stmt = sch.get(block)
        ivs = list(stmt.iter_vars)
        self.spatial = [iv for iv in ivs if int(iv.iter_type) != REDUCE]
        reduce_vars = [iv.var for iv in ivs if int(iv.iter_type) == REDUCE]
        inner_k = reduce_vars[-1] if reduce_vars else None
        main = None
        for region in stmt.reads:
            if any(_uses(r.min, v) for r in region.region for v in reduce_vars):
                main = region
                break
        # contiguous: the innermost reduced variable indexes the input's last axis.
        dims = list(main.region) if main is not None else []
        self.contiguous = bool(dims) and inner_k is not None and _uses(dims[-1].min, inner_k)
        self.run = _contiguous_run(main, [iv for iv in ivs if int(iv.iter_type) == REDUCE]) \
            if self.contiguous else 0
        k_dim = max((d for d, r in enumerate(dims) if any(_uses(r.min, v) for v in reduce_vars)),
                    default=len(dims))
        # Row loops: leading spatial loops that index input axes outside the reduced ones
        # (unit loops count as rows: they index nothing).
        self.row_depth = 0
        for iv in self.spatial:
            axes = [d for d, r in enumerate(dims) if _uses(r.min, iv.var)]
            if int(iv.dom.extent) != 1 and (not axes or max(axes) > k_dim):
                break
            self.row_depth += 1


def _contiguous_run(region: Any, reduce_ivs: list[Any]) -> int:
    """Elements of the reduction contiguous in the input: the product of the trailing reduce
    extents that index the input's trailing axes in order, each inner one covering its whole
    axis (a GroupNorm's channels-of-a-group x H x W, a GlobalAveragePool's H x W)."""
    run = 1
    shape = [int(d) for d in region.source.shape]
    dims = list(region.region)
    for depth, iv in enumerate(reversed(reduce_ivs), start=1):
        if depth > len(dims) or not _uses(dims[-depth].min, iv.var):
            break
        run *= int(iv.dom.extent)
        if int(iv.dom.extent) != shape[-depth]:
            break   # this axis is covered in part: the run stops after it
    return run


def _uses(expr: Any, var: Any) -> bool:
    return any(v.same_as(var) for v in expr_vars(expr))


def _row_lanes(k: int, lanes: int) -> int:
    """Partial accumulators of a contiguous reduction of extent k (0: none, sequential)."""
    # Each row ends with a scalar sum of its V partials: wide V only for long rows (>= 8 V).
    # Down to 4 lanes: a 14x14 mean (196 = 49 x 4) still sums 4 at a time.
    for v in (4 * lanes, 2 * lanes):
        if k % v == 0 and k >= 8 * v:
            return v
    for v in (lanes, lanes // 2, lanes // 4):
        if v >= 4 and k % v == 0 and k >= 2 * v:
            return v
    return 0


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
        reductions = [_Reduction(sch, b) for b in blocks(sch) if is_reduction(sch, b)]
        depth = self._row_depth(sch, out, reductions)
        lanes = _lanes(target)
        # rfactor first (on the untouched loop nests); the new blocks then move under the row.
        rf_names: list[str] = []
        for red in reductions:
            if red.contiguous:
                rf = _rfactor(sch, red.block, red.run, lanes)
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
            own = _own_loops(sch, rf, row)
            if own:
                _vectorise_rf(sch, rf, own, int(knobs["unroll"]),
                              row if knobs["fuse_rows"] else None)
        done = set(rf_names)
        for block in blocks(sch):
            own = _own_loops(sch, block, row)
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
    def _row_depth(sch: Schedule, out: SBlockRV, reductions: list[_Reduction]) -> int:
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


def _own_loops(sch: Schedule, block: SBlockRV, row: LoopRV | None) -> list[LoopRV]:
    """The block's loops below the shared row loop (all of them if it is not under it)."""
    loops = list(sch.get_loops(block))
    if row is not None and loops and sch.get(loops[0]).same_as(sch.get(row)):
        return loops[1:]
    return loops


def _leading(sch: Schedule, block: SBlockRV, depth: int) -> list[int]:
    return [extent(sch, lp) for lp in sch.get_loops(block)[:depth]]


def _rfactor(sch: Schedule, block: SBlockRV, run: int, lanes: int) -> SBlockRV | None:
    """Splits the contiguous reduction into V lanes of partial results; None if it does not fit.
    V divides the contiguous run (all reduce loops are fused first), so each lane group is one
    vector load: a 28x28 GlobalAveragePool sums 784 elements as 49 vectors, not 28 rows of 28."""
    stmt = sch.get(block)
    n_reduce = sum(1 for iv in stmt.iter_vars if int(iv.iter_type) == REDUCE)
    loops = sch.get_loops(block)
    red_loops = list(loops[len(loops) - n_reduce:])
    v = _row_lanes(max(run, extent(sch, red_loops[-1])), lanes)
    if not v:
        return None
    fused = sch.fuse(*red_loops) if len(red_loops) > 1 else red_loops[0]
    _, lanes_loop = sch.split(fused, [None, v])
    rf: SBlockRV | None = None

    def factor() -> None:
        nonlocal rf
        rf = sch.rfactor(lanes_loop, factor_axis=len(stmt.iter_vars) - n_reduce)

    return rf if try_apply(factor) else None


def _vectorise_rf(sch: Schedule, block: SBlockRV, own: list[LoopRV], unroll: int,
                  row: LoopRV | None) -> None:
    """rf block: k outer (optionally unrolled), the V partial-sum lanes inner and vectorised.

    A producer computed under the same row (softmax's exp) moves into the k loop: it is then
    computed V elements at a time in the same pass that accumulates them.
    """
    k_loop = _first_reduce_loop(sch, block)
    lanes = [lp for lp in own if k_loop is None or not sch.get(lp).same_as(sch.get(k_loop))]
    if not lanes:
        return
    lane_loop = _rf_lane_loop(sch, block, own) or lanes[-1]
    if k_loop is not None:
        # spatial loops outside the row (a GroupNorm's groups) stay outermost: k, then the lanes
        others = [lp for lp in lanes if not sch.get(lp).same_as(sch.get(lane_loop))]
        try_apply(lambda: sch.reorder(*others, k_loop, lane_loop))
        for producer in sch.get_producers(block):
            if row is not None and not is_reduction(sch, producer):
                _fuse_into_producer(sch, block, producer, row, extent(sch, lane_loop))
                k_loop = _first_reduce_loop(sch, block)
                lane_loop = sch.get_loops(block)[-1]
        if unroll > 1 and extent(sch, k_loop) % unroll == 0 and extent(sch, k_loop) > unroll:
            _, ku = sch.split(k_loop, [None, unroll])
            try_apply(lambda: sch.unroll(ku))
    try_apply(lambda: sch.vectorize(lane_loop))


def _rf_lane_loop(sch: Schedule, block: SBlockRV, own: list[LoopRV]) -> LoopRV | None:
    """The loop over an rfactor block's partial-result lanes: the one binding the iterator that
    indexes the last axis of the buffer it writes."""
    stmt = sch.get(block)
    if not stmt.writes or not own:
        return None
    lane_vars = expr_vars(stmt.writes[0].region[-1].min)
    realize = sch.get(own[-1]).body
    if not hasattr(realize, "iter_values"):
        return None
    bound: list[Any] = []
    for iv, value in zip(realize.block.iter_vars, realize.iter_values):
        if any(iv.var.same_as(v) for v in lane_vars):
            bound += expr_vars(value)
    for loop in own:
        if any(sch.get(loop).loop_var.same_as(b) for b in bound):
            return loop
    return None


def _fuse_into_producer(sch: Schedule, rf: SBlockRV, producer: SBlockRV, row: LoopRV,
                        v: int) -> None:
    """Moves the rf block into its producer's loop (V elements per step): one pass over the
    row computes the elements (softmax's exp) and accumulates them."""
    own = _own_loops(sch, producer, row)
    if len(own) != 1 or extent(sch, own[0]) % v:
        return
    outer, inner = sch.split(own[0], [None, v])
    if try_apply(lambda: sch.reverse_compute_at(rf, outer)):
        try_apply(lambda: sch.vectorize(inner))


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
    loop = _first_reduce_loop(sch, block)
    if loop is not None:
        try_apply(lambda: sch.decompose_reduction(block, loop))


def _first_reduce_loop(sch: Schedule, block: SBlockRV) -> LoopRV | None:
    """The outermost loop bound to one of the block's reduce iterators."""
    loops = sch.get_loops(block)
    if not loops:
        return None
    realize = sch.get(loops[-1]).body
    if not hasattr(realize, "iter_values"):
        return None
    used: list[Any] = []
    for iv, value in zip(realize.block.iter_vars, realize.iter_values):
        if int(iv.iter_type) == REDUCE:
            used += expr_vars(value)
    for loop in loops:
        var = sch.get(loop).loop_var
        if any(var.same_as(u) for u in used):
            return loop
    return None
