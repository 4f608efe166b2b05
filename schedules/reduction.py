"""CPU template for row reductions (ReduceX, Softmax, normalisations) and their epilogues.

Every stage of a row is computed under the output's outer loop, so a row stays in cache between
the statistics pass and the elementwise pass; rows are spread over threads and inner loops vectorised.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.registry import OpKind
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.common import (
    blocks, extent, inline_spatial, is_reduction, spatial_prefix, try_apply, writes_param,
)

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import LoopRV, SBlockRV, Schedule
    from onnxjit.targets.base import Target


class ReductionTemplate(ScheduleTemplate):
    name = "reduction"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.name == "cpu" and kernel.kind is OpKind.REDUCTION

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        lanes = getattr(target, "vector_lanes", 8)
        return [{"vec": v, "fuse_rows": f} for v in (lanes, 2 * lanes) for f in (True, False)]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {"vec": getattr(target, "vector_lanes", 8), "fuse_rows": True}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        inline_spatial(sch)
        outs = [b for b in blocks(sch) if writes_param(sch, b)]
        if not outs:
            return
        out = outs[-1]
        rows = spatial_prefix(sch, out)
        if not rows:
            return
        if knobs["fuse_rows"]:
            for block in reversed(blocks(sch)):
                if block != out and not writes_param(sch, block) and _same_outer(sch, block, rows[0]):
                    try_apply(lambda b=block: sch.compute_at(b, rows[0]))
        vec = int(knobs["vec"])
        for block in blocks(sch):
            if not is_reduction(sch, block):
                inner = sch.get_loops(block)[-1]
                if extent(sch, inner) % vec == 0 and extent(sch, inner) >= vec:
                    _, lanes = sch.split(inner, [None, vec])
                    try_apply(lambda lanes=lanes: sch.vectorize(lanes))
        outer = sch.get_loops(out)[0]
        if target.threads > 1 and extent(sch, outer) >= target.threads:
            try_apply(lambda: sch.parallel(outer))


def _same_outer(sch: Schedule, block: SBlockRV, row_loop: LoopRV) -> bool:
    """Whether a producer iterates the same outer rows (so compute_at adds no recomputation)."""
    loops = spatial_prefix(sch, block)
    return bool(loops) and extent(sch, loops[0]) == extent(sch, row_loop)
