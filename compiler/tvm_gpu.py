"""TVM's device code generation (CUDA, WebGPU), kept beside tvm_api.py: the two are the only
modules that import TVM. tvm_api.py serves the CPU path; this one the GPU targets.

`build_device` compiles an IRModule for a device target and returns, besides TVM's executable, the
device source and each host function's launch list: which device kernels it calls, in order, with
which of its parameters (or host-allocated temporaries) and launch extents. The list is read from
the IR just before `MakePackedAPI` (the host functions are then plain sequences of
`call_ffi_kernel`), so a runtime TVM does not ship (WebGPU through wgpu) can launch the kernels.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

import tvm
import tvm.s_tir  # noqa: F401  (registers the schedule passes dlight uses)
import tvm_ffi
from tvm.s_tir import dlight

from onnxjit.compiler.tvm_api import IRModule, PrimFunc


@dataclass(frozen=True)
class BufferArg:
    kind: str                  # "param": index into the function's params; "temp": into temps
    index: int


@dataclass(frozen=True)
class Launch:
    kernel: str                # device function name (a section of the source)
    args: tuple[BufferArg | int | float, ...]   # buffers, or constant scalar (POD) arguments
    grid: tuple[int, int, int]
    block: tuple[int, int, int]


@dataclass(frozen=True)
class TempBuffer:
    nbytes: int


@dataclass(frozen=True)
class HostFunction:
    launches: tuple[Launch, ...]
    temps: tuple[TempBuffer, ...]


@dataclass(frozen=True)
class DeviceBuild:
    executable: Any = None                # tvm Executable (host + device module)
    source: str = ""                      # the device module's source (CUDA C++ or WGSL)
    kernels: dict[str, str] | None = None  # kernel name -> its own source section (WGSL)
    functions: dict[str, HostFunction] | None = None


def cuda_target(arch: str, max_shared_memory: int, max_threads: int = 1024) -> Any:
    return tvm.target.Target({"kind": "cuda", "arch": arch, "max_num_threads": max_threads,
                              "max_shared_memory_per_block": max_shared_memory,
                              "thread_warp_size": 32})


def webgpu_target(max_threads: int, max_shared_memory: int) -> Any:
    return tvm.target.Target({"kind": "webgpu", "max_num_threads": max_threads,
                              "max_shared_memory_per_block": max_shared_memory})


def dlight_schedule(func: PrimFunc, target: Any) -> PrimFunc | None:
    """dlight's default GPU schedule of one function (None if no rule bound every block)."""
    mod = IRModule({"main": func})
    with target:
        out = dlight.ApplyDefaultSchedule(
            dlight.gpu.Matmul(), dlight.gpu.GEMV(), dlight.gpu.Reduction(),
            dlight.gpu.GeneralReduction(), dlight.gpu.Fallback())(mod)
    result = out["main"]
    return None if result.same_as(func) and not _has_thread_binding(result) else result


def _has_thread_binding(func: PrimFunc) -> bool:
    return "thread_binding" in func.script()


def build_device(mod: IRModule, target: Any) -> DeviceBuild:
    """Compiles `mod` for a device target; the launch lists are captured on the way."""
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
    names = re.findall(r"(?m)^// Function: (\S+)$", source)
    chunks = re.split(r"(?m)^// Function: \S+\n(?://-+\n)?", source)
    kernels = {n: c for n, c in zip(names, chunks[1:]) if c.strip()}
    if kind == "webgpu":  # TVM prints infinities as `inff`, which WGSL does not know
        kernels = {n: _WGSL_INF.sub("bitcast<f32>(0x7f800000u)", c) for n, c in kernels.items()}
    functions = {}
    for gv, func in captured["mod"].functions_items():
        if "tirx.is_entry_func" in func.attrs or "global_symbol" in func.attrs:
            name = str(func.attrs["global_symbol"]) if "global_symbol" in func.attrs else gv.name_hint
            if any(name == str(g.name_hint) for g in mod.get_global_vars()):
                functions[name] = _host_function(func)
    return DeviceBuild(ex, source, kernels, functions)


