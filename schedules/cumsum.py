"""CPU template for CumSum with a constant axis: row order over the scanned axis.

Time (the scanned axis) is the outer loop and the whole inner row the vectorised inner loop:
y[j] = y[j-1] + x[j], so the previous row stays in L1 and memory sees two sequential streams
(shared/notes/proto-scan.md §4: 1.3x the column-block order). With several threads the inner
row is split into column chunks, one per task.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import prod, read_spec
from onnxjit.compiler.tvm_api import PrimFunc, T
from onnxjit.schedules.base import Knobs, ScheduleTemplate

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target


class CumSumTemplate(ScheduleTemplate):
    name = "cumsum"
    streams_inputs = True

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        spec = _spec(kernel)
        return (target.simd_cpu and spec is not None and spec["axis"] is not None
                and _inner(spec) >= 1)

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        lanes = getattr(target, "vector_lanes", 8)
        spec = _spec(kernel)
        points: list[Knobs] = [{"vec": v, "unroll": u, "nt": False}
                               for v in (lanes, 2 * lanes) for u in (1, 2)]
        if spec is not None and _nt_ok(spec, lanes, target):
            points.append({"vec": lanes, "unroll": 1, "nt": True})
        return points

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        # Non-temporal stores skip reading the output's lines before writing them (a third of
        # the DRAM traffic; proto-scan.md §4: 1.4x cold, 1.9x hot) where the row fits them.
        space = self.space(kernel, target)
        return space[-1] if space[-1]["nt"] else space[0]

    def apply(self, sch: Any, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("cumsum template generates its loop nest (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec = _spec(kernel)
        assert spec is not None
        if dict(knobs) not in [dict(k) for k in self.space(kernel, target)]:
            raise KnobError(f"cumsum: bad knobs {dict(knobs)}")
        vec, unroll = int(knobs["vec"]), int(knobs["unroll"])
        if vec < 1 or unroll not in (1, 2):
            raise KnobError(f"cumsum: bad knobs {dict(knobs)}")
        params = kernel.func.params
        if knobs["nt"]:
            return _nt_kernel(spec, params, vec, target.threads).with_attr(
                "global_symbol", kernel.name)
        return _rows_kernel(spec, params, vec * unroll, vec, target.threads).with_attr(
            "global_symbol", kernel.name)


def _spec(kernel: Kernel) -> dict[str, Any] | None:
    if kernel.op_types != ("CumSum",):
        return None
    spec = read_spec(kernel.func)
    return spec if spec is not None and spec.get("op") == "CumSum" else None


def _inner(spec: dict[str, Any]) -> int:
    return prod(spec["shape"][spec["axis"] + 1:])


def _rows_kernel(spec: dict[str, Any], params: Any, block: int, vec: int,
                 threads: int) -> PrimFunc:
    dims = [int(d) for d in spec["shape"]]
    axis, dtype = int(spec["axis"]), str(spec["dtype"])
    outer, n, inner = prod(dims[:axis]), dims[axis], prod(dims[axis + 1:])
    total = prod(dims)
    excl, rev = int(spec["exclusive"]), int(spec["reverse"])
    x_p, a_p, y_p = params
    nblk = inner // block                   # full vector blocks of a row
    tail = inner - nblk * block             # scalar remainder
    # With threads, each task owns a column chunk of every row (a multiple of the block).
    tasks = max(1, min(threads, nblk)) if threads > 1 else 1
    per_task = (nblk + tasks - 1) // tasks
    zero = T.Cast(dtype, 0)
    task_loop = T.parallel if tasks > 1 else T.serial

    @T.prim_func
    def func(x: T.Buffer(x_p.shape, dtype), axis_in: T.Buffer(a_p.shape, a_p.dtype),
             y: T.Buffer(y_p.shape, dtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        xf = T.decl_buffer((total,), dtype, data=x.data)
        yf = T.decl_buffer((total,), dtype, data=y.data)
        for o in T.serial(outer):
            for task in task_loop(tasks):
                for b in T.serial(per_task):
                    if task * per_task + b < nblk:
                        for v in T.vectorized(block):
                            first = T.meta_var((o * n + (0 if rev == 0 else n - 1)) * inner
                                               + (task * per_task + b) * block + v)
                            yf[first] = xf[first] if excl == 0 else zero
                for j in T.serial(n - 1):
                    for b in T.serial(per_task):
                        if task * per_task + b < nblk:
                            for v in T.vectorized(block):
                                col = T.meta_var((task * per_task + b) * block + v)
                                jj = T.meta_var(j + 1 if rev == 0 else n - 2 - j)
                                prev = T.meta_var(j if rev == 0 else n - 1 - j)
                                idx = T.meta_var((o * n + jj) * inner + col)
                                pidx = T.meta_var((o * n + prev) * inner + col)
                                yf[idx] = yf[pidx] + xf[idx if excl == 0 else pidx]
        for o in T.serial(outer):
            for c in T.serial(tail):
                acc = T.alloc_buffer((1,), dtype, scope="local")
                acc[0] = zero
                for j in T.serial(n):
                    jj = T.meta_var(j if rev == 0 else n - 1 - j)
                    idx = T.meta_var((o * n + jj) * inner + nblk * block + c)
                    if excl == 1:
                        yf[idx] = acc[0]
                        acc[0] = acc[0] + xf[idx]
                    else:
                        acc[0] = acc[0] + xf[idx]
                        yf[idx] = acc[0]

    return func


NT_LL = """
define void @onnxjit_nt_store_v{w}f32(ptr %p, <{w} x float> %v) #0 {{
  store <{w} x float> %v, ptr %p, align {align}, !nontemporal !0
  ret void
}}
define void @onnxjit_sfence() #0 {{
  call void @llvm.x86.sse.sfence()
  ret void
}}
declare void @llvm.x86.sse.sfence()
attributes #0 = {{ alwaysinline nounwind }}
!0 = !{{i32 1}}
"""


def _nt_ok(spec: dict[str, Any], lanes: int, target: Target) -> bool:
    """Streaming stores: x86 LLVM, float32, rows a whole number of aligned vectors."""
    inner = _inner(spec)
    return (spec["dtype"] == "float32" and lanes in (8, 16) and inner % lanes == 0
            and inner >= 4 * lanes and _x86_host(target))


def _x86_host(target: Target) -> bool:
    # The host CPU target on x86 (by its SIMD flags: LLVM's CPU names change every generation)
    if getattr(target, "name", "") != "cpu":
        return False
    from onnxjit.targets.cpu import cpu_features

    return bool({"sse4_2", "avx", "avx2"} & set(cpu_features()))


def _nt_kernel(spec: dict[str, Any], params: Any, w: int, threads: int) -> PrimFunc:
    """Rows with the running row in a kernel-owned L1 buffer and streaming stores of y (the
    stored rows are never read back: NT stores bypass the cache)."""
    dims = [int(d) for d in spec["shape"]]
    axis, dtype = int(spec["axis"]), str(spec["dtype"])
    outer, n, inner = prod(dims[:axis]), dims[axis], prod(dims[axis + 1:])
    total = prod(dims)
    excl, rev = int(spec["exclusive"]), int(spec["reverse"])
    x_p, a_p, y_p = params
    parts = threads if threads > 1 and inner % (threads * w) == 0 else 1
    per = inner // parts
    nv = per // w
    part_loop = T.parallel if parts > 1 else T.serial
    store = f"onnxjit_nt_store_v{w}f32"
    ll = NT_LL.format(w=w, align=4 * w)

    @T.prim_func
    def func(x: T.Buffer(x_p.shape, dtype), axis_in: T.Buffer(a_p.shape, a_p.dtype),
             y: T.Buffer(y_p.shape, dtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        xf = T.decl_buffer((total,), dtype, data=x.data)
        yf = T.decl_buffer((total,), dtype, data=y.data)
        with T.attr(T.int32(0), "pragma_import_llvm", ll):
            for o in T.serial(outer):
                for p in part_loop(parts):
                    acc = T.alloc_buffer((per,), dtype)
                    for c in T.serial(nv):
                        acc[T.ramp(c * w, 1, w)] = T.Broadcast(T.float32(0), w)
                    for j in T.serial(n):
                        for c in T.serial(nv):
                            jj = T.meta_var(j if rev == 0 else n - 1 - j)
                            idx = T.meta_var((o * n + jj) * inner + p * per + c * w)
                            if excl == 1:
                                T.evaluate(T.call_extern("void", store, T.address_of(yf[idx]),
                                                         acc[T.ramp(c * w, 1, w)]))
                                acc[T.ramp(c * w, 1, w)] = (acc[T.ramp(c * w, 1, w)]
                                                            + xf[T.ramp(idx, 1, w)])
                            else:
                                acc[T.ramp(c * w, 1, w)] = (acc[T.ramp(c * w, 1, w)]
                                                            + xf[T.ramp(idx, 1, w)])
                                T.evaluate(T.call_extern("void", store, T.address_of(yf[idx]),
                                                         acc[T.ramp(c * w, 1, w)]))
            T.evaluate(T.call_extern("void", "onnxjit_sfence"))

    return func
