"""Building and measuring tuning candidates in separate processes.

A candidate may crash (a bad schedule can segfault), hang, or compute wrong values: each is run in
a worker process with a deadline, and any failure comes back as data. Builders instantiate and
compile candidates into shared libraries; one measurer loads each, checks its outputs against the
default schedule's, and times it, alone, so building never disturbs a timing.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from onnxjit.compiler.registry import OpKind


@dataclass(frozen=True)
class KernelSpec:
    """What a worker needs to rebuild a kernel: its TIR as JSON plus metadata."""

    name: str
    func_json: str
    kind: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: tuple[str, ...]
    op_types: tuple[str, ...]


@dataclass(frozen=True)
class TargetSpec:
    name: str
    threads: int


@dataclass(frozen=True)
class Outcome:
    seconds: tuple[float, ...] = ()
    error: str = ""
    artifact: str = ""                 # path of a built library (builders)
    outputs: tuple[np.ndarray, ...] = ()   # what the reference (default) candidate computed

    @property
    def median(self) -> float:
        if self.error or not self.seconds:
            return float("inf")
        ordered = sorted(self.seconds)
        return ordered[len(ordered) // 2]

    @property
    def fastest(self) -> float:
        """The quickest repeat: other processes' load only ever adds time, so on a shared
        machine the minimum ranks candidates more reliably than the median."""
        return min(self.seconds) if self.seconds and not self.error else float("inf")


def template_ref(template: object) -> str:
    """An importable "module:Class" name, so workers can rebuild any template, tests' included."""
    cls = type(template)
    return f"{cls.__module__}:{cls.__qualname__}"


STARTUP_TIMEOUT_S = 120.0


class Worker:
    """One child process serving requests; restarted transparently after a crash or a timeout.

    The child is a fresh interpreter (`python -m onnxjit.schedules.worker`), not a multiprocessing
    child, so user scripts need no `if __name__ == "__main__"` guard to tune.
    """

    def __init__(self, target: TargetSpec) -> None:
        self.target = target
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self.generation = 0            # bumped at every (re)start: state sent before is gone

    def ensure_started(self) -> str:
        """Starts the child if it is not running and waits until it answers; "" or an error.

        Start-up (a fresh interpreter importing TVM, slow on a loaded machine) has its own
        deadline, so it never eats into the first request's."""
        if self._proc is not None and self._proc.poll() is None:
            return ""
        self._start()
        ready = self._exchange(("ping",), STARTUP_TIMEOUT_S)
        return f"worker did not start: {ready.error}" if ready.error else ""

    def call(self, request: tuple[Any, ...], timeout: float) -> Outcome:
        error = self.ensure_started()
        if error:
            return Outcome(error=error)
        return self._exchange(request, timeout)

    def _exchange(self, request: tuple[Any, ...], timeout: float) -> Outcome:
        assert self._send is not None and self._recv is not None
        try:
            self._send.send(request)
            if not self._recv.poll(timeout):
                self.close()
                return Outcome(error=f"timeout after {timeout:.1f} s")
            reply = self._recv.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            code = self._proc.wait(5) if self._proc is not None else None
            self.close()
            return Outcome(error=f"worker crashed (exit code {code})")
        return reply if isinstance(reply, Outcome) else Outcome(error=f"bad reply {reply!r}")

    def _start(self) -> None:
        self.close()
        self.generation += 1
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        command = [sys.executable, "-m", "onnxjit.schedules.worker", str(to_child_r),
                   str(from_child_w), self.target.name, str(self.target.threads)]
        self._proc = subprocess.Popen(command, pass_fds=(to_child_r, from_child_w),
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        for conn in (self._send, self._recv):
            if conn is not None:
                conn.close()
        self._proc, self._send, self._recv = None, None, None


# -- the child side ---------------------------------------------------------------------------

def serve(requests: Connection, replies: Connection, target_spec: TargetSpec) -> None:
    from onnxjit.targets import get_target

    target = get_target(target_spec.name, target_spec.threads)
    state: dict[str, Any] = {"kernels": {}, "reference": {}}
    while True:
        try:
            request = requests.recv()
        except EOFError:
            return
        try:
            reply = _HANDLERS[request[0]](state, target, *request[1:])
        except Exception as exc:  # noqa: BLE001  (any failure of a candidate is its result)
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            reply = Outcome(error=last[:2000])
        replies.send(reply)


def _kernel(spec: KernelSpec) -> Any:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import load_json

    return Kernel(spec.name, load_json(spec.func_json), OpKind(spec.kind), spec.inputs,
                  spec.outputs, spec.nodes, spec.op_types)


def _template(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)()


def _build(state: dict[str, Any], target: Any, spec: KernelSpec, ref: str,
           knobs: dict[str, Any], out_dir: str) -> Outcome:
    from onnxjit.compiler.tvm_api import IRModule

    kernel = _kernel(spec)
    func = _template(ref).instantiate(kernel, knobs, target)
    built = target.build(IRModule({kernel.name: func}))
    path = target.export(built, out_dir, f"{kernel.name}_{uuid.uuid4().hex[:12]}")
    return Outcome(artifact=path)


def _register(state: dict[str, Any], target: Any, spec: KernelSpec, arrays: list[np.ndarray],
              reference: tuple[np.ndarray, ...]) -> Outcome:
    from onnxjit.runtime.executor import aligned_copy

    state["kernels"][spec.name] = (spec, [aligned_copy(a) for a in arrays])
    if reference:
        state["reference"][spec.name] = list(reference)
    else:
        state["reference"].pop(spec.name, None)
    return Outcome()


def _measure(state: dict[str, Any], target: Any, name: str, artifact: str, is_reference: bool,
             rtol: float, atol: float) -> Outcome:
    spec, arrays = state["kernels"][name]
    n_in = len(spec.inputs)
    for out in arrays[n_in:]:
        out.fill(np.nan if out.dtype.kind == "f" else 0)  # stale results must not pass the check
    call, fetch = target.bind(artifact, name, arrays)  # (wasm: runs inside the wasm engine)
    call()
    fetch()
    produced = [np.array(a) for a in arrays[n_in:]]
    if is_reference:
        state["reference"][name] = produced
    else:
        expected = state["reference"].get(name)
        if expected is None:
            return Outcome(error="no reference output (the default schedule failed)")
        for i, (got, want) in enumerate(zip(produced, expected)):
            if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
                diff = float(np.nanmax(np.abs(got.astype(np.float64) - want.astype(np.float64))))
                return Outcome(error=f"wrong values: output {i} differs from the default "
                                     f"schedule's by up to {diff:.3g}")
    result = target.measure(call)
    return Outcome(seconds=result.seconds, error=result.error,
                   outputs=tuple(produced) if is_reference else ())


def _ping(state: dict[str, Any], target: Any) -> Outcome:
    return Outcome()


_HANDLERS = {"build": _build, "register": _register, "measure": _measure, "ping": _ping}