_WGSL_INF = re.compile(r"\binff\b")


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


def _host_function(host: PrimFunc) -> HostFunction:
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

    def arg(expr: Any) -> BufferArg | int | float:
        r = root(expr)
        if r is None:
            if isinstance(expr, (tvm.tirx.IntImm, tvm.tirx.FloatImm)):
                return expr.value
            raise ValueError(f"kernel argument {expr} is neither a buffer nor a constant")
        for i, p in enumerate(params):
            if p.same_as(r):
                return BufferArg("param", i)
        for i, t in enumerate(temps):
            if t.same_as(r) or t.data.same_as(r):
                return BufferArg("temp", i)
        raise ValueError(f"kernel buffer {r} is neither a parameter nor a temporary")

    launches = []
    for call in calls:
        tags = [str(t) for t in call.attrs.launch_params]
        n = len(tags)
        dims = dict(zip(tags, (int(x) for x in call.args[len(call.args) - n:])))
        args = tuple(arg(a) for a in call.args[1:len(call.args) - n])
        grid = tuple(dims.get(f"blockIdx.{a}", 1) for a in "xyz")
        block = tuple(dims.get(f"threadIdx.{a}", 1) for a in "xyz")
        launches.append(Launch(str(call.args[0].value), args, grid, block))  # type: ignore[arg-type]
    sizes = []
    for t in temps:
        count = 1
        for d in t.shape:
            count *= int(d)
        sizes.append(TempBuffer(max(16, count * tvm.DataType(str(t.dtype)).bits // 8)))
    return HostFunction(tuple(launches), tuple(sizes))


# -- nvcc / ptxas (no GPU needed) -------------------------------------------------------------
@dataclass(frozen=True)
class PtxasUsage:
    kernel: str
    registers: int
    shared_bytes: int
    spill_stores: int
    spill_loads: int
    stack_bytes: int


def nvcc_available() -> bool:
    return shutil.which("nvcc") is not None


def _nvcc(source: str, arch: str, fmt: str, extra: list[str]) -> tuple[bytes, str]:
    with tempfile.TemporaryDirectory() as tmp:
        cu, out = os.path.join(tmp, "k.cu"), os.path.join(tmp, f"k.{fmt}")
        with open(cu, "w", encoding="utf-8") as f:
            f.write(source)
        done = subprocess.run(["nvcc", f"--{fmt}", f"-arch={arch}", "-O3", *extra, "-o", out, cu],
                              capture_output=True, text=True, check=False)
        text = done.stdout + done.stderr
        if done.returncode:
            raise RuntimeError(f"nvcc --{fmt} for {arch} failed:\n{text[-3000:]}")
        with open(out, "rb") as f:
            return f.read(), text


def compile_cuda(source: str, arch: str, fmt: str = "ptx") -> bytes:
    """CUDA C++ -> PTX ("ptx") or cubin ("cubin") with nvcc: a host-side compile, no GPU needed."""
    return _nvcc(source, arch, fmt, [])[0]


def ptxas_usage(source: str, arch: str) -> list[PtxasUsage]:
    """Per-kernel registers, shared memory and spills from `nvcc --cubin -Xptxas -v`."""
    return parse_ptxas(_nvcc(source, arch, "cubin", ["-Xptxas", "-v"])[1])


def parse_ptxas(text: str) -> list[PtxasUsage]:
    out: list[PtxasUsage] = []
    blocks = re.split(r"ptxas info\s*: Compiling entry function '", text)[1:]
    for block in blocks:
        name = block.split("'", 1)[0]
        regs = re.search(r"Used (\d+) registers", block)
        smem = re.search(r"(\d+) bytes smem", block)
        spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", block)
        stack = re.search(r"(\d+) bytes stack frame", block)
        out.append(PtxasUsage(name, int(regs.group(1)) if regs else 0,
                              int(smem.group(1)) if smem else 0,
                              int(spill.group(1)) if spill else 0,
                              int(spill.group(2)) if spill else 0,
                              int(stack.group(1)) if stack else 0))
    return out


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
