"""The Target interface: how kernels are built, loaded and timed on one kind of device."""
from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MeasureResult:
    """Seconds per call of each repeat (empty if it failed) and the error, if any."""

    seconds: tuple[float, ...]
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.seconds)

    @property
    def median(self) -> float:
        if not self.ok:
            return float("inf")
        ordered = sorted(self.seconds)
        return ordered[len(ordered) // 2]

    @property
    def fastest(self) -> float:
        return min(self.seconds) if self.ok else float("inf")


class Target(ABC):
    name: str            # "cpu", "gpu", "wasm"
    threads: int
    # Kernels run on CPU cores through LLVM with `vector_lanes`-wide SIMD, so the CPU schedule
    # templates apply (sized by the target's vector_lanes and threads): "cpu" and "wasm".
    simd_cpu: bool = False

    @abstractmethod
    def tvm_target(self) -> Any:
        """The tvm.target.Target kernels are compiled for."""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What makes a tuning record or artifact valid here: device model, features, threads,
        TVM and onnxjit versions. A record with another fingerprint is never applied."""

    @abstractmethod
    def build(self, mod: Any) -> Any:
        """Compiles an IRModule of scheduled PrimFuncs; returns a loaded module."""

    @abstractmethod
    def measure(self, call: Callable[[], None], repeats: int = 7,
                min_seconds: float = 0.01) -> MeasureResult:
        """Times `call` (already bound to its arguments); never raises."""

    def executor(self, compiled: Any) -> Any:
        """What runs a CompiledModel here (run(feeds, names) -> arrays): the arena executor."""
        from onnxjit.runtime.executor import Executor

        return Executor(compiled)

    def export(self, built: Any, directory: str, stem: str) -> str:
        """Writes a module `build` returned where another process can load it (tuning)."""
        import os

        from onnxjit.compiler.tvm_api import export_library

        path = os.path.join(directory, stem + ".so")
        export_library(built, path)
        return path

    def bind(self, artifact: str, name: str,
             arrays: Sequence[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        """Kernel `name` of an exported artifact bound to `arrays` (inputs, then outputs): a
        zero-argument call to time, and one that brings its outputs back into `arrays`."""
        from onnxjit.compiler.tvm_api import as_tensor, load_module

        function = load_module(artifact)[name]
        tensors = [as_tensor(a) for a in arrays]
        return (lambda: function(*tensors)), (lambda: None)

    def fingerprint_key(self) -> str:
        text = json.dumps(self.fingerprint(), sort_keys=True)
        return f"{self.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    def describe(self) -> str:
        return f"{self.name} ({self.threads} thread{'s' if self.threads != 1 else ''})"


def time_calls(call: Callable[[], None], repeats: int, min_seconds: float,
               clock: Callable[[], float] | None = None) -> MeasureResult:
    """Host-clock timing: warm up, pick a batch size that lasts `min_seconds`, take `repeats`.

    `clock` defaults to wall time; single-threaded callers may pass the process CPU clock.
    """
    import time

    clock = clock or time.perf_counter
    try:
        call()
        number, elapsed = 1, 0.0
        while True:
            start = clock()
            for _ in range(number):
                call()
            elapsed = clock() - start
            if elapsed >= min_seconds or number >= 1 << 20:
                break
            number *= 2 if elapsed <= 0 else max(2, min(8, int(min_seconds / elapsed) + 1))
        samples = [elapsed / number]
        for _ in range(repeats - 1):
            start = clock()
            for _ in range(number):
                call()
            samples.append((clock() - start) / number)
        return MeasureResult(tuple(samples))
    except Exception as exc:  # noqa: BLE001  (a failed candidate is data, not an exception)
        return MeasureResult((), f"{type(exc).__name__}: {exc}")


def fingerprint_versions() -> dict[str, str]:
    from onnxjit import __version__
    from onnxjit.compiler.tvm_api import tvm_version

    return {"onnxjit": __version__, "tvm": tvm_version(), "kernel_code": kernel_code_digest()}


@functools.cache
def kernel_code_digest() -> str:
    """A hash of the sources that decide what a kernel computes and how fast: a tuning record or
    artifact made by other lowering/template code is not applied (a knob point's meaning moves
    with its template even while the version number stays)."""
    from pathlib import Path

    import onnxjit.compiler
    import onnxjit.schedules
    import onnxjit.targets

    digest = hashlib.sha256()
    for package in (onnxjit.compiler, onnxjit.schedules, onnxjit.targets):
        root = Path(next(iter(package.__path__)))
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


