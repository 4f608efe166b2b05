"""InferenceSession: onnxruntime's API over onnxjit's compiler.

The model is imported and checked at construction (every unsupported op is reported then). Kernels
are compiled per input-shape signature: at construction when the inputs' shapes are static,
otherwise at the first run with new shapes; each specialisation is cached for the session's life.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from onnxjit.compiler.errors import InputError
from onnxjit.compiler.graph import Dim, Graph
from onnxjit.compiler.importer import ModelSource, import_model
from onnxjit.compiler.pipeline import Chooser, CompiledModel, compile_graph
from onnxjit.compiler.specialize import InputSignature, dtype_name, signature
from onnxjit.compiler.support import check_supported
from onnxjit.runtime.executor import Executor
from onnxjit.runtime.jit_tuning import TuningJob, observe_for_tuning, start_tuning
from onnxjit.schedules.choice import record_chooser
from onnxjit.schedules.records import RecordStore
from onnxjit.targets import Target, get_target


@dataclass(frozen=True)
class NodeArg:
    """A model input or output, as onnxruntime describes it."""

    name: str
    shape: list[Dim | None]
    type: str          # e.g. "tensor(float)"
    dtype: str         # numpy dtype name


def _ort_type(dtype: str) -> str:
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    names = {onnx.TensorProto.FLOAT: "float", onnx.TensorProto.DOUBLE: "double",
             onnx.TensorProto.BOOL: "bool", onnx.TensorProto.FLOAT16: "float16"}
    return f"tensor({names.get(elem, onnx.TensorProto.DataType.Name(elem).lower())})"


class InferenceSession:
    def __new__(cls, model: ModelSource, *args: Any, **kwargs: Any) -> InferenceSession:
        # A compiled artifact directory (`onnxjit compile`) loads without compiling.
        if cls is InferenceSession and isinstance(model, (str, os.PathLike)):
            from onnxjit.runtime.artifact import is_artifact

            if is_artifact(model):
                from onnxjit.runtime.artifact_session import ArtifactSession

                return super().__new__(ArtifactSession)
        return super().__new__(cls)

    def __init__(self, model: ModelSource, target: str | Target = "cpu",
                 threads: int | None = None, chooser: Chooser | None = None,
                 tune: float | None = None, records: str | os.PathLike[str] | None = None) -> None:
        """`tune`: seconds of just-in-time tuning per input-shape signature, in the background
        from its first run, on the values that run's feeds give each kernel (see
        runtime/jit_tuning.py); `records`: the tuning-record file (default: the cache dir).
        """
        self.graph, self.model_name = import_model(model)
        check_supported(self.graph, self.model_name)
        self.target = get_target(target, threads)
        self.records = RecordStore(records)
        self._chooser = chooser
        self._tune_budget = float(tune or 0.0)
        self._tuning: dict[InputSignature, TuningJob] = {}
        self._compiled: dict[InputSignature, tuple[CompiledModel, Executor]] = {}
        self._lock = threading.Lock()
        self._input_checks = self._fast_checks(self.graph)
        static = self._static_signature()
        if static is not None:
            self._specialisation(static)

    # -- onnxruntime-shaped API -------------------------------------------------------------
    def get_inputs(self) -> list[NodeArg]:
        return [self._arg(n) for n in self.graph.inputs]

    def get_outputs(self) -> list[NodeArg]:
        return [self._arg(n) for n in self.graph.outputs]

    def get_providers(self) -> list[str]:
        return [f"onnxjit:{self.target.name}"]

    def run(self, output_names: Sequence[str] | None,
            input_feed: Mapping[str, Any]) -> list[np.ndarray]:
        feeds = self._check_feeds(input_feed)
        names = list(output_names) if output_names else list(self.graph.outputs)
        unknown = [n for n in names if n not in self.graph.outputs]
        if unknown:
            raise InputError(f"model {self.model_name!r} has no output(s) {unknown}; "
                             f"outputs are {list(self.graph.outputs)}")
        sig = signature(feeds, self.graph.inputs)
        compiled, executor = self._specialisation(sig)
        self.target_activate()
        if self._tune_budget > 0 and sig not in self._tuning:
            self._start_tuning(sig, compiled, feeds)
        return executor.run(feeds, names)

    # -- onnxjit extras ---------------------------------------------------------------------
    def compiled(self, feeds: Mapping[str, Any]) -> CompiledModel:
        """The compiled specialisation that serves these feeds (compiling it if needed)."""
        return self._specialisation(signature(self._check_feeds(feeds), self.graph.inputs))[0]

    def executor(self, feeds: Mapping[str, Any]) -> Executor:
        return self._specialisation(signature(self._check_feeds(feeds), self.graph.inputs))[1]

    def target_activate(self) -> None:
        activate = getattr(self.target, "activate", None)
        if activate is not None:
            activate()

    # -- internals --------------------------------------------------------------------------
    def wait_for_tuning(self, timeout: float | None = None) -> bool:
        """Blocks until background tuning has finished (True) or `timeout` passed (False)."""
        for job in list(self._tuning.values()):
            job.thread.join(timeout)
            if job.thread.is_alive():
                return False
            if job.error is not None:
                raise job.error
        return True

    def _compile(self, sig: InputSignature) -> tuple[CompiledModel, Executor]:
        chooser = self._chooser or record_chooser(self.records, self.target)
        compiled = compile_graph(self.graph, sig, self.target, chooser)
        return compiled, self.target.executor(compiled)

    def _specialisation(self, sig: InputSignature) -> tuple[CompiledModel, Executor]:
        with self._lock:
            entry = self._compiled.get(sig)
            if entry is None:
                entry = self._compile(sig)
                self._compiled[sig] = entry
            return entry

    def _start_tuning(self, sig: InputSignature, compiled: CompiledModel,
                      feeds: Mapping[str, np.ndarray]) -> None:
        """At a specialisation's first run: record what each kernel receives from these feeds
        (one more run of the model, here), then tune on those values in the background."""
        with self._lock:
            if sig in self._tuning or not compiled.kernels:
                return
            values = observe_for_tuning(compiled, self.target, feeds)
            self._tuning[sig] = start_tuning(compiled, self.target, self.records,
                                             self._tune_budget, lambda: self._swap_in_tuned(sig),
                                             values)

    def _swap_in_tuned(self, sig: InputSignature) -> None:
        entry = self._compile(sig)  # compiled outside the lock: run() keeps serving meanwhile
        with self._lock:
            self._compiled[sig] = entry

    def _static_signature(self) -> InputSignature | None:
        sig = []
        for name in self.graph.inputs:
            tt = self.graph.types.get(name)
            if tt is None or not tt.is_static:
                return None
            sig.append((name, tt.static_shape(), tt.dtype))
        return tuple(sig)

    def _arg(self, name: str) -> NodeArg:
        tt = self.graph.types.get(name)
        if tt is None:
            return NodeArg(name, [], "tensor(unknown)", "")
        shape: list[Dim | None] = list(tt.shape) if tt.shape is not None else []
        shape = [None if isinstance(d, str) and d.startswith("?") else d for d in shape]
        return NodeArg(name, shape, _ort_type(tt.dtype), tt.dtype)

    def _check_feeds(self, input_feed: Mapping[str, Any]) -> dict[str, np.ndarray]:
        fast = self._feeds_as_declared(input_feed)
        if fast is not None:
            return fast
        expected = list(self.graph.inputs)
        missing = [n for n in expected if n not in input_feed]
        extra = [n for n in input_feed if n not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing input(s) {missing}")
            if extra:
                parts.append(f"unknown input(s) {extra}")
            raise InputError(f"model {self.model_name!r}: {'; '.join(parts)}; "
                             f"expected inputs {expected}")
        feeds: dict[str, np.ndarray] = {}
        for name in expected:
            value = np.asarray(input_feed[name])
            feeds[name] = _checked_feed(self.graph, self.model_name, name, value)
        _check_symbolic_dims(self.graph, self.model_name, feeds)
        return feeds


    def _feeds_as_declared(self, input_feed: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """The feeds, when they are exactly the declared inputs as arrays of the declared dtypes
        and fixed dims (the per-run common case, ~1 us); None: let the full check explain."""
        checks = self._input_checks
        if checks is None or len(input_feed) != len(checks):
            return None
        feeds: dict[str, np.ndarray] = {}
        for name, dtype, dims in checks:
            value = input_feed.get(name)
            if type(value) is not np.ndarray or dtype_name(value.dtype) != dtype \
                    or len(value.shape) != len(dims):
                return None
            for want, got in zip(dims, value.shape):
                if want is not None and want != got:
                    return None
            feeds[name] = value
        return feeds

    @staticmethod
    def _fast_checks(graph: Graph) -> tuple[tuple[str, str, tuple[int | None, ...]], ...] | None:
        """Per input (name, dtype, fixed dims or None); None if any input has no declared type or
        shares a named dimension with another (the full check compares those)."""
        checks = []
        named: list[str] = []
        for name in graph.inputs:
            tt = graph.types.get(name)
            if tt is None or tt.shape is None:
                return None
            named += [d for d in tt.shape if isinstance(d, str) and not d.startswith("?")]
            checks.append((name, tt.dtype, tuple(d if isinstance(d, int) else None for d in tt.shape)))
        return None if len(named) != len(set(named)) else tuple(checks)


def _checked_feed(graph: Graph, model: str, name: str, value: np.ndarray) -> np.ndarray:
    tt = graph.types.get(name)
    if tt is None:
        return value
    if dtype_name(value.dtype) != tt.dtype:
        raise InputError(f"model {model!r}: input {name!r} has dtype {value.dtype}, "
                         f"expected {tt.dtype} ({_ort_type(tt.dtype)})")
    if tt.shape is not None:
        ok = len(tt.shape) == value.ndim and all(
            not isinstance(d, int) or d == s for d, s in zip(tt.shape, value.shape))
        if not ok:
            want = "x".join(str(d) for d in tt.shape) or "scalar"
            raise InputError(f"model {model!r}: input {name!r} has shape "
                             f"{'x'.join(map(str, value.shape)) or 'scalar'}, expected {want}")
    return value


def _check_symbolic_dims(graph: Graph, model: str, feeds: Mapping[str, np.ndarray]) -> None:
    """Inputs that share a named dimension (e.g. "batch") must agree on its size."""
    bound: dict[str, tuple[int, str]] = {}
    for name, value in feeds.items():
        tt = graph.types.get(name)
        for dim, size in zip(tt.shape or () if tt else (), value.shape):
            if not isinstance(dim, str) or dim.startswith("?"):
                continue
            first = bound.setdefault(dim, (int(size), name))
            if first[0] != size:
                raise InputError(f"model {model!r}: dimension {dim!r} is {first[0]} in input "
                                 f"{first[1]!r} but {size} in input {name!r}")
