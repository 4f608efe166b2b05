"""Sessions over compiled artifacts (runtime/artifact.py), and `onnxjit compile`'s writer."""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from onnxjit.compiler.importer import ModelSource
from onnxjit.compiler.pipeline import CompiledModel
from onnxjit.compiler.specialize import InputSignature
from onnxjit.runtime.artifact import (
    check_fingerprint, load_compiled, read_manifest, save_artifact, signature_error, target_for)
from onnxjit.runtime.session import InferenceSession
from onnxjit.schedules.records import RecordStore
from onnxjit.targets import Target


class ArtifactSession(InferenceSession):
    """An InferenceSession whose one specialisation comes from an artifact directory.

    Built by `InferenceSession(path)` when `path` holds a manifest.json: nothing is compiled, so a
    feed with other shapes than the artifact's signature is an InputError.
    """

    def __init__(self, model: ModelSource, target: str | Target | None = None,
                 threads: int | None = None, chooser: Any = None, tune: float | None = None,
                 records: str | os.PathLike[str] | None = None) -> None:
        root = Path(os.fspath(model))  # type: ignore[arg-type]
        self.artifact = root
        self.manifest = read_manifest(root)
        self.target = target_for(self.manifest, target, threads)
        check_fingerprint(self.manifest, self.target, root)
        compiled = load_compiled(root, self.manifest)
        self.graph, self.model_name = compiled.graph, str(root)
        self.records = RecordStore(records)
        self._chooser = None
        self._tune_budget = 0.0   # an artifact is already tuned; tuning needs the model
        self._tuning = {}
        self._lock = threading.Lock()
        self._input_checks = self._fast_checks(self.graph)
        self._compiled = {compiled.signature: (compiled, self.target.executor(compiled))}

    def _compile(self, sig: InputSignature) -> tuple[CompiledModel, Any]:
        raise signature_error(self.manifest, sig, str(self.artifact))


def compile_to_artifact(model: ModelSource, out: str | os.PathLike[str],
                        feeds: Mapping[str, np.ndarray], target: str | Target = "cpu",
                        threads: int | None = None,
                        records: str | os.PathLike[str] | None = None) -> Path:
    """Compiles `model` for the shapes of `feeds` (using tuning records) and writes an artifact."""
    session = InferenceSession(model, target=target, threads=threads, records=records)
    compiled = session.compiled(feeds)
    spec = target if isinstance(target, str) else None
    return save_artifact(compiled, session.target, out, session.model_name, spec)


def load(path: str | os.PathLike[str], target: str | Target | None = None,
         threads: int | None = None) -> InferenceSession:
    """`onnxjit.load(OUT)`: the session of an artifact written by `onnxjit compile`."""
    return ArtifactSession(path, target=target, threads=threads)
