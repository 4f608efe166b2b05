"""GPU templates for the generic kernel kinds: elementwise/injective, matmul, reduction, and the
GPU fallback that takes any kernel.

  * gpu_elementwise: inline, fuse, one thread per output element (knob: threads per block).
  * gpu_matmul / gpu_reduction: TVM dlight's GPU rules (Matmul, GEMV, Reduction,
    GeneralReduction: shared-memory tiling, cross-thread reductions) sized by the target's
    limits; where no rule takes the kernel, or dlight's matmul cannot lower (WGSL has no vector
    loads), a thread per output point with a serial reduction.
  * gpu_fallback: dlight, else a thread per point; hand-written loop nests no GPU template
    generates (a general Scan body, Loop, a run-time CumSum axis) run in one GPU thread, correct
    but serial.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import read_spec
from onnxjit.compiler.registry import OpKind
from onnxjit.compiler.tvm_api import Schedule, parse_tvmscript
from onnxjit.compiler.tvm_api import dlight_schedule
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.gpu_common import is_gpu, schedule_elementwise, thread_choices

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import PrimFunc
    from onnxjit.targets.base import Target


def _named(func: PrimFunc, kernel: Kernel) -> PrimFunc:
    return func.with_attr("global_symbol", kernel.name)


def per_point(kernel: Kernel, threads: int) -> PrimFunc:
    sch = Schedule(kernel.func)
    schedule_elementwise(sch, threads)
    return sch.mod["main"]


def dlight_or_per_point(kernel: Kernel, target: Target, threads: int) -> PrimFunc:
    """dlight's schedule if it builds for this target, else a thread per point."""
    try:
        func = dlight_schedule(kernel.func, target.tvm_target())
        if func is not None:
            target.build_check(func)
            return func
    except Exception:  # noqa: BLE001  (a rule that does not lower here: the plain schedule)
        pass
    return per_point(kernel, threads)


class _ThreadsTemplate(ScheduleTemplate):
    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [{"threads": t} for t in thread_choices(target)]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        choices = thread_choices(target)
        return {"threads": 256 if 256 in choices else choices[-1]}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        schedule_elementwise(sch, int(knobs["threads"]))


class GpuElementwiseTemplate(_ThreadsTemplate):
    name = "gpu_elementwise"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return is_gpu(target) and kernel.kind in (OpKind.ELEMENTWISE, OpKind.INJECTIVE)


class _DlightTemplate(ScheduleTemplate):
    """Knob "rule": "dlight" (TVM's rules) or "simple" (a thread per output point)."""

    kinds: tuple[OpKind, ...] = ()

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return is_gpu(target) and kernel.kind in self.kinds

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [{"rule": "dlight", "threads": 0},
                *({"rule": "simple", "threads": t} for t in thread_choices(target))]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {"rule": "dlight", "threads": 0}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError(f"{self.name} builds its function in instantiate")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        if knobs.get("rule") == "dlight":
            return _named(dlight_or_per_point(kernel, target, thread_choices(target)[-1]), kernel)
        if knobs.get("rule") != "simple":
            raise KnobError(f"{self.name}: unknown rule in {dict(knobs)}")
        return _named(per_point(kernel, int(knobs["threads"])), kernel)


class GpuMatmulTemplate(_DlightTemplate):
    name = "gpu_matmul"
    kinds = (OpKind.MATMUL,)


class GpuReductionTemplate(_DlightTemplate):
    name = "gpu_reduction"
    kinds = (OpKind.REDUCTION,)


class GpuFallbackTemplate(_DlightTemplate):
    name = "gpu_fallback"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return is_gpu(target)

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        if read_spec(kernel.func) is not None:
            return [{"rule": "serial", "threads": 1}]
        return super().space(kernel, target)

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return self.space(kernel, target)[0]

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        if knobs.get("rule") == "serial":
            return _named(serial(kernel), kernel)
        return super().instantiate(kernel, knobs, target)


_GLOBAL_ALLOC = re.compile(r'T\.alloc_buffer\((\([^()]*\)(?:, "\w+")?)\)')


def serial(kernel: Kernel) -> PrimFunc:
    """The kernel in one GPU thread. Its loop nests' scratch buffers become thread-local (a
    device kernel cannot allocate global memory); the blocks around them get a thread each."""
    text = _GLOBAL_ALLOC.sub(r'T.alloc_buffer(\1, scope="local")', kernel.func.script())
    sch = Schedule(parse_tvmscript(text))
    schedule_elementwise(sch, 1)
    return sch.mod["main"]
