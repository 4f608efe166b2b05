"""The template for hand-written TIR ops (compiler/ops/_tir.py) that no faster template takes.

Their reference loop nest is already a complete kernel: it is compiled as lowered. (The generic
fallback cannot take them: a function holding only an extern block has no root block.)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.ops._tir import read_spec
from onnxjit.schedules.base import Knobs, ScheduleTemplate

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import PrimFunc, Schedule
    from onnxjit.targets.base import Target


class TirExternTemplate(ScheduleTemplate):
    name = "tir_extern"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return len(kernel.op_types) == 1 and read_spec(kernel.func) is not None

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [{}]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        return None

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        return kernel.func.with_attr("global_symbol", kernel.name)
