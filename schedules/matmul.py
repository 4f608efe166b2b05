"""CPU template for matmul kernels (MatMul, Gemm) with fused elementwise epilogues.

Register tiling: an mi x nj tile of the output accumulates over k in registers (nj a multiple of the
vector width), the epilogue runs on each finished row panel while it is in cache.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.registry import OpKind
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.common import blocks, extent, inline_spatial, is_reduction, try_apply

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import Schedule
    from onnxjit.targets.base import Target


class MatmulTemplate(ScheduleTemplate):
    name = "matmul"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.name == "cpu" and kernel.kind is OpKind.MATMUL

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        lanes = getattr(target, "vector_lanes", 8)
        return [{"mi": mi, "nj": nj * lanes, "kt": kt}
                for mi in (2, 4, 6, 8) for nj in (1, 2, 3, 4) for kt in (1, 4)
                if mi * nj <= 12 + (4 if lanes >= 16 else 0)]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {"mi": 4, "nj": 2 * getattr(target, "vector_lanes", 8), "kt": 4}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        inline_spatial(sch)
        anchors = [b for b in blocks(sch) if is_reduction(sch, b)]
        if len(anchors) != 1:
            raise KnobError(f"matmul template expects one reduction block, found {len(anchors)}")
        block = anchors[0]
        loops = sch.get_loops(block)
        if len(loops) < 3:
            raise KnobError("matmul template expects (..., m, n, k) loops")
        *batch, m, n, k = loops
        mi, nj, kt = int(knobs["mi"]), int(knobs["nj"]), int(knobs["kt"])
        lanes = getattr(target, "vector_lanes", 8)
        mo, mi_ = sch.split(m, [None, mi])
        no, nj_ = sch.split(n, [None, nj])
        ko, kt_ = sch.split(k, [None, kt])
        sch.reorder(*batch, mo, no, ko, kt_, mi_, nj_)
        for consumer in sch.get_consumers(block):
            try_apply(lambda c=consumer: sch.reverse_compute_at(c, no))
        vec_ok = extent(sch, nj_) % lanes == 0
        if vec_ok:
            nvo, nvi = sch.split(nj_, [None, lanes])
            sch.unroll(nvo)
            sch.vectorize(nvi)
        sch.unroll(mi_)
        sch.unroll(kt_)
        outer = sch.fuse(*batch, mo) if batch else mo
        if target.threads > 1:
            try_apply(lambda: sch.parallel(outer))
        sch.decompose_reduction(block, ko)
        for other in blocks(sch):
            if other != block and not is_reduction(sch, other):
                inner = sch.get_loops(other)[-1]
                if extent(sch, inner) % lanes == 0:
                    _, lanes_loop = sch.split(inner, [None, lanes])
                    try_apply(lambda lp=lanes_loop: sch.vectorize(lp))
