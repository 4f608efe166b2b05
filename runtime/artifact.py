"""Compiled artifacts: a directory holding everything needed to run one compiled specialisation
without the model or the compiler.

    OUT/manifest.json   format, versions, target + fingerprint, input signature, outputs, tuning
                        choices, kernel list, and a sha256 of every other file
    OUT/kernels.so      the built kernels (Target.export: a shared library on the CPU)
    OUT/plan.json       the execution plan (kernel calls, aliases, arena slots)
    OUT/weights.npz     constants the kernels read and folded outputs

`InferenceSession(OUT)` (or `onnxjit.load(OUT)`) loads it: no import, lowering or TVM build. The
artifact runs only where it was compiled for: a target whose fingerprint (CPU model, SIMD features,
threads, TVM and onnxjit versions) differs is refused, as is a file whose checksum changed.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from onnxjit.compiler.errors import InputError, OnnxJitError
from onnxjit.compiler.graph import Graph, TensorType
from onnxjit.compiler.pipeline import CompiledModel
from onnxjit.compiler.specialize import InputSignature
from onnxjit.runtime.plan import AliasStep, BufferSlot, KernelCall, Plan
from onnxjit.targets import Target, get_target

FORMAT = "onnxjit-artifact"
VERSION = 1
MANIFEST = "manifest.json"
FILES = ("kernels.so", "plan.json", "weights.npz")


class ArtifactError(OnnxJitError):
    """An artifact is missing, damaged, or was compiled for another target."""


def is_artifact(source: Any) -> bool:
    return isinstance(source, (str, os.PathLike)) and (Path(source) / MANIFEST).is_file()


# -- writing -----------------------------------------------------------------------------------
def save_artifact(compiled: CompiledModel, target: Target, out: str | os.PathLike[str],
                  model_name: str, target_spec: str | None = None) -> Path:
    """Writes `compiled` (built for `target`) to the directory `out`; returns its path."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    if compiled.module is not None:
        written = Path(target.export(compiled.module, str(root), "kernels"))
        if written.name != "kernels.so":
            raise ArtifactError(f"target {target.name!r} exports {written.name}; artifacts hold "
                                "a shared library (kernels.so): CPU targets only for now")
    (root / "plan.json").write_text(json.dumps(plan_to_json(compiled.plan), indent=1))
    weights, stored = _weights(compiled)
    with open(root / "weights.npz", "wb") as f:
        np.savez(f, **weights)
    graph = compiled.graph
    manifest = {
        "format": FORMAT, "version": VERSION, "model": model_name,
        "target": target_spec or target.name, "threads": target.threads,
        "fingerprint": target.fingerprint(), "fingerprint_key": target.fingerprint_key(),
        "signature": [[n, list(s), d] for n, s, d in compiled.signature],
        "outputs": [[o, *_type_json(graph.types[o])] for o in graph.outputs],
        "choices": {k: [t, knobs] for k, (t, knobs) in compiled.choices.items()},
        "rereads": None if compiled.rereads is None else sorted(compiled.rereads),
        "kernels": [{"name": k.name, "nodes": list(k.nodes), "op_types": list(k.op_types)}
                    for k in compiled.kernels],
        "weights": stored, "has_kernels": compiled.module is not None,
        "sha256": {f: _sha256(root / f) for f in FILES if (root / f).exists()},
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return root


def _weights(compiled: CompiledModel) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Arrays under safe keys (w0, w1, ...) and name -> [key, dtype]; ml_dtypes types (bfloat16,
    kind 'V') are stored as unsigned bits, since npz would pickle them."""
    values = dict(compiled.constants)
    for name in compiled.plan.outputs:
        if name in compiled.graph.constants:
            values[name] = compiled.graph.constants[name]
    arrays: dict[str, np.ndarray] = {}
    stored: dict[str, list[str]] = {}
    for i, (name, value) in enumerate(sorted(values.items())):
        array = np.asarray(value)
        dtype = str(array.dtype)
        if array.dtype.kind == "V":
            array = array.view(f"uint{8 * array.dtype.itemsize}")
        arrays[f"w{i}"] = array
        stored[name] = [f"w{i}", dtype]
    return arrays, stored


def plan_to_json(plan: Plan) -> dict[str, Any]:
    steps = [{"kernel": s.kernel, "args": list(s.args), "nodes": list(s.nodes)}
             if isinstance(s, KernelCall) else {"source": s.source, "target": s.target}
             for s in plan.steps]
    slots = {n: {"shape": list(s.shape), "dtype": s.dtype, "offset": s.offset,
                 "alias_of": s.alias_of} for n, s in plan.slots.items()}
    return {"steps": steps, "slots": slots, "arena_bytes": plan.arena_bytes,
            "inputs": list(plan.inputs), "outputs": list(plan.outputs),
            "constants": list(plan.constants)}


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    steps = tuple(KernelCall(s["kernel"], tuple(s["args"]), tuple(s["nodes"])) if "kernel" in s
                  else AliasStep(s["source"], s["target"]) for s in data["steps"])
    slots = {n: BufferSlot(tuple(s["shape"]), s["dtype"], int(s["offset"]), s["alias_of"])
             for n, s in data["slots"].items()}
    return Plan(steps, slots, int(data["arena_bytes"]), tuple(data["inputs"]),
                tuple(data["outputs"]), tuple(data["constants"]))


def _type_json(tt: TensorType) -> list[Any]:
    return [tt.dtype, list(tt.static_shape())]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- reading -----------------------------------------------------------------------------------
def read_manifest(root: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"artifact {str(root)!r}: cannot read {MANIFEST}: {exc}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ArtifactError(f"artifact {str(root)!r}: format {manifest.get('format')!r} version "
                            f"{manifest.get('version')!r} (this onnxjit reads {FORMAT} {VERSION})")
    for name, want in manifest.get("sha256", {}).items():
        path = root / name
        if not path.is_file():
            raise ArtifactError(f"artifact {str(root)!r}: {name} is missing")
        if _sha256(path) != want:
            raise ArtifactError(f"artifact {str(root)!r}: {name} was modified after compiling "
                                "(checksum mismatch); compile it again with `onnxjit compile`")
    return manifest


def check_fingerprint(manifest: Mapping[str, Any], target: Target, root: Path) -> None:
    theirs, ours = manifest["fingerprint"], target.fingerprint()
    if theirs == ours:
        return
    keys = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    diffs = "; ".join(f"{k}: artifact {theirs.get(k)!r}, here {ours.get(k)!r}" for k in keys)
    raise ArtifactError(
        f"artifact {str(root)!r} was compiled for another target ({diffs}); it is refused "
        f"because its kernels may be invalid or slow here: recompile the model with "
        f"`onnxjit compile MODEL -o OUT` on this machine")


def load_compiled(root: Path, manifest: Mapping[str, Any]) -> CompiledModel:
    """The CompiledModel an Executor runs, rebuilt from the artifact's files."""
    from onnxjit.compiler import tvm_api

    plan = plan_from_json(json.loads((root / "plan.json").read_text()))
    with np.load(root / "weights.npz", allow_pickle=False) as npz:
        weights = {name: _restore(npz[key], dtype) for name, (key, dtype) in
                   manifest["weights"].items()}
    signature: InputSignature = tuple((n, tuple(s), d) for n, s, d in manifest["signature"])
    types = {n: TensorType(d, tuple(s)) for n, s, d in signature}
    types.update({o: TensorType(d, tuple(s)) for o, d, s in manifest["outputs"]})
    folded = {o: weights[o] for o in plan.outputs if o in weights and o not in plan.slots}
    graph = Graph(name=str(manifest["model"]), nodes=(), inputs=tuple(n for n, _, _ in signature),
                  outputs=tuple(o for o, _, _ in manifest["outputs"]), types=types,
                  constants=folded, opsets={})
    module = tvm_api.load_module(str(root / "kernels.so")) if manifest["has_kernels"] else None
    choices = {k: (t, dict(knobs)) for k, (t, knobs) in manifest["choices"].items()}
    constants = {c: weights[c] for c in plan.constants}
    rereads = manifest.get("rereads")  # (absent from older artifacts: every input, then)
    return CompiledModel(graph, signature, (), choices, plan, module, constants,
                         None if rereads is None else frozenset(rereads))


def _restore(array: np.ndarray, dtype: str) -> np.ndarray:
    if str(array.dtype) == dtype:
        return array
    import ml_dtypes  # noqa: F401  (registers bfloat16 and friends with numpy)

    return array.view(np.dtype(dtype))


def signature_error(manifest: Mapping[str, Any], sig: InputSignature, root: str) -> InputError:
    want = ", ".join(f"{n}: {d}{list(s)}" for n, s, d in manifest["signature"])
    got = ", ".join(f"{n}: {d}{list(s)}" for n, s, d in sig)
    return InputError(f"artifact {root!r} was compiled for inputs ({want}); got ({got}). An "
                      "artifact holds one input signature: compile another for these shapes")


def target_for(manifest: Mapping[str, Any], target: str | Target | None,
               threads: int | None) -> Target:
    """The target to run on: the artifact's own, with its thread count unless one is given."""
    spec = target if target is not None else str(manifest["target"])
    return get_target(spec, threads if threads is not None else int(manifest["threads"]))
