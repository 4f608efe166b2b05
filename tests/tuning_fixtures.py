"""Schedule templates that misbehave on purpose, to test that tuning survives them.

Worker processes import these by module path, as they would any template.
"""
from __future__ import annotations

import ctypes
import time
from typing import TYPE_CHECKING

from onnxjit.compiler.tvm_api import PrimFunc, Schedule, te
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.elementwise import ElementwiseTemplate

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

MODES = ("ok", "segfault", "hang", "wrong", "ok_vec")


class MisbehavingTemplate(ScheduleTemplate):
    name = "misbehaving"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return True

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [{"mode": m} for m in MODES]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {"mode": "ok"}

    def estimate(self, kernel: Kernel, knobs: Knobs, target: Target) -> float:
        return float(MODES.index(str(knobs["mode"])))  # the bad ones come first

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        ElementwiseTemplate().apply(sch, kernel, {"vec": 8, "grain": 4096}, target)

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        mode = knobs["mode"]
        if mode == "segfault":
            ctypes.string_at(0)                  # reads address 0: the builder process dies
        if mode == "hang":
            time.sleep(3600)
        if mode == "wrong":
            return _scaled_copy(kernel, 3.0)
        return super().instantiate(kernel, knobs, target)


def _scaled_copy(kernel: Kernel, factor: float) -> PrimFunc:
    """A function with the kernel's signature that computes something else."""
    from onnxjit.compiler.tvm_api import create_prim_func

    params = [kernel.func.params[i] for i in range(len(kernel.func.params))]
    shapes = [[int(d) for d in p.shape] for p in params]
    x = te.placeholder(shapes[0], "float32", name="x")
    y = te.compute(shapes[-1], lambda *i: x(*i) * factor, name="y")
    return create_prim_func([x, y], kernel.name)
