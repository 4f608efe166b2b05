"""The WebAssembly target: a whole model compiled into one standalone .wasm (wasm32, SIMD128).

Kernels are scheduled by the CPU templates, sized by this target's answers (4 fp32 lanes of a
128-bit vector, an 8-register budget for register tiles, one thread unless asked), compiled by
TVM's LLVM backend for wasm32, and linked by zig's wasm-ld with a generated graph function
(targets/wasm/graph_c.py): one call into wasm runs the model. Sessions run it in wasmtime; the
tuner measures candidates there ("wasm") or in Node.js/V8 ("wasm-node"). threads > 1 builds the
threads variant (shared memory; the JS host runs the worker pool). See
shared/notes/wasm-target.md for the recipe and its measurements.

Instruction sets (targets/wasm/variants.py): "wasm" builds a relaxed-SIMD module and a plain
SIMD128 one, and each host runs the best its engine supports; "wasm-simd128" and "wasm-relaxed"
build one of them only. Kernels are compiled, and tuning candidates timed, for the variant the
measuring engine runs (the fingerprint names it); the other is compiled from the same schedules
when the whole artifact is linked.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from onnxjit.compiler import tvm_api
from onnxjit.compiler.errors import OnnxJitError
from onnxjit.targets.base import MeasureResult, Target, fingerprint_versions, time_calls
from onnxjit.targets.wasm.fastmath import wasm_fast_math
from onnxjit.targets.wasm.toolchain import link, tvm_wasm_target, zig_version
from onnxjit.targets.wasm.variants import (RELAXED, SCALAR, SIMD128, VARIANTS, Variant,
                                           node_runs, wasmtime_runs)

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
    # The scheduled IRModule, to compile the artifact's other instruction-set variants from.
    source: Any = field(default=None, repr=False, compare=False)

    @property
    def variant(self) -> Variant:
        return RELAXED if self.relaxed_simd else SIMD128 if self.simd else SCALAR


class WasmTarget(Target):
    """`engine`: where the tuner times candidates: "wasmtime" (Cranelift, in-process) or "node"
    (V8, what browsers run; the two rank some tilings differently). Sessions run in wasmtime.

    `variant`: the instruction sets the artifact carries (targets/wasm/variants.py). "auto"
    (target "wasm"): relaxed SIMD and plain SIMD128 modules, hosts pick the best their engine
    validates; "simd128" (target "wasm-simd128") or "relaxed-simd" ("wasm-relaxed"): that one
    only. `measured` is the one the engine here runs: what sessions run and the tuner times.
    """

    name = "wasm"
    simd_cpu = True
    # Winograd 3x3 convs (compiler/passes/winograd.py): in wasmtime, C=K=32 at 28x28 0.486 ->
    # 0.391 ms, C=K=64 at 14x14 0.516 -> 0.360 ms (relaxed SIMD, 1 thread)
    winograd_convs = True

    def __init__(self, threads: int | None = None, simd: bool = True,
                 engine: str = "wasmtime", variant: str = "auto") -> None:
        if threads is not None and threads < 1:
            raise OnnxJitError(f"threads must be >= 1, got {threads}")
        if engine not in ("wasmtime", "node"):
            raise OnnxJitError(f"unknown wasm engine {engine!r}: 'wasmtime' or 'node'")
        if variant not in ("auto", SIMD128.name, RELAXED.name):
            raise OnnxJitError(f"unknown wasm variant {variant!r}: 'auto', 'simd128' or "
                               "'relaxed-simd'")
        if variant == RELAXED.name and not simd:
            raise OnnxJitError("relaxed SIMD builds need SIMD128")
        # One thread unless asked: the threads variant needs shared memory, which browsers give
        # only to cross-origin-isolated pages, and a worker pool the host starts.
        self.threads = threads or 1
        self.simd = simd
        self.engine = engine
        # Best first: hosts run the first one their engine validates.
        self.variants: tuple[Variant, ...] = (
            (SCALAR,) if not simd else (RELAXED, SIMD128) if variant == "auto"
            else (VARIANTS[variant],))
        # (tuning workers rebuild the target from its name)
        self.name = ("wasm-node" if engine == "node" else "wasm" if variant == "auto"
                     else "wasm-relaxed" if variant == RELAXED.name else "wasm-simd128")

    @cached_property
    def measured(self) -> Variant:
        """The variant this target's engine runs: sessions run it, the tuner times it."""
        runs = wasmtime_runs if self.engine == "wasmtime" else node_runs
        for variant in self.variants:
            if runs(variant):
                return variant
        raise OnnxJitError(f"target {self.name}: the {self.engine} engine here does not run "
                           f"{self.variants[0].name} (Node 20 needs "
                           "--experimental-wasm-relaxed-simd; use target wasm or wasm-simd128)")

    @property
    def relaxed_simd(self) -> bool:
        return self.measured.relaxed_simd

    # Vector registers a register tile may fill (accumulators + B vectors + one A broadcast):
    # engines map wasm locals onto x86's 16 xmm registers, V8 keeps one as scratch and each
    # product needs a temporary (no FMA). Only with one k step per loop body (below): LLVM
    # hoists the loads of unrolled steps, which the engines then spill. Measured in Node 20 on
    # MatMul 256^3 (Xeon, one process): 2x16 and 4x8 tiles with kt=1 run at ~91% of a
    # register-only mul+add loop and 1.2-1.4x faster than 2x8 with kt=4 (the former pick);
    # 6x8 (15 registers) spills and is 1.3x slower than 4x8; kt=4 on a 2x16 tile 1.5x slower.
    # The relaxed-SIMD module (FMA: no temporary) uses the same tiles: 6x8 with 12 accumulators
    # ran 1.3x slower than 2x16 there too (Node 20 and 24), and tuning in Node 24 keeps 2x16.
    vector_registers = 14
    matmul_k_unroll = (1, 2)
    # MatMul rows are padded to a multiple of 4, not the CPU's 6 (LayoutHints): wasm's tiles are
    # 1, 2 or 4 rows, and 256 rows padded to 258 allowed only 2-row tiles and one row block. A
    # whole MatMul 256^3 + Softmax (4x8 tiles, no padding) vs 258 rows (2x16), A/B in one process:
    # Node 24 relaxed 1.06-1.09x, SIMD128 1.00-1.03x; Node 20 SIMD128 1.01-1.02x, but relaxed
    # (flagged) 0.93-0.95x.
    matmul_row_grain = 4

    @property
    def vector_lanes(self) -> int:
        """fp32 lanes of one wasm SIMD128 vector (1: scalar wasm)."""
        return 4 if self.simd else 1

    def tvm_target(self, variant: Variant | None = None) -> Any:
        variant = variant or self.measured
        return tvm_wasm_target(variant.simd, self.threads, variant.relaxed_simd)

    def fingerprint(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"target": self.name, "simd128": self.simd, "threads": self.threads,
                # the module records are timed on (an engine without relaxed SIMD times the
                # SIMD128 one, and ranks tiles for mul + add instead of FMA)
                "variant": self.measured.name,
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

    def build(self, mod: Any, variant: Variant | None = None) -> WasmObject:
        """The kernels of `mod` as one wasm32 object, for `variant` (default: the measured one;
        `objects` compiles the artifact's others from the same IRModule when it is linked)."""
        variant = variant or self.measured
        with wasm_fast_math():
            executable = tvm_api.compile_module(mod, self.tvm_target(variant))
        with tempfile.TemporaryDirectory(prefix="onnxjit-wasm-") as tmp:
            path = os.path.join(tmp, "kernels.o")
            tvm_api.write_object(executable, path)
            with open(path, "rb") as f:
                data = f.read()
        names = tuple(str(gv.name_hint) for gv in mod.functions.keys())
        return WasmObject(data, names, variant.simd, self.threads, variant.relaxed_simd, mod)

    def objects(self, built: WasmObject) -> list[WasmObject]:
        """`built` in every variant the artifact carries, best first (compiling the missing ones
        from its IRModule)."""
        return [built if built.variant == v else self.build(built.source, v)
                for v in self.variants]

    def executor(self, compiled: Any) -> Any:
        """Runs the measured variant in wasmtime; its `model` (the whole artifact, every
        variant) is linked on first use, so sessions that never export skip the other build."""
        from onnxjit.runtime.wasm_host import WasmExecutor
        from onnxjit.targets.wasm.model import link_model

        built: WasmObject | None = compiled.module
        here = link_model(compiled, [built])
        if built is None or len(self.variants) == 1:
            return WasmExecutor(here.module(), here.manifest, here)
        return WasmExecutor(here.module(), here.manifest,
                            lambda: link_model(compiled, self.objects(built)))

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
