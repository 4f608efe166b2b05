"""A compiled model as one standalone .wasm per instruction-set variant plus a JSON manifest.

    model.wasm          kernels (TVM wasm32 object) + graph function + runtime shim + weights
    model.relaxed.wasm  the same, kernels compiled with relaxed SIMD (target "wasm", the default)
    model.json          inputs/outputs: name, shape, dtype, where they live in linear memory;
                        "modules": the variants, best first, with the engine features each needs;
                        "wasm": the fallback module (needs SIMD128 only, unless it is the only one)

Every variant has the same graph function, arena and weights, so one manifest describes them
all; a host loads only the first module its engine validates.

Hosts: runtime/wasm_host.py (wasmtime), runtime/wasm_host.mjs (Node.js and browsers).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onnxjit.targets.wasm.graph_c import graph_source
from onnxjit.targets.wasm.toolchain import PAGE, link, memory_limits
from onnxjit.targets.wasm.variants import SIMD128, VARIANTS

if TYPE_CHECKING:
    from onnxjit.compiler.pipeline import CompiledModel
    from onnxjit.targets.wasm import WasmObject

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"
HOST_MODULE = RUNTIME_DIR / "wasm_host.mjs"    # the ES module (Node.js and browsers)
NODE_RUNNER = RUNTIME_DIR / "wasm_run.mjs"     # node wasm_run.mjs MODEL.json DIR [--repeats N]
#                                                   [--variant V]: prints {"variant": ...}


@dataclass(frozen=True)
class WasmModel:
    modules: tuple[tuple[str, bytes], ...] = field(repr=False)   # (variant, .wasm), best first
    manifest: dict[str, Any]

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.modules)

    def module(self, variant: str | None = None) -> bytes:
        """The .wasm of `variant` (default: the best one)."""
        if variant is None:
            return self.modules[0][1]
        found = dict(self.modules).get(variant)
        if found is None:
            raise KeyError(f"this artifact has no {variant} module (it has {self.variants})")
        return found

    def save(self, directory: str | os.PathLike[str], stem: str = "model") -> Path:
        """Writes STEM.json and each variant's STEM[.suffix].wasm into `directory`; returns
        the .json path."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        entries = []
        for name, wasm in self.modules:
            variant = VARIANTS[name]
            file = f"{stem}{variant.suffix}.wasm"
            (out / file).write_bytes(wasm)
            entries.append({"variant": name, "wasm": file, "features": list(variant.features)})
        manifest = {**self.manifest, "modules": entries, "wasm": entries[-1]["wasm"]}
        if entries[-1]["features"]:
            manifest["features"] = entries[-1]["features"]   # (older hosts name it on refusal)
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


def link_model(compiled: CompiledModel, objects: Sequence[WasmObject | None]) -> WasmModel:
    """Links each object (the compiled model's kernels in one instruction-set variant, best
    first; None: a model without kernels) with the generated graph function into a .wasm."""
    folded = {o: compiled.graph.constants[o] for o in compiled.plan.outputs
              if o in compiled.graph.constants}
    source = graph_source(compiled.plan, compiled.constants, folded, "weights.bin")
    threads = max((o.threads for o in objects if o is not None), default=1)
    shared = shared_memory_bytes(compiled.plan.arena_bytes + len(source.weights)) \
        if threads > 1 else 0
    modules: list[tuple[str, bytes]] = []
    with tempfile.TemporaryDirectory(prefix="onnxjit-wasm-") as tmp:
        work = Path(tmp)
        (work / "weights.bin").write_bytes(source.weights)
        (work / "graph.c").write_text(source.c_source)
        for built in objects:
            sources = [work / "graph.c"]
            if built is not None:
                (work / "kernels.o").write_bytes(built.object_bytes)
                sources.append(work / "kernels.o")
            out = work / "model.wasm"
            link(sources, out, ["onnxjit_run", "onnxjit_step", "onnxjit_arena",
                                "onnxjit_weights"],
                 simd=built.simd if built is not None else True, include_dirs=[work],
                 shared_memory=shared)
            variant = built.variant if built is not None else SIMD128
            modules.append((variant.name, out.read_bytes()))
    manifest = dict(source.manifest, threads=threads)
    if shared:
        # One shared memory serves whichever module a host picks: the largest initial size
        # (the maximum is the same, shared_memory_bytes).
        limits = [memory_limits(wasm) for _, wasm in modules]
        manifest["memory"] = {"shared": True, "initial": max(i for i, _ in limits),
                              "maximum": limits[0][1]}
    return WasmModel(tuple(modules), manifest)


def shared_memory_bytes(static: int) -> int:
    """The threads variant's memory maximum: static data twice over (heap, workspaces) plus
    256 MiB, at least 1 GiB, at most 4 GiB (wasm32), in whole 64 KiB pages."""
    size = max(1 << 30, 2 * static + (256 << 20))
    return min(1 << 32, (size + PAGE - 1) // PAGE * PAGE)
