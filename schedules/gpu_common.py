"""Helpers shared by the GPU schedule templates (schedules/gpu_*.py)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from onnxjit.compiler.tvm_api import LoopRV, SBlockRV, Schedule
from onnxjit.schedules.common import blocks, extent, inline_spatial, is_reduction, spatial_prefix

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

THREADS = (64, 128, 256)


def is_gpu(target: Target) -> bool:
    """A target whose kernels run as thread blocks (the GPU targets define max_threads)."""
    return not target.simd_cpu and hasattr(target, "max_threads") and hasattr(
        target, "max_shared_memory")


def max_threads(target: Target) -> int:
    return int(getattr(target, "max_threads", 256))


def max_shared(target: Target) -> int:
    return int(getattr(target, "max_shared_memory", 16384))


def thread_choices(target: Target) -> list[int]:
    return [t for t in THREADS if t <= max_threads(target)] or [max_threads(target)]


def bind_flat(sch: Schedule, loops: Sequence[LoopRV], threads: int) -> None:
    """Fuses `loops` and spreads them over blocks of `threads` threads."""
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    total = extent(sch, fused)
    if total <= threads:
        sch.bind(fused, "threadIdx.x")
        return
    outer, inner = sch.split(fused, [None, threads])
    sch.bind(outer, "blockIdx.x")
    sch.bind(inner, "threadIdx.x")


def bind_spatial_blocks(sch: Schedule, threads: int) -> None:
    """Every block not yet bound gets a thread per point of its spatial loops (a reduction
    block loops serially over its reduction axes inside its thread)."""
    for block in blocks(sch):
        if _bound(sch, block):
            continue
        loops = spatial_prefix(sch, block)
        if not loops:
            loops = [sch.add_unit_loop(block)]
        bind_flat(sch, loops, threads)


def _bound(sch: Schedule, block: SBlockRV) -> bool:
    return any(sch.get(loop).thread_binding is not None for loop in sch.get_loops(block))


def schedule_elementwise(sch: Schedule, threads: int) -> None:
    inline_spatial(sch)
    bind_spatial_blocks(sch, threads)
    private_state_local(sch)


def private_state_local(sch: Schedule) -> None:
    """A kernel-allocated buffer only its writing block reads (a multi-output reduction's running
    value, e.g. ArgMax's maximum) lives in each thread's registers: device code may not allocate
    global memory."""
    params = list(sch.mod["main"].params)
    for block in blocks(sch):
        stmt = sch.get(block)
        for index, region in enumerate(stmt.writes):
            buf = region.source
            if any(p.same_as(buf) for p in params):
                continue
            readers = [b for b in blocks(sch) if not sch.get(b).same_as(stmt) and any(
                r.source.same_as(buf) for r in sch.get(b).reads)]
            if not readers:
                sch.set_scope(block, index, "local")


def has_reduction(sch: Schedule) -> bool:
    return any(is_reduction(sch, b) for b in blocks(sch))


def full_shapes(kernel: Kernel, optional: Sequence[tuple[int, bool, tuple[int, ...]]],
                n_inputs: int) -> tuple[list[tuple[int, ...]], list[str], list[bool]]:
    """Shapes, dtypes and presence of every input of a hand-written op's full signature, then
    its outputs: `optional` lists (input index, present, stand-in shape) of optional inputs,
    absent ones are not kernel parameters (their stand-in is computed inside)."""
    params = list(kernel.func.params)  # (0.27: buffer-typed Vars with shape and dtype)
    absent = {i: shape for i, present, shape in optional if not present}
    shapes: list[tuple[int, ...]] = []
    dtypes: list[str] = []
    keep: list[bool] = []
    it = iter(params)
    for i in range(n_inputs):
        if i in absent:
            shapes.append(absent[i])
            dtypes.append("")
            keep.append(False)
            continue
        buf = next(it)
        shapes.append(tuple(int(d) for d in buf.shape))
        dtypes.append(str(buf.dtype))
        keep.append(True)
    for buf in it:
        shapes.append(tuple(int(d) for d in buf.shape))
        dtypes.append(str(buf.dtype))
        keep.append(True)
    return shapes, dtypes, keep


def knob_ints(knobs: Any, *names: str) -> list[int]:
    return [int(knobs[n]) for n in names]
