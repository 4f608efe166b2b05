"""A compiled model as one standalone .wasm plus a JSON manifest (the artifact hosts load).

    model.wasm   kernels (TVM wasm32 object) + graph function + runtime shim + weights segment
    model.json   inputs/outputs: name, shape, dtype, where they live in linear memory

Hosts: runtime/wasm_host.py (wasmtime), runtime/wasm_host.mjs (Node.js and browsers).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onnxjit.targets.wasm.graph_c import graph_source
from onnxjit.targets.wasm.toolchain import PAGE, link, memory_limits

if TYPE_CHECKING:
    from onnxjit.compiler.pipeline import CompiledModel
    from onnxjit.targets.wasm import WasmObject

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"
HOST_MODULE = RUNTIME_DIR / "wasm_host.mjs"    # the ES module (Node.js and browsers)
NODE_RUNNER = RUNTIME_DIR / "wasm_run.mjs"     # node wasm_run.mjs MODEL.json DIR [--repeats N]


@dataclass(frozen=True)
class WasmModel:
    wasm: bytes = field(repr=False)
    manifest: dict[str, Any]

    def save(self, directory: str | os.PathLike[str], stem: str = "model") -> Path:
        """Writes STEM.wasm and STEM.json into `directory`; returns the .json path."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.wasm").write_bytes(self.wasm)
        manifest = {**self.manifest, "wasm": f"{stem}.wasm"}
        path = out / f"{stem}.json"
        path.write_text(json.dumps(manifest, indent=1))
        return path


def write_inputs(directory: str | os.PathLike[str], manifest: dict[str, Any],
                 feeds: dict[str, np.ndarray]) -> None:
    """Raw feeds as DIR/input{i}.bin in manifest order (what runtime/wasm_run.mjs reads)."""
    for i, entry in enumerate(manifest["inputs"]):
        array = np.ascontiguousarray(feeds[entry["name"]], dtype=entry["dtype"])
        Path(directory, f"input{i}.bin").write_bytes(array.tobytes())


def read_outputs(directory: str | os.PathLike[str], manifest: dict[str, Any]) -> list[np.ndarray]:
    """DIR/output{i}.bin as written by runtime/wasm_run.mjs, shaped by the manifest."""
    return [np.frombuffer(Path(directory, f"output{i}.bin").read_bytes(), dtype=e["dtype"])
            .reshape(e["shape"]) for i, e in enumerate(manifest["outputs"])]


def link_model(compiled: CompiledModel) -> WasmModel:
    """Links the compiled model's kernels with its generated graph function into one .wasm."""
    built: WasmObject | None = compiled.module
    folded = {o: compiled.graph.constants[o] for o in compiled.plan.outputs
              if o in compiled.graph.constants}
    source = graph_source(compiled.plan, compiled.constants, folded, "weights.bin")
    with tempfile.TemporaryDirectory(prefix="onnxjit-wasm-") as tmp:
        work = Path(tmp)
        (work / "weights.bin").write_bytes(source.weights)
        (work / "graph.c").write_text(source.c_source)
        sources = [work / "graph.c"]
        if built is not None:
            (work / "kernels.o").write_bytes(built.object_bytes)
            sources.append(work / "kernels.o")
        out = work / "model.wasm"
        threads = built.threads if built is not None else 1
        shared = shared_memory_bytes(compiled.plan.arena_bytes + len(source.weights)) \
            if threads > 1 else 0
        link(sources, out, ["onnxjit_run", "onnxjit_step", "onnxjit_arena", "onnxjit_weights"],
             simd=built.simd if built is not None else True, include_dirs=[work],
             shared_memory=shared)
        wasm = out.read_bytes()
        manifest = dict(source.manifest, threads=threads)
        if built is not None and built.relaxed_simd:
            manifest["features"] = ["relaxed-simd"]   # (hosts name it when an engine refuses)
        if shared:
            initial, maximum = memory_limits(wasm)
            manifest["memory"] = {"shared": True, "initial": initial, "maximum": maximum}
        return WasmModel(wasm, manifest)


def shared_memory_bytes(static: int) -> int:
    """The threads variant's memory maximum: static data twice over (heap, workspaces) plus
    256 MiB, at least 1 GiB, at most 4 GiB (wasm32), in whole 64 KiB pages."""
    size = max(1 << 30, 2 * static + (256 << 20))
    return min(1 << 32, (size + PAGE - 1) // PAGE * PAGE)
