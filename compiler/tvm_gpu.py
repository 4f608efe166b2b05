"""Device builds for the GPU targets (CUDA, WebGPU) and the nvcc/ptxas helpers. TVM itself is
reached through tvm_api.py (its GPU half, tvm_api_gpu.py): this module imports no TVM.

`build_device` compiles an IRModule for a device target and returns, besides TVM's executable, the
device source and each host function's launch list: which device kernels it calls, in order, with
which of its parameters (or host-allocated temporaries) and launch extents, so a runtime TVM does
not ship (WebGPU through wgpu or a browser) can launch the kernels.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

from onnxjit.compiler.errors import BuildError
from onnxjit.compiler.tvm_api import (  # noqa: F401  (re-exported for the targets and runtimes)
    IRModule, RawLaunch, build_with_launches, cuda_device_exists, cuda_empty, cuda_sync,
    cuda_target, cuda_tensor, dlight_schedule, parse_tvmscript, webgpu_target)


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


def build_device(mod: IRModule, target: Any) -> DeviceBuild:
    """Compiles `mod` for a device target; the launch lists are captured on the way."""
    ex, kind, source, raw = build_with_launches(mod, target)
    names = re.findall(r"(?m)^// Function: (\S+)$", source)
    chunks = re.split(r"(?m)^// Function: \S+\n(?://-+\n)?", source)
    kernels = {n: c for n, c in zip(names, chunks[1:]) if c.strip()}
    if kind == "webgpu":
        # TVM prints infinities as `inff`, which WGSL does not know, and a WGSL constant may not
        # be infinite (Tint refuses even bitcast<f32>(0x7f800000u)): the largest finite float
        # stands in (an identity for max/min reductions over finite values).
        kernels = {n: _wgsl_bool_storage(_WGSL_INF.sub("0x1.fffffep+127f", c))
                   for n, c in kernels.items()}
    functions = {name: _host_function(launches, temps) for name, (launches, temps) in raw.items()}
    return DeviceBuild(ex, source, kernels, functions)


_WGSL_INF = re.compile(r"\binff\b")
_WGSL_BOOL = re.compile(r"var<storage, (read|read_write)> (\w+) : array<i8>;")


def _wgsl_bool_storage(wgsl: str) -> str:
    """TVM stores bool buffers as `array<i8>`, which WGSL lacks: they become `array<i32>` (the
    runtimes pass bool values as int32), stores into them converted with i32(); TVM's loads
    already convert with bool()."""
    names = [m.group(2) for m in _WGSL_BOOL.finditer(wgsl)]
    if not names:
        return wgsl
    lines = []
    for line in _WGSL_BOOL.sub(r"var<storage, \1> \2 : array<i32>;", wgsl).split("\n"):
        body = line.lstrip()
        if any(body.startswith(f"{n}[") for n in names) and " = " in body and body.endswith(";"):
            lhs, rhs = line.split(" = ", 1)
            line = f"{lhs} = i32({rhs[:-1]});"
        lines.append(line)
    return "\n".join(lines)


_INT64 = re.compile(r"\b(u?)int64\b")
_INT32_LITERAL = re.compile(r"T\.int32\((-?\d+)\)")


def narrow_int64(mod: IRModule) -> IRModule:
    """WGSL has no 64-bit integers: int64 buffers, arithmetic and casts become int32 (the webgpu
    runtimes move int64 values as int32 and refuse ones outside its range; constants beyond it,
    such as INT64_MAX slice ends, saturate). Done on the TVMScript text of the functions that
    use int64, which TVM parses back."""
    funcs = {}
    for gv, func in mod.functions_items():
        name = str(gv.name_hint)
        text = func.script()
        if _INT64.search(text):
            text = _INT32_LITERAL.sub(_saturated, _INT64.sub(r"\1int32", text))
            try:
                func = parse_tvmscript(text).with_attr("global_symbol", name)
            except Exception as exc:  # noqa: BLE001  (a TVMScript parse error: name the kernel)
                raise BuildError(f"kernel {name}: narrowing int64 to int32 for WGSL failed: "
                                 f"{exc}") from exc
        funcs[name] = func
    return IRModule(funcs)


def _saturated(m: re.Match[str]) -> str:
    return f"T.int32({min(max(int(m.group(1)), -2**31), 2**31 - 1)})"


def _host_function(launches: list[RawLaunch], temps: list[int]) -> HostFunction:
    out = []
    for kernel, args, dims in launches:
        grid = tuple(dims.get(f"blockIdx.{a}", 1) for a in "xyz")
        block = tuple(dims.get(f"threadIdx.{a}", 1) for a in "xyz")
        out.append(Launch(kernel, tuple(BufferArg(*a) if isinstance(a, tuple) else a
                                        for a in args), grid, block))  # type: ignore[arg-type]
    return HostFunction(tuple(out), tuple(TempBuffer(max(16, n)) for n in temps))


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
