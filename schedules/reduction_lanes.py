"""Row reductions in vector lanes, for the reduction template (schedules/reduction.py).

A reduction over a contiguous run of its input (the innermost axis, or trailing axes that cover
whole rows: a GlobalAveragePool's H x W, a GroupNorm's channels x H x W) is split with rfactor into
V partial sums kept in vector lanes; V depends only on the shape, so every knob point sums in the
same order. Also the loop helpers the template shares with it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.tvm_api import expr_vars
from onnxjit.schedules.common import REDUCE, extent, is_reduction, try_apply

if TYPE_CHECKING:
    from onnxjit.compiler.tvm_api import LoopRV, SBlockRV, Schedule


class Reduction:
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
            if any(uses(r.min, v) for r in region.region for v in reduce_vars):
                main = region
                break
        # contiguous: the innermost reduced variable indexes the input's last axis.
        dims = list(main.region) if main is not None else []
        self.contiguous = bool(dims) and inner_k is not None and uses(dims[-1].min, inner_k)
        self.run = contiguous_run(main, [iv for iv in ivs if int(iv.iter_type) == REDUCE]) \
            if self.contiguous else 0
        k_dim = max((d for d, r in enumerate(dims) if any(uses(r.min, v) for v in reduce_vars)),
                    default=len(dims))
        # Row loops: leading spatial loops that index input axes outside the reduced ones
        # (unit loops count as rows: they index nothing).
        self.row_depth = 0
        for iv in self.spatial:
            axes = [d for d, r in enumerate(dims) if uses(r.min, iv.var)]
            if int(iv.dom.extent) != 1 and (not axes or max(axes) > k_dim):
                break
            self.row_depth += 1


def contiguous_run(region: Any, reduce_ivs: list[Any]) -> int:
    """Elements of the reduction contiguous in the input: the product of the trailing reduce
    extents that index the input's trailing axes in order, each inner one covering its whole
    axis (a GroupNorm's channels-of-a-group x H x W, a GlobalAveragePool's H x W)."""
    run = 1
    shape = [int(d) for d in region.source.shape]
    dims = list(region.region)
    for depth, iv in enumerate(reversed(reduce_ivs), start=1):
        if depth > len(dims) or not uses(dims[-depth].min, iv.var):
            break
        run *= int(iv.dom.extent)
        if int(iv.dom.extent) != shape[-depth]:
            break   # this axis is covered in part: the run stops after it
    return run


def uses(expr: Any, var: Any) -> bool:
    return any(v.same_as(var) for v in expr_vars(expr))


def row_lanes(k: int, lanes: int) -> int:
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


def own_loops(sch: Schedule, block: SBlockRV, row: LoopRV | None) -> list[LoopRV]:
    """The block's loops below the shared row loop (all of them if it is not under it)."""
    loops = list(sch.get_loops(block))
    if row is not None and loops and sch.get(loops[0]).same_as(sch.get(row)):
        return loops[1:]
    return loops


def rfactor(sch: Schedule, block: SBlockRV, run: int, lanes: int) -> SBlockRV | None:
    """Splits the contiguous reduction into V lanes of partial results; None if it does not fit.
    V divides the contiguous run (all reduce loops are fused first), so each lane group is one
    vector load: a 28x28 GlobalAveragePool sums 784 elements as 49 vectors, not 28 rows of 28."""
    stmt = sch.get(block)
    n_reduce = sum(1 for iv in stmt.iter_vars if int(iv.iter_type) == REDUCE)
    loops = sch.get_loops(block)
    red_loops = list(loops[len(loops) - n_reduce:])
    v = row_lanes(max(run, extent(sch, red_loops[-1])), lanes)
    if not v:
        return None
    fused = sch.fuse(*red_loops) if len(red_loops) > 1 else red_loops[0]
    _, lanes_loop = sch.split(fused, [None, v])
    rf: SBlockRV | None = None

    def factor() -> None:
        nonlocal rf
        rf = sch.rfactor(lanes_loop, factor_axis=len(stmt.iter_vars) - n_reduce)

    return rf if try_apply(factor) else None


def vectorise_rf(sch: Schedule, block: SBlockRV, own: list[LoopRV], unroll: int,
                  row: LoopRV | None) -> None:
    """rf block: k outer (optionally unrolled), the V partial-sum lanes inner and vectorised.

    A producer computed under the same row (softmax's exp) moves into the k loop: it is then
    computed V elements at a time in the same pass that accumulates them.
    """
    k_loop = first_reduce_loop(sch, block)
    lanes = [lp for lp in own if k_loop is None or not sch.get(lp).same_as(sch.get(k_loop))]
    if not lanes:
        return
    lane_loop = rf_lane_loop(sch, block, own) or lanes[-1]
    if k_loop is not None:
        # spatial loops outside the row (a GroupNorm's groups) stay outermost: k, then the lanes
        others = [lp for lp in lanes if not sch.get(lp).same_as(sch.get(lane_loop))]
        try_apply(lambda: sch.reorder(*others, k_loop, lane_loop))
        for producer in sch.get_producers(block):
            if row is not None and not is_reduction(sch, producer):
                fuse_into_producer(sch, block, producer, row, extent(sch, lane_loop))
                k_loop = first_reduce_loop(sch, block)
                lane_loop = sch.get_loops(block)[-1]
        if unroll > 1 and extent(sch, k_loop) % unroll == 0 and extent(sch, k_loop) > unroll:
            _, ku = sch.split(k_loop, [None, unroll])
            try_apply(lambda: sch.unroll(ku))
    try_apply(lambda: sch.vectorize(lane_loop))


def rf_lane_loop(sch: Schedule, block: SBlockRV, own: list[LoopRV]) -> LoopRV | None:
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


def fuse_into_producer(sch: Schedule, rf: SBlockRV, producer: SBlockRV, row: LoopRV,
                        v: int) -> None:
    """Moves the rf block into its producer's loop (V elements per step): one pass over the
    row computes the elements (softmax's exp) and accumulates them."""
    own = own_loops(sch, producer, row)
    if len(own) != 1 or extent(sch, own[0]) % v:
        return
    outer, inner = sch.split(own[0], [None, v])
    if try_apply(lambda: sch.reverse_compute_at(rf, outer)):
        try_apply(lambda: sch.vectorize(inner))


def first_reduce_loop(sch: Schedule, block: SBlockRV) -> LoopRV | None:
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
