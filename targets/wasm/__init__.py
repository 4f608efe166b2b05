"""The WebAssembly target: a whole model compiled into one standalone .wasm (wasm32, SIMD128).

Kernels are scheduled by the CPU templates, sized by this target's answers (4 fp32 lanes of a
128-bit vector, an 8-register budget for register tiles, one thread unless asked), compiled by
TVM's LLVM backend for wasm32, and linked by zig's wasm-ld with a generated graph function
(targets/wasm/graph_c.py): one call into wasm runs the model. Sessions run it in wasmtime; the
tuner measures candidates there ("wasm") or in Node.js/V8 ("wasm-node"). threads > 1 builds the
threads variant (shared memory; the JS host runs the worker pool). See
shared/notes/wasm-target.md for the recipe and its measurements.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from onnxjit.compiler import tvm_api
from onnxjit.compiler.errors import OnnxJitError
from onnxjit.targets.base import MeasureResult, Target, fingerprint_versions, time_calls
from onnxjit.targets.wasm.fastmath import wasm_fast_math
from onnxjit.targets.wasm.toolchain import link, tvm_wasm_target, zig_version

__all__ = ["WasmObject", "WasmTarget"]
TUNING_SHARED_MEMORY = 1 << 30   # max memory of a threaded single-kernel module (tuning)


@dataclass(frozen=True)
class WasmObject:
    """What WasmTarget.build returns: TVM's relocatable wasm32 object holding the kernels."""

    object_bytes: bytes = field(repr=False)
    kernels: tuple[str, ...]
    simd: bool
    threads: int = 1            # > 1: the threads variant (shared memory, atomics)
    relaxed_simd: bool = False  # uses relaxed SIMD (engines without it refuse the module)


class WasmTarget(Target):
    """`engine`: where the tuner times candidates: "wasmtime" (Cranelift, in-process) or "node"
    (V8, what browsers run; the two rank some tilings differently). Sessions run in wasmtime.

    `relaxed_simd` (target "wasm-relaxed"): a * b + c becomes f32x4.relaxed_madd (FMA where the
    CPU has it) and float min/max relaxed_min/max (NaN and -0 results engine-defined). Chromium
    (114+) and wasmtime run such modules; Node 20 only with --experimental-wasm-relaxed-simd,
    other engines refuse them, so the default build stays plain SIMD128.
    """

    name = "wasm"
    simd_cpu = True

    def __init__(self, threads: int | None = None, simd: bool = True,
                 engine: str = "wasmtime", relaxed_simd: bool = False) -> None:
        if threads is not None and threads < 1:
            raise OnnxJitError(f"threads must be >= 1, got {threads}")
        if engine not in ("wasmtime", "node"):
            raise OnnxJitError(f"unknown wasm engine {engine!r}: 'wasmtime' or 'node'")
        if relaxed_simd and (engine != "wasmtime" or not simd):
            raise OnnxJitError("relaxed SIMD builds are tuned in wasmtime (Node 20 needs a flag "
                               "for them) and need SIMD128")
        # One thread unless asked: the threads variant needs shared memory, which browsers give
        # only to cross-origin-isolated pages, and a worker pool the host starts.
        self.threads = threads or 1
        self.simd = simd
        self.engine = engine
        self.relaxed_simd = relaxed_simd
        # (tuning workers rebuild the target from its name)
        self.name = "wasm-node" if engine == "node" else "wasm-relaxed" if relaxed_simd else "wasm"

    # Vector registers a register tile may fill (accumulators + B vectors + one A broadcast):
    # engines map wasm locals onto x86's 16 xmm registers, V8 keeps one as scratch and each
    # product needs a temporary (no FMA). Only with one k step per loop body (below): LLVM
    # hoists the loads of unrolled steps, which the engines then spill. Measured in Node 20 on
    # MatMul 256^3 (Xeon, one process): 2x16 and 4x8 tiles with kt=1 run at ~91% of a
    # register-only mul+add loop and 1.2-1.4x faster than 2x8 with kt=4 (the former pick);
    # 6x8 (15 registers) spills and is 1.3x slower than 4x8; kt=4 on a 2x16 tile 1.5x slower.
    vector_registers = 14
    matmul_k_unroll = (1, 2)

    @property
    def vector_lanes(self) -> int:
        """fp32 lanes of one wasm SIMD128 vector (1: scalar wasm)."""
        return 4 if self.simd else 1

    def tvm_target(self) -> Any:
        return tvm_wasm_target(self.simd, self.threads, self.relaxed_simd)

    def fingerprint(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"target": self.name, "simd128": self.simd, "threads": self.threads,
                "relaxed_simd": self.relaxed_simd,
                # records are measured in this engine: another one may rank differently
                "engine": self._engine_version(version), "zig": zig_version(),
                **fingerprint_versions()}

    def _engine_version(self, version: Callable[[str], str]) -> str:
        if self.engine == "wasmtime":
            return f"wasmtime-{version('wasmtime')}"
        import shutil
        import subprocess

        node = shutil.which("node")
        found = subprocess.run([node, "--version"], capture_output=True, text=True,
                               check=False).stdout.strip() if node else "absent"
        return f"node-{found}"

    def build(self, mod: Any) -> WasmObject:
        with wasm_fast_math():
            executable = tvm_api.compile_module(mod, self.tvm_target())
        with tempfile.TemporaryDirectory(prefix="onnxjit-wasm-") as tmp:
            path = os.path.join(tmp, "kernels.o")
            tvm_api.write_object(executable, path)
            with open(path, "rb") as f:
                data = f.read()
        names = tuple(str(gv.name_hint) for gv in mod.functions.keys())
        return WasmObject(data, names, self.simd, self.threads, self.relaxed_simd)

    def executor(self, compiled: Any) -> Any:
        from onnxjit.runtime.wasm_host import WasmExecutor
        from onnxjit.targets.wasm.model import link_model

        model = link_model(compiled)
        return WasmExecutor(model.wasm, model.manifest, model)

    def measure(self, call: Callable[[], None], repeats: int = 7,
                min_seconds: float = 0.01) -> MeasureResult:
        # A call into wasmtime (bind_kernel / WasmExecutor) is timed on the host clock; a
        # NodeKernel times itself inside V8.
        in_engine = getattr(call, "measure_in_engine", None)
        if in_engine is None:
            return time_calls(call, repeats, min_seconds)
        try:
            return MeasureResult(in_engine(repeats, min_seconds))
        except Exception as exc:  # noqa: BLE001  (a failed candidate is data)
            return MeasureResult((), f"{type(exc).__name__}: {exc}")

    def export(self, built: WasmObject, directory: str, stem: str) -> str:
        """A single-kernel module (runtime shim + object) for the tuner's measuring process."""
        obj = os.path.join(directory, stem + ".o")
        with open(obj, "wb") as f:
            f.write(built.object_bytes)
        out = os.path.join(directory, stem + ".wasm")
        link([obj], out, [f"__tvm_ffi_{k}" for k in built.kernels], simd=built.simd,
             shared_memory=TUNING_SHARED_MEMORY if built.threads > 1 else 0)
        os.unlink(obj)
        return out

    def bind(self, artifact: str, name: str,
             arrays: Sequence[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        from onnxjit.runtime.wasm_host import NodeKernel, bind_kernel

        if self.engine == "node":
            kernel = NodeKernel(artifact, name, arrays)
            return kernel, kernel.fetch
        return bind_kernel(artifact, name, arrays)
