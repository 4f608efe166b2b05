"""CPU template for interleaving transposes: the output's innermost axis is short (fewer than a
vector of lanes) and the input's innermost axis lands on the output axis just outside it, e.g.
ConvTranspose's phase interleave (N, s, s, M, Q, Q) -> (N, M, Q, s, Q, s) (passes/conv_transpose.py),
and onnxjit::PhaseInterleave, which weaves one input per phase the same way.

The elementwise template fuses every loop into one, cannot vectorise a 2-long inner axis and so
runs a scalar loop with a div/mod per index (U-Net 64x56x56: 0.116 ms). Kept as a serial nest
(outer loops fused and spread over threads), LLVM vectorises the long axis itself with
interleaved stores (shuffles): 0.021 ms for the same kernel.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.tvm_api import Schedule
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.common import blocks, extent, inline_spatial, try_apply
from onnxjit.schedules.transpose import MIN_EXTENT, axis_extents, transposed_axis

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target


def _long_axis(sch: Schedule, kernel: Kernel) -> int | None:
    """The output axis walking the input rows: a transpose's, or onnxjit::PhaseInterleave's last
    phase-row axis (its body selects among the phase inputs, so it is no plain load)."""
    if kernel.op_types == ("PhaseInterleave",):
        return len(sch.get_loops(blocks(sch)[0])) - 2
    return transposed_axis(sch)


class InterleaveTemplate(ScheduleTemplate):
    name = "interleave"
    streams_inputs = True

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        found = axis_extents(kernel, target, lambda sch: _long_axis(sch, kernel))
        if found is None:
            return False
        axis, extents = found
        lanes = int(getattr(target, "vector_lanes", 8))
        # only the inner axes after `axis` are short: LLVM's interleave groups need that
        return extents[axis] >= MIN_EXTENT and all(e < lanes for e in extents[axis + 1:])

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [{"grain": g} for g in (16, 64, 256)]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {"grain": 64}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        inline_spatial(sch)
        axis = _long_axis(sch, kernel)
        if not axis or target.threads <= 1:
            return
        loops = list(sch.get_loops(blocks(sch)[0]))
        outer = loops[:axis]   # rows outside the long axis go to threads
        total = 1
        for loop in outer:
            total *= extent(sch, loop)
        grain = int(knobs["grain"])
        if total < 2 * grain:
            return
        fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
        spread, _ = sch.split(fused, [None, grain])
        try_apply(lambda: sch.parallel(spread))
