"""CPU templates for the fused recurrences LinearScan and SelectiveScan (ops/linear_scan.py).

- LinearScan is memory-bound (a, b are L·D·N each, read once): vectorised over the state (N lanes
  per channel, `vec` lanes per register), blocks of `dbr` channels with a shuffle transpose-reduce
  readout (one vector store of dbr outputs a step); time outer in chunks of `tc` steps with the
  block's state in registers, the whole channel row inner (sequential streams), software prefetch
  `pf` floats ahead.
- SelectiveScan is FMA-bound (its inputs are L·D): the "chan" form (schedules/scan_channels.py)
  puts channels in the lanes, so the readout needs no horizontal sums; the "state" form is the
  LinearScan layout with time inside a register-resident channel block (any D).
exp and sigmoid use the target's vector exp2 (_vecmath.exp2_builder: vscalefps on AVX-512).
Threads split channels (LinearScan: a contiguous part of every row per task; SelectiveScan: blocks).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import internalise_params, read_spec
from onnxjit.compiler.tvm_api import PrimFunc, T
from onnxjit.schedules._vecmath import (
    LOG2E, bcast, exp2_builder, transpose_reduce, tree_sum, vexp2, vsigmoid)
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.scan_channels import group_sizes, selective_channel_kernel

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

F32 = "float32"


class _RecurrenceTemplate(ScheduleTemplate):
    streams_inputs = True
    op: str
    n_params: tuple[int, ...]

    def _spec(self, kernel: Kernel) -> dict[str, Any] | None:
        if kernel.op_types != (self.op,) or len(kernel.func.params) not in self.n_params:
            return None
        spec = read_spec(kernel.func)
        return spec if spec is not None and spec.get("op") == self.op else None

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        spec = self._spec(kernel)
        return (target.simd_cpu and spec is not None and bool(self.space(kernel, target)))

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        spec = self._spec(kernel)
        if spec is None:
            return []
        lanes = getattr(target, "vector_lanes", 8)
        n, d = int(spec["N"]), int(spec["D"])
        # a narrower vector where no full one fits, so that small state sizes (N = 4, 8 on
        # AVX-512) still get a vector kernel instead of the scalar reference loop nest
        widths = ([v for v in (lanes, 2 * lanes) if n % v == 0]
                  or [v for v in (lanes // 2, lanes // 4) if v >= 4 and n % v == 0][:1])
        return [{"vec": v, "dbr": r} for v in widths for r in (4, 8)
                if r <= v and d % r == 0]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        lanes = getattr(target, "vector_lanes", 8)
        space = self.space(kernel, target)
        preferred = {"vec": lanes, "dbr": min(8, lanes)}
        return preferred if preferred in space else space[0]

    def apply(self, sch: Any, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError(f"{self.name} template generates its loop nest (instantiate)")

    def _knobs(self, kernel: Kernel, knobs: Knobs, target: Target) -> tuple[dict[str, Any], int, int]:
        spec = self._spec(kernel)
        if spec is None or dict(knobs) not in [dict(k) for k in self.space(kernel, target)]:
            raise KnobError(f"{self.name}: knobs {dict(knobs)} do not fit this kernel")
        return spec, int(knobs["vec"]), int(knobs["dbr"])


class LinearScanTemplate(_RecurrenceTemplate):
    """Memory-bound (a and b stream from DRAM once): time chunks `tc` and software prefetch
    `pf` floats ahead (the hardware prefetchers alone left the stream at ~60% of the read
    bandwidth while the sigmoid ran)."""

    name = "linear_scan"
    op = "LinearScan"
    n_params = (7,)

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [{**p, "tc": tc, "pf": pf} for p in super().space(kernel, target)
                for tc in (1, 2, 4) for pf in (0, 512, 1024, 2048)]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        lanes = getattr(target, "vector_lanes", 8)
        space = self.space(kernel, target)
        chunked = [p for p in space if p["tc"] == 2 and p["pf"] == 1024]
        preferred = {"vec": lanes, "dbr": min(8, lanes), "tc": 2, "pf": 1024}
        return preferred if preferred in space else (chunked or space)[0]

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        if "tc" not in knobs:  # a record from before the chunk/prefetch knobs: the same kernel
            knobs = {**knobs, "tc": 1, "pf": 0}
        spec, vec, dbr = self._knobs(kernel, knobs, target)
        func = linear_kernel(int(spec["L"]), int(spec["D"]), int(spec["N"]), str(spec["act"]),
                             vec, dbr, target.threads, exp2_builder(target, vec),
                             int(knobs["tc"]), int(knobs["pf"]))
        return func.with_attr("global_symbol", kernel.name)


class SelectiveScanTemplate(_RecurrenceTemplate):
    """Two forms: "chan" (lanes = channels, schedules/scan_channels.py; needs D a multiple of
    the vector) and "state" (lanes = states, a transpose-reduce readout; any D, N % vec == 0)."""

    name = "selective_scan"
    op = "SelectiveScan"
    n_params = (8, 9)

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        spec = self._spec(kernel)
        if spec is None:
            return []
        lanes = getattr(target, "vector_lanes", 8)
        n, d = int(spec["N"]), int(spec["D"])
        points: list[Knobs] = []
        w = next((v for v in (lanes, lanes // 2) if v >= 4 and d % v == 0), 0)
        if w:
            points += [{"form": "chan", "vec": w, "dbr": 0, "g": g, "tc": tc}
                       for g in group_sizes(n, w) for tc in (0, 8, 16, 32, 64)]
        points += [{"form": "state", "vec": p["vec"], "dbr": p["dbr"], "g": 0, "tc": 0}
                   for p in super().space(kernel, target)]
        return points

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        space = self.space(kernel, target)
        chan = [p for p in space if p["form"] == "chan"]
        if chan:  # the largest state group (fewest passes over Δ, x and y), time chunks of 16
            return next((p for p in chan if p["tc"] == 16), chan[0])
        return space[0]

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec = self._spec(kernel)
        if "form" not in knobs:  # a record from before the "chan" form: the same state kernel
            knobs = {"form": "state", **knobs, "g": 0, "tc": 0}
        if spec is None or dict(knobs) not in [dict(k) for k in self.space(kernel, target)]:
            raise KnobError(f"{self.name}: knobs {dict(knobs)} do not fit this kernel")
        length, d, n, skip = int(spec["L"]), int(spec["D"]), int(spec["N"]), bool(spec["skip"])
        vec = int(knobs["vec"])
        if knobs["form"] == "chan":
            func = selective_channel_kernel(length, d, n, skip, vec, int(knobs["g"]),
                                            int(knobs["tc"]), target.threads,
                                            exp2_builder(target, vec))
        else:
            func = selective_kernel(length, d, n, skip, vec, int(knobs["dbr"]), target.threads,
                                    exp2_builder(target, vec))
        return func.with_attr("global_symbol", kernel.name)


def _act(kind: str, v: Any, lanes: int, exp2: Any = vexp2) -> Any:
    if kind == "sigmoid":
        return vsigmoid(v, lanes, exp2)
    if kind == "exp":
        return exp2(v * T.Broadcast(T.float32(LOG2E), lanes), lanes)
    return v


def linear_kernel(length: int, d: int, n: int, act: str, w: int, dbr: int,
                  threads: int, exp2: Any = vexp2, tc: int = 1, pf: int = 0) -> PrimFunc:
    """Time chunks of `tc` steps: a block's state stays in registers for the chunk (h is read
    and written once a chunk; a and b become `tc` row streams). `pf` > 0: software-prefetch a
    and b `pf` floats ahead of each block (one prefetch a line)."""
    nv = n // w
    total = length * d * n
    lines = max(1, dbr * n // 16)                 # 64-byte lines a block reads from a (and b)
    nchunks = (length + tc - 1) // tc
    parts = threads if threads > 1 and d % (dbr * threads) == 0 else 1
    nbp = d // dbr // parts       # channel blocks per part
    part_loop = T.parallel if parts > 1 else T.serial

    @T.prim_func
    def func(h0: T.Buffer((d, n), F32), a: T.Buffer((length, d, n), F32),
             b: T.Buffer((length, d, n), F32), x: T.Buffer((length, d), F32),
             c: T.Buffer((length, n), F32), h: T.Buffer((d, n), F32),
             y: T.Buffer((length, d), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        for i in T.serial(d):
            for v in T.unroll(nv):
                h[i, T.ramp(v * w, 1, w)] = h0[i, T.ramp(v * w, 1, w)]
        for p in part_loop(parts):
            for tco in T.serial(nchunks):
                for blk in T.serial(nbp):
                    # < 1 KiB, default scope: LLVM keeps it in registers (proto-scan lesson 1)
                    hl = T.alloc_buffer((dbr, n), F32, scope="global")
                    for k in T.unroll(dbr):
                        for v in T.unroll(nv):
                            hl[k, T.ramp(v * w, 1, w)] = h[(p * nbp + blk) * dbr + k,
                                                           T.ramp(v * w, 1, w)]
                    for t in T.serial(tco * tc, T.min(tco * tc + tc, length)):
                        if pf > 0:
                            af = T.decl_buffer((total,), F32, data=a.data)
                            bf = T.decl_buffer((total,), F32, data=b.data)
                            for q in T.unroll(lines):
                                ahead = T.meta_var(T.min(
                                    (t * d + (p * nbp + blk) * dbr) * n + q * 16 + pf, total - 1))
                                T.evaluate(T.call_llvm_intrin("void", "llvm.prefetch.p0",
                                                              T.address_of(af[ahead]), 0, 3, 1))
                                T.evaluate(T.call_llvm_intrin("void", "llvm.prefetch.p0",
                                                              T.address_of(bf[ahead]), 0, 3, 1))
                        for k in T.unroll(dbr):
                            for v in T.unroll(nv):
                                ch = T.meta_var((p * nbp + blk) * dbr + k)
                                lane = T.meta_var(T.ramp(v * w, 1, w))
                                hl[k, lane] = (_act(act, a[t, ch, lane], w, exp2) * hl[k, lane]
                                               + b[t, ch, lane] * bcast(x[t, ch], w))
                        y[t, T.ramp((p * nbp + blk) * dbr, 1, dbr)] = transpose_reduce(
                            [tree_sum([hl[k, T.ramp(v * w, 1, w)] * c[t, T.ramp(v * w, 1, w)]
                                       for v in range(nv)]) for k in range(dbr)], w)
                    for k in T.unroll(dbr):
                        for v in T.unroll(nv):
                            h[(p * nbp + blk) * dbr + k, T.ramp(v * w, 1, w)] = hl[
                                k, T.ramp(v * w, 1, w)]

    return func


def selective_kernel(length: int, d: int, n: int, skip: bool, w: int, dbr: int,
                     threads: int, exp2: Any = vexp2) -> PrimFunc:
    nv = n // w
    nb = d // dbr
    skip_on = int(skip)
    block_loop = T.parallel if threads > 1 else T.serial

    @T.prim_func
    def func(h0: T.Buffer((d, n), F32), dt: T.Buffer((length, d), F32),
             x: T.Buffer((length, d), F32), bm: T.Buffer((length, n), F32),
             cm: T.Buffer((length, n), F32), am: T.Buffer((d, n), F32),
             dskip: T.Buffer((d,), F32), h: T.Buffer((d, n), F32),
             y: T.Buffer((length, d), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        for blk in block_loop(nb):
            hl = T.alloc_buffer((dbr, n), F32, scope="global")
            for k in T.unroll(dbr):
                for v in T.unroll(nv):
                    hl[k, T.ramp(v * w, 1, w)] = h0[blk * dbr + k, T.ramp(v * w, 1, w)]
            for t in T.serial(length):
                for k in T.unroll(dbr):
                    for v in T.unroll(nv):
                        ch = T.meta_var(blk * dbr + k)
                        lane = T.meta_var(T.ramp(v * w, 1, w))
                        x2 = T.meta_var(bcast(dt[t, ch] * T.float32(LOG2E), w) * am[ch, lane])
                        hl[k, lane] = (exp2(x2, w) * hl[k, lane]
                                       + bcast(dt[t, ch] * x[t, ch], w) * bm[t, lane])
                rows = T.meta_var(T.ramp(blk * dbr, 1, dbr))
                readout = T.meta_var(transpose_reduce(
                    [tree_sum([hl[k, T.ramp(v * w, 1, w)] * cm[t, T.ramp(v * w, 1, w)]
                               for v in range(nv)]) for k in range(dbr)], w))
                if skip_on == 1:
                    y[t, rows] = readout + dskip[rows] * x[t, rows]
                else:
                    y[t, rows] = readout
            for k in T.unroll(dbr):
                for v in T.unroll(nv):
                    h[blk * dbr + k, T.ramp(v * w, 1, w)] = hl[k, T.ramp(v * w, 1, w)]

    # Without Dskip the node's kernel has no skip parameter (the loop nest never reads it).
    return func if skip else _without_skip(func)


def _without_skip(func: PrimFunc) -> PrimFunc:
    return internalise_params(func, [True] * 6 + [False, True, True])
