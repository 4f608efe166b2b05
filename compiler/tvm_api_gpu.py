"""The GPU half of the TVM boundary (see tvm_api.py, which re-exports everything here; import it
from there). Only tvm_api.py imports this module, and the two are the only ones importing TVM.

Device targets, dlight's default GPU schedules, device builds with the host functions' kernel
launches read from the IR, and TVM's CUDA runtime. Everything returned is plain Python data or an
opaque TVM handle: onnxjit's own types for it live in compiler/tvm_gpu.py.
"""
from __future__ import annotations

from typing import Any, Union

import tvm
import tvm.s_tir  # noqa: F401  (registers the schedule passes dlight uses)
import tvm_ffi
from tvm.s_tir import dlight

# A kernel argument: ("param", i) / ("temp", i) for buffers, or a constant scalar.
RawArg = Union[tuple[str, int], int, float]
# One launch: device kernel name, its arguments, launch extents by tag (blockIdx.x, threadIdx.y...)
RawLaunch = tuple[str, tuple[RawArg, ...], dict[str, int]]


def cuda_target(arch: str, max_shared_memory: int, max_threads: int = 1024) -> Any:
    return tvm.target.Target({"kind": "cuda", "arch": arch, "max_num_threads": max_threads,
                              "max_shared_memory_per_block": max_shared_memory,
                              "thread_warp_size": 32})


def webgpu_target(max_threads: int, max_shared_memory: int) -> Any:
    return tvm.target.Target({"kind": "webgpu", "max_num_threads": max_threads,
                              "max_shared_memory_per_block": max_shared_memory})


def dlight_schedule(func: Any, target: Any) -> Any | None:
    """dlight's default GPU schedule of one PrimFunc (None if no rule bound every block)."""
    mod = tvm.IRModule({"main": func})
    with target:
        out = dlight.ApplyDefaultSchedule(
            dlight.gpu.Matmul(), dlight.gpu.GEMV(), dlight.gpu.Reduction(),
            dlight.gpu.GeneralReduction(), dlight.gpu.Fallback())(mod)
    result = out["main"]
    unchanged = result.same_as(func) and "thread_binding" not in result.script()
    return None if unchanged else result


def build_with_launches(mod: Any, target: Any
                        ) -> tuple[Any, str, str, dict[str, tuple[list[RawLaunch], list[int]]]]:
    """Compiles `mod` for a device target: (executable, target kind, device source, per host
    function of `mod` its launches and its host-allocated temporaries' byte sizes).

    The launches are read from the IR just before `MakePackedAPI`, when the host functions are
    plain sequences of `call_ffi_kernel`, so a runtime TVM does not ship can launch the kernels.
    """
    captured: dict[str, Any] = {}

    @tvm.instrument.pass_instrument
    class _Capture:
        def run_before_pass(self, m: Any, info: Any) -> None:
            if info.name.endswith("MakePackedAPI"):
                captured["mod"] = m

    with tvm.transform.PassContext(instruments=[_Capture()]):
        ex = tvm.compile(mod, target=target)
    kind = str(target.kind.name)
    dev = [m for m in ex.mod.imports if m.kind == kind]
    source = str(dev[0].inspect_source()) if dev else ""
    wanted = {str(g.name_hint) for g in mod.get_global_vars()}
    functions = {}
    for gv, func in captured["mod"].functions_items():
        if "tirx.is_entry_func" in func.attrs or "global_symbol" in func.attrs:
            name = str(func.attrs["global_symbol"]) if "global_symbol" in func.attrs else gv.name_hint
            if name in wanted:
                functions[name] = _host_launches(func)
    return ex, kind, source, functions


def _walk(node: Any, visit: Any) -> None:
    """Pre-order walk over a TVM object graph by reflection (0.27 has no Python stmt visitor)."""
    if isinstance(node, (list, tuple, tvm_ffi.Array)):
        for x in node:
            _walk(x, visit)
        return
    if not isinstance(node, tvm_ffi.Object) or isinstance(
            node, (tvm.tirx.Var, tvm.ir.Span, tvm.target.Target)):
        return
    visit(node)
    info = getattr(type(node), "__tvm_ffi_type_info__", None)
    while info is not None:
        for field in info.fields:
            if field.name != "span":
                _walk(getattr(node, field.name, None), visit)
        info = info.parent_type_info


def _host_launches(host: Any) -> tuple[list[RawLaunch], list[int]]:
    params = list(host.params)
    decls: list[tuple[Any, Any]] = []
    temps: list[Any] = []
    calls: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, tvm.tirx.DeclBuffer):
            decls.append((node.buffer, node.data))
        elif isinstance(node, tvm.tirx.AllocBuffer):
            temps.append(node.buffer)
        elif isinstance(node, tvm.ir.Call) and getattr(node.op, "name", "") == "tirx.call_ffi_kernel":
            calls.append(node)

    _walk(host.body, visit)

    def root(expr: Any) -> Any:
        while isinstance(expr, tvm.ir.Call) and expr.op.name == "tirx.buffer_data":
            view = expr.args[0]
            nxt = [d for b, d in decls if b.same_as(view)]
            if not nxt:
                return view
            expr = nxt[0]
        return expr if isinstance(expr, tvm.tirx.Var) else None

    def arg(expr: Any) -> RawArg:
        r = root(expr)
        if r is None:
            if isinstance(expr, (tvm.tirx.IntImm, tvm.tirx.FloatImm)):
                return expr.value
            raise ValueError(f"kernel argument {expr} is neither a buffer nor a constant")
        for i, p in enumerate(params):
            if p.same_as(r):
                return ("param", i)
        for i, t in enumerate(temps):
            if t.same_as(r) or t.data.same_as(r):
                return ("temp", i)
        raise ValueError(f"kernel buffer {r} is neither a parameter nor a temporary")

    launches: list[RawLaunch] = []
    for call in calls:
        tags = [str(t) for t in call.attrs.launch_params]
        n = len(tags)
        dims = dict(zip(tags, (int(x) for x in call.args[len(call.args) - n:])))
        args = tuple(arg(a) for a in call.args[1:len(call.args) - n])
        launches.append((str(call.args[0].value), args, dims))
    sizes = []
    for t in temps:
        count = 1
        for d in t.shape:
            count *= int(d)
        sizes.append(count * tvm.DataType(str(t.dtype)).bits // 8)
    return launches, sizes


# -- TVM's CUDA runtime (a GPU and its driver) ------------------------------------------------
def cuda_device_exists() -> bool:
    try:
        return bool(tvm.cuda(0).exist)
    except Exception:  # noqa: BLE001  (no driver: the CUDA runtime is not even loadable)
        return False


def cuda_tensor(array: Any) -> Any:
    return tvm.runtime.tensor(array, tvm.cuda(0))


def cuda_empty(shape: tuple[int, ...], dtype: str) -> Any:
    return tvm.runtime.empty(shape, dtype, tvm.cuda(0))


def cuda_sync() -> None:
    tvm.cuda(0).sync()
