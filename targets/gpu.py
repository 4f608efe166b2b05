"""The GPU targets: CUDA (an explicit SM arch) and WebGPU (WGSL under the browser's limits).

Both compile through TVM's device code generators (compiler/tvm_gpu.py) and need no GPU to
build: CUDA gives CUDA C++ that nvcc turns into PTX or cubin, WebGPU gives WGSL. Running:
  * CUDA: TVM's CUDA runtime (runtime/gpu_executor.py), where a GPU and its driver exist;
  * WebGPU: wgpu (runtime/wgsl.py) on any Vulkan, Metal or D3D12 adapter (Mesa lavapipe in CI).
Kernels are scheduled by the GPU templates (schedules/gpu_*.py); the CPU templates never apply
(simd_cpu is False).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from onnxjit.compiler import tvm_gpu
from onnxjit.targets.base import MeasureResult, Target, fingerprint_versions, time_calls

# Static __shared__ arrays are limited to 48 KB per block on every arch (more needs opt-in
# dynamic shared memory, which TVM's static allocations do not use).
CUDA_STATIC_SHARED = 48 * 1024
CUDA_ARCHS = ("sm_75", "sm_80", "sm_86", "sm_89", "sm_90")
# The WebGPU spec's guaranteed minimums, which every browser adapter offers.
WEBGPU_MAX_THREADS = 256
WEBGPU_SHARED = 16 * 1024


@dataclass(frozen=True)
class GpuModule:
    """A built set of kernels: TVM's build, the device source, and per kernel its launches."""

    target: str
    build: tvm_gpu.DeviceBuild

    def __getitem__(self, name: str) -> Any:
        """The host function `name` (CUDA with a GPU: a callable taking device tensors)."""
        if self.build.executable is None:
            raise KeyError(name)
        return self.build.executable[name]

    @property
    def source(self) -> str:
        return self.build.source


class GpuTarget(Target):
    """What CUDA and WebGPU share: one device, thread blocks bounded by the target's limits."""

    threads = 1
    simd_cpu = False
    max_threads: int
    max_shared_memory: int
    warp: int = 32

    def describe(self) -> str:
        return f"{self.name} ({self.detail()})"

    def detail(self) -> str:
        return f"{self.max_threads} threads/block, {self.max_shared_memory // 1024} KB shared"

    def build(self, mod: Any) -> GpuModule:
        return GpuModule(self.name, tvm_gpu.build_device(self.legalize(mod), self.tvm_target()))

    def build_check(self, func: Any) -> None:
        """Raises if one scheduled function does not compile for this target."""
        from onnxjit.compiler.tvm_api import IRModule

        tvm_gpu.build_device(self.legalize(IRModule({"main": func})), self.tvm_target())

    def legalize(self, mod: Any) -> Any:
        """The scheduled module in the types the device language has."""
        return mod

    def measure(self, call: Callable[[], None], repeats: int = 7,
                min_seconds: float = 0.01) -> MeasureResult:
        return time_calls(call, repeats, min_seconds)

    def export(self, built: Any, directory: str, stem: str) -> str:
        raise NotImplementedError(f"tuning on {self.name} needs a device: measure with "
                                  "benchmarks/gpu_check.sh on a GPU machine")

    def bind(self, artifact: str, name: str,
             arrays: Sequence[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        raise NotImplementedError(f"tuning on {self.name} needs a device")


class CudaTarget(GpuTarget):
    name = "cuda"
    max_threads = 1024

    def __init__(self, threads: int | None = None, arch: str = "sm_80") -> None:
        if arch not in CUDA_ARCHS:
            raise ValueError(f"unknown CUDA arch {arch!r}; known: {', '.join(CUDA_ARCHS)}")
        self.arch = arch
        self.max_shared_memory = CUDA_STATIC_SHARED

    def detail(self) -> str:
        return f"{self.arch}, {super().detail()}"

    def tvm_target(self) -> Any:
        return tvm_gpu.cuda_target(self.arch, self.max_shared_memory, self.max_threads)

    def fingerprint(self) -> dict[str, Any]:
        return {"target": self.name, "arch": self.arch, **fingerprint_versions()}

    def executor(self, compiled: Any) -> Any:
        from onnxjit.runtime.gpu_executor import CudaExecutor

        return CudaExecutor(compiled)

    def ptx(self, module: GpuModule) -> bytes:
        return tvm_gpu.compile_cuda(module.source, self.arch, "ptx")


class WebGpuTarget(GpuTarget):
    name = "webgpu"

    def __init__(self, threads: int | None = None, max_threads: int = WEBGPU_MAX_THREADS,
                 max_shared_memory: int = WEBGPU_SHARED) -> None:
        self.max_threads = max_threads
        self.max_shared_memory = max_shared_memory
        self.warp = 1  # WGSL has no warp-level operations TVM uses: reductions go through memory

    def tvm_target(self) -> Any:
        return tvm_gpu.webgpu_target(self.max_threads, self.max_shared_memory)

    def legalize(self, mod: Any) -> Any:
        return tvm_gpu.narrow_int64(mod)  # WGSL has no 64-bit integers

    def fingerprint(self) -> dict[str, Any]:
        return {"target": self.name, "max_threads": self.max_threads,
                "max_shared_memory": self.max_shared_memory, **fingerprint_versions()}

    def executor(self, compiled: Any) -> Any:
        from onnxjit.runtime.wgsl import WgslExecutor

        return WgslExecutor(compiled)
