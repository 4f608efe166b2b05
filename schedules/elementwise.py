"""CPU template for elementwise and injective kernels: one fused loop, vectorised and parallel."""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.registry import OpKind
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.common import blocks, inline_spatial, is_reduction, parallelize_vectorize

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import Schedule
    from onnxjit.targets.base import Target


class ElementwiseTemplate(ScheduleTemplate):
    name = "elementwise"
    streams_inputs = True

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.simd_cpu and kernel.kind in (OpKind.ELEMENTWISE, OpKind.INJECTIVE)

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        lanes = getattr(target, "vector_lanes", 8)
        return [{"vec": v, "grain": g} for v in (lanes, 2 * lanes) for g in (4096, 16384, 65536)]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {"vec": getattr(target, "vector_lanes", 8), "grain": 16384}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        inline_spatial(sch)
        for block in blocks(sch):
            if not is_reduction(sch, block):
                parallelize_vectorize(sch, block, int(knobs["vec"]), int(knobs["grain"]),
                                      target.threads)
