"""The template that always applies: inline what can be inlined, spread outer loops over threads."""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.common import blocks, extent, inline_spatial, spatial_prefix, try_apply

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import Schedule
    from onnxjit.targets.base import Target


class FallbackTemplate(ScheduleTemplate):
    name = "fallback"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return True

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [self.default(kernel, target)]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        inline_spatial(sch)
        if target.threads <= 1:
            return
        for block in blocks(sch):
            loops = spatial_prefix(sch, block)
            if loops and extent(sch, loops[0]) >= target.threads:
                try_apply(lambda loop=loops[0]: sch.parallel(loop))
