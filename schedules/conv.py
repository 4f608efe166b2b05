"""CPU template for onnxjit::Conv: dense and sparse register tiles (schedules/conv_kernels.py).

The space holds both implementations when the weights carry a sparse packing, so tuning decides
sparse vs dense by measurement; the default is the compile-time cost model's choice. Tile sizes
follow the register file: accumulators + input vectors + one broadcast fit the vector registers
(16 with AVX2, 32 with AVX-512). Every point computes the same sums in the same order per output
element (one accumulator chain over input channels and taps), so all points agree.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from
from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import read_spec
from onnxjit.compiler.tvm_api import PrimFunc
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.conv_kernels import Epilogue, Tiling, conv_kernel

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

MAX_POINTS = 64


def _spec(kernel: Kernel) -> dict[str, Any] | None:
    if len(kernel.op_types) != 1:
        return None
    spec = read_spec(kernel.func)
    return spec if spec is not None and spec.get("op") == "DirectConv" else None


def _registers(target: Target) -> int:
    return 32 if getattr(target, "vector_lanes", 8) >= 16 else 16


class ConvTemplate(ScheduleTemplate):
    name = "conv"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.simd_cpu and _spec(kernel) is not None

    def _spec(self, kernel: Kernel) -> tuple[dict[str, Any], ConvGeometry]:
        spec = _spec(kernel)
        if spec is None:
            raise KnobError("not an onnxjit::Conv kernel")
        return spec, geometry_from(spec)

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        spec, g = self._spec(kernel)
        budget = _registers(target) - 2
        points: list[Knobs] = []
        if spec["block"] and g.group == 1:
            br = int(spec["block"])
            for v in (1, 2, 3, 4, 6, 8):
                if br * v + (v + br if br > 1 else 1) <= budget + 2:
                    points += [{"impl": "sparse", "v": v, "ct": br, "cu": 1, "mode": m}
                               for m in ("flat", "rows")]
        dense: list[Knobs] = []
        cts = [c for c in (1, 2, 3, 4, 6, 8) if g.mg % c == 0]
        for ct in cts:
            for v in (1, 2, 3, 4, 6):
                if ct * v + v + 1 > budget:
                    continue
                for mode in ("flat", "rows"):
                    for cu in ((1, 4) if g.taps == 1 and g.cg % 4 == 0 else (1,)):
                        dense.append({"impl": "dense", "v": v, "ct": ct, "cu": cu, "mode": mode})
        default = self.default(kernel, target)
        dense.sort(key=lambda k: self.estimate(kernel, k, target))
        points += dense
        points = [default] + [p for p in points if p != default]
        return points[:MAX_POINTS]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        spec, g = self._spec(kernel)
        budget = _registers(target) - 2
        mode = "flat" if g.wq == g.wo or g.cg * g.taps >= 32 else "rows"
        if spec["impl"] == "sparse":
            # CSR: the input vectors are FMA memory operands, so 8 accumulators fit; BSR: the
            # shared input vector and br broadcasts need registers (measured: v=1 best at br=4)
            br = int(spec["block"])
            v = {1: 8, 2: 2}.get(br, 1)
            return {"impl": "sparse", "v": v, "ct": br, "cu": 1, "mode": mode}
        ct = max(c for c in (1, 2, 3, 4) if g.mg % c == 0)
        v = max(x for x in (1, 2, 3, 4, 6) if ct * x + x + 1 <= budget or x == 1)
        cu = 4 if g.taps == 1 and g.cg % 4 == 0 else 1
        return {"impl": "dense", "v": v, "ct": ct, "cu": cu, "mode": mode}

    def estimate(self, kernel: Kernel, knobs: Knobs, target: Target) -> float:
        """Vector steps per output: loads + broadcasts per FMA, and tile waste."""
        _, g = self._spec(kernel)
        lanes = getattr(target, "vector_lanes", 8)
        v, ct = int(knobs["v"]), int(knobs["ct"])
        length = g.nq if knobs["mode"] == "flat" else g.wo
        tiles = -(-length // (v * lanes)) * (1 if knobs["mode"] == "flat" else g.ho)
        per_step = max(ct * v / 2.0, (ct + v) / 2.0)   # 2 FMA and ~2 loads per cycle
        return tiles * (g.mg // ct) * per_step

    def apply(self, sch: Any, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("conv template generates its loop nest (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec, g = self._spec(kernel)
        impl = str(knobs["impl"])
        if impl == "sparse" and not spec["block"]:
            raise KnobError("sparse point for a conv without a sparse packing")
        tiling = Tiling(impl, int(knobs["v"]), int(knobs["ct"]), int(knobs["cu"]),
                        str(knobs["mode"]), getattr(target, "vector_lanes", 8), int(knobs.get("cob", 0)))
        shapes = [tuple(int(d) for d in p.shape) for p in kernel.func.params]
        epi = Epilogue(tuple(spec["post"]), float(spec["lo"]), float(spec["hi"]))
        try:
            func = conv_kernel(g, epi, tiling, shapes, max(1, int(spec["block"])))
        except ValueError as exc:
            raise KnobError(str(exc)) from exc
        return func.with_attr("global_symbol", kernel.name)
