"""Schedule helpers shared by templates: block analysis, inlining, loop utilities."""
from __future__ import annotations

from collections.abc import Collection

from onnxjit.compiler.tvm_api import LoopRV, SBlockRV, Schedule

SPATIAL, REDUCE = 0, 2   # tirx IterVar kinds


def func_name(sch: Schedule) -> str:
    return str(next(iter(sch.mod.functions.keys())).name_hint)


def blocks(sch: Schedule) -> list[SBlockRV]:
    root = sch.get_sblock("root", func_name=func_name(sch))
    return list(sch.get_child_blocks(root))


def is_reduction(sch: Schedule, block: SBlockRV) -> bool:
    return any(int(iv.iter_type) == REDUCE for iv in sch.get(block).iter_vars)


def writes_param(sch: Schedule, block: SBlockRV) -> bool:
    func = sch.mod[func_name(sch)]
    return any(any(region.source.same_as(p) for p in func.params)
               for region in sch.get(block).writes)


def inline_spatial(sch: Schedule, keep: Collection[str] = ()) -> None:
    """Inlines every spatial block into its consumers (or its producer) where TVM allows it.

    Blocks read by several consumers stay: inlining them would compute them several times.
    Blocks named in `keep` (e.g. a packing stage) stay too.
    """
    changed = True
    while changed:
        changed = False
        for block in blocks(sch):
            if is_reduction(sch, block) or sch.get(block).name_hint in keep:
                continue
            if not writes_param(sch, block) and len(sch.get_consumers(block)) <= 1:
                if _try(lambda b=block: sch.compute_inline(b)):
                    changed = True
                    break
            producers = sch.get_producers(block)
            # Only into a producer nobody else reads: TVM would otherwise rewrite the producer's
            # buffer out from under its other consumers ("used before its definition").
            if (len(producers) == 1 and not is_reduction(sch, producers[0])
                    and len(sch.get_consumers(producers[0])) == 1):
                if _try(lambda b=block: sch.reverse_compute_inline(b)):
                    changed = True
                    break


def _try(action: object) -> bool:
    try:
        action()  # type: ignore[operator]
        return True
    except Exception:  # noqa: BLE001  (TVM raises ScheduleError subclasses; any means "not here")
        return False


def try_apply(action: object) -> bool:
    """Runs a schedule primitive that may legitimately not apply; reports whether it did."""
    return _try(action)


def spatial_prefix(sch: Schedule, block: SBlockRV) -> list[LoopRV]:
    """The outer loops of a block that bind only spatial iterators."""
    loops = sch.get_loops(block)
    n_spatial = 0
    for iv in sch.get(block).iter_vars:
        if int(iv.iter_type) != SPATIAL:
            break
        n_spatial += 1
    return list(loops[:n_spatial])


def extent(sch: Schedule, loop: LoopRV) -> int:
    return int(sch.get(loop).extent)


def parallelize_vectorize(sch: Schedule, block: SBlockRV, vec: int, grain: int,
                          threads: int) -> None:
    """Fuses a spatial block's loops, vectorises the innermost `vec` lanes, spreads the rest."""
    loops = spatial_prefix(sch, block)
    if not loops:
        return
    total = 1
    for loop in loops:
        total *= extent(sch, loop)
    # Read before fusing: fuse removes the original loops.
    inner_len = extent(sch, loops[-1])
    only_spatial = len(sch.get_loops(block)) == len(loops)
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    if total >= vec and inner_len % vec == 0 and only_spatial:
        outer, lanes = sch.split(fused, [None, vec])
        try_apply(lambda: sch.vectorize(lanes))
        fused = outer
        total //= vec
        grain = max(1, grain // vec)
    if threads > 1 and total >= 2 * grain:
        outer, _ = sch.split(fused, [None, grain])
        try_apply(lambda: sch.parallel(outer))
