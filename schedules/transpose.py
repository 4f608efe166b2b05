"""CPU template for kernels that move an axis into the innermost position (Transpose and the
injective ops that read like one: a [C, T] -> [T, C] layout change around a conv, head splits).

The generic elementwise template vectorises the output's innermost axis, so each vector reads
`lanes` elements a whole input row apart: every element is a new cache line, and a large
transpose runs at a fraction of memory speed. Here both the output's innermost axis and the one
that walks the input's innermost axis are tiled (tile x tile blocks): a block's input lines stay
in L1 while its output rows are written with full vectors.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.registry import OpKind
from onnxjit.compiler.tvm_api import Schedule, tirx
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.common import blocks, extent, inline_spatial, try_apply

if TYPE_CHECKING:
    from collections.abc import Callable

    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

TILES = (8, 16, 32)
MIN_EXTENT = 16   # both tiled axes at least this long, or the generic template is as good


def transposed_axis(sch: Schedule) -> int | None:
    """The output axis that indexes the input's innermost dimension, when the (single, after
    inlining) block is a plain load from one input and that axis is not the innermost one."""
    found = blocks(sch)
    if len(found) != 1:
        return None
    block = sch.get(found[0])
    store = block.body
    # Duck-typed: TVM 0.27's loads are tvm.ir TensorLoad nodes, not tirx.BufferLoad instances.
    value = getattr(store, "value", None)
    if not isinstance(store, tirx.BufferStore) or not type(value).__name__.endswith("Load") \
            or not getattr(value, "indices", None):
        return None
    last = value.indices[-1]
    names = [iv.var for iv in block.iter_vars]
    for axis, var in enumerate(names):
        if last.same_as(var):
            return axis if axis != len(names) - 1 else None
    return None


def axis_extents(kernel: Kernel, target: Target, locate: Callable[[Schedule], int | None]
                 ) -> tuple[int, list[int]] | None:
    """For an injective CPU kernel: the output axis `locate` finds in its inlined schedule and the
    extents of the output loops; None where there is none (or the kernel is not one of those)."""
    if not target.simd_cpu or kernel.kind is not OpKind.INJECTIVE:
        return None
    try:
        sch = Schedule(kernel.func)
        inline_spatial(sch)
        axis = locate(sch)
        if axis is None:
            return None
        return axis, [extent(sch, loop) for loop in sch.get_loops(blocks(sch)[0])]
    except Exception:  # noqa: BLE001  (not applicable is an answer, never an error)
        return None


class TransposeTemplate(ScheduleTemplate):
    name = "transpose"
    streams_inputs = True

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        found = axis_extents(kernel, target, transposed_axis)
        return found is not None and min(found[1][found[0]], found[1][-1]) >= MIN_EXTENT

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [{"tile": t} for t in TILES]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {"tile": 16}

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        inline_spatial(sch)
        axis = transposed_axis(sch)
        if axis is None:
            return
        block = blocks(sch)[0]
        loops = list(sch.get_loops(block))
        tile = int(knobs["tile"])
        rows_even = extent(sch, loops[axis]) % tile == 0
        cols_even = extent(sch, loops[-1]) % tile == 0
        a_o, a_i = sch.split(loops[axis], [None, tile])
        c_o, c_i = sch.split(loops[-1], [None, tile])
        outer = [loop for i, loop in enumerate(loops[:-1]) if i != axis]
        sch.reorder(*outer, a_o, c_o, a_i, c_i)
        if rows_even and cols_even:
            try_apply(lambda: sch.vectorize(c_i))
        if target.threads > 1:
            fused = sch.fuse(*outer, a_o) if outer else a_o
            try_apply(lambda: sch.parallel(fused))
