"""Instruction-set variants of a wasm build, and which one an engine runs.

A JIT uses the best instruction set the engine it runs in supports (like -march=native):
target "wasm" builds every variant below into the artifact (model.wasm, model.relaxed.wasm,
listed in the manifest), and each host runs the best one its engine validates; "wasm-simd128"
and "wasm-relaxed" build one variant only.

- "simd128": baseline SIMD128, which every engine onnxjit targets runs (Node 16+, browsers).
- "relaxed-simd": also relaxed SIMD: `a * b + c` becomes f32x4.relaxed_madd (FMA where the CPU
  has it: a SIMD128 matmul is otherwise bound by a mul and an add per product) and float
  min/max relaxed_min/max. Results are engine-defined within the proposal's bounds: madd may
  round once (FMA) or twice, min/max may differ on NaN and -0. Chrome 114+, Node 22+, wasmtime
  (on by default; _engine sets it anyway); Node 20 only with --experimental-wasm-relaxed-simd.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["RELAXED", "SIMD128", "SCALAR", "VARIANTS", "Variant", "node_runs",
           "wasmtime_runs"]


@dataclass(frozen=True)
class Variant:
    name: str                  # what records, fingerprints and manifests call it
    simd: bool
    relaxed_simd: bool
    suffix: str                # file name: model{suffix}.wasm
    features: tuple[str, ...]  # engine features the module needs beyond SIMD128 (manifest)


SCALAR = Variant("scalar", False, False, "", ())          # simd=False builds (tests, baselines)
SIMD128 = Variant("simd128", True, False, "", ())
RELAXED = Variant("relaxed-simd", True, True, ".relaxed", ("relaxed-simd",))
VARIANTS = {v.name: v for v in (SCALAR, SIMD128, RELAXED)}

# A module whose one function is f32x4.relaxed_madd (v128, v128, v128) -> v128: engines without
# relaxed SIMD refuse it. runtime/wasm_host.mjs carries the same bytes.
RELAXED_PROBE = bytes([
    0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00,                   # magic, version 1
    0x01, 0x08, 0x01, 0x60, 0x03, 0x7B, 0x7B, 0x7B, 0x01, 0x7B,       # type: (v128 x3) -> v128
    0x03, 0x02, 0x01, 0x00,                                           # function 0 has type 0
    0x0A, 0x0D, 0x01, 0x0B, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02,  # code: local.get 0 1 2
    0xFD, 0x85, 0x02, 0x0B,                                           # f32x4.relaxed_madd, end
])


def wasmtime_runs(variant: Variant) -> bool:
    """Whether runtime/wasm_host.py's wasmtime engine validates this variant's instructions."""
    if not variant.relaxed_simd:
        return True
    return _wasmtime_relaxed()


@lru_cache(maxsize=1)
def _wasmtime_relaxed() -> bool:
    import wasmtime

    from onnxjit.runtime.wasm_host import engine_config

    try:
        wasmtime.Module.validate(wasmtime.Engine(engine_config()), RELAXED_PROBE)
        return True
    except wasmtime.WasmtimeError:
        return False


def node_runs(variant: Variant, node: str | None = None) -> bool:
    """Whether Node.js (`node`, default the one on PATH) validates this variant without flags."""
    if not variant.relaxed_simd:
        return True
    return _node_relaxed(node or shutil.which("node") or "")


@lru_cache(maxsize=4)
def _node_relaxed(node: str) -> bool:
    if not node:
        return False
    script = f"process.exit(WebAssembly.validate(new Uint8Array({list(RELAXED_PROBE)})) ? 0 : 3)"
    done = subprocess.run([node, "-e", script], capture_output=True, check=False, timeout=60)
    return done.returncode == 0
