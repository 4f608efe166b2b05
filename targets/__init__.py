"""Targets by name: "cpu", "cuda" (sm_80; "cuda:sm_90"; alias "gpu"), "webgpu" and "wasm"
(relaxed-SIMD and SIMD128 modules, hosts run the best their engine supports; "wasm-node": tuned in
V8; "wasm-simd128" / "wasm-relaxed": that instruction set only)."""
from __future__ import annotations

from collections.abc import Callable

from onnxjit.targets.base import MeasureResult, Target

__all__ = ["MeasureResult", "Target", "get_target", "target_names"]


def _cpu(threads: int | None) -> Target:
    from onnxjit.targets.cpu import CpuTarget

    return CpuTarget(threads)


def _cuda(threads: int | None, arch: str = "sm_80") -> Target:
    from onnxjit.targets.gpu import CudaTarget

    return CudaTarget(threads, arch)


def _webgpu(threads: int | None) -> Target:
    from onnxjit.targets.gpu import WebGpuTarget

    return WebGpuTarget(threads)


def _wasm(threads: int | None, engine: str = "wasmtime", variant: str = "auto") -> Target:
    from onnxjit.targets.wasm import WasmTarget

    return WasmTarget(threads, engine=engine, variant=variant)


_FACTORIES: dict[str, Callable[[int | None], Target]] = {
    "cpu": _cpu, "cuda": _cuda, "gpu": _cuda, "webgpu": _webgpu, "wasm": _wasm,
    "wasm-node": lambda threads: _wasm(threads, "node"),
    "wasm-relaxed": lambda threads: _wasm(threads, variant="relaxed-simd"),
    "wasm-simd128": lambda threads: _wasm(threads, variant="simd128"),
    "cuda:sm_90": lambda threads: _cuda(threads, "sm_90"),
}


def target_names() -> list[str]:
    return sorted(_FACTORIES)


def get_target(name: str | Target, threads: int | None = None) -> Target:
    if isinstance(name, Target):
        return name
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; available: {', '.join(target_names())}") from None
    return factory(threads)
