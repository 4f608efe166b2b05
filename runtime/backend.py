"""onnxjit as an ONNX backend (`onnx.backend.base.Backend`), the interface of onnx's conformance suite.

    import onnxjit.runtime.backend as backend
    rep = backend.prepare(model, "CPU")           # or backend.run_model(model, [x, y])
    outputs = rep.run([x, y])                     # inputs and outputs in graph order

`prepare` builds an `InferenceSession` (one thread unless `threads=` says otherwise); compile errors
(unsupported ops, lowering errors) surface there when the model's input shapes are static.

`bind_inputs=` names graph inputs whose values onnxjit must know at compile time — typically a
Reshape target shape, Slice bounds or reduction axes that an exporter left as graph inputs instead
of initializers. Their values, taken from each `run`, are compiled into the model as constants;
each new value compiles (and caches) a new session.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from onnxjit.runtime.session import InferenceSession

# onnx device type -> onnxjit target name; only the CPU target exists today.
_TARGETS = {DeviceType.CPU: "cpu"}


def _target(device: str) -> str:
    try:
        return _TARGETS[Device(device).type]
    except (KeyError, ValueError, AttributeError):
        raise ValueError(f"onnxjit backend: unsupported device {device!r}; "
                         f"supported: {', '.join(sorted(_TARGETS.values())).upper()}") from None


def _runtime_inputs(model: onnx.ModelProto) -> list[str]:
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


class OnnxJitRep(BackendRep):
    """A prepared model: `run(inputs)` feeds the graph's inputs in order, returns outputs in order."""

    def __init__(self, model: onnx.ModelProto, target: str, threads: int | None,
                 bind_inputs: Collection[str] = ()) -> None:
        self.model = model
        self.target = target
        self.threads = threads
        self.input_names = _runtime_inputs(model)
        unknown = sorted(set(bind_inputs) - set(self.input_names))
        if unknown:
            raise ValueError(f"bind_inputs {unknown} are not graph inputs of the model")
        self.bound = tuple(n for n in self.input_names if n in set(bind_inputs))
        self._sessions: dict[tuple[bytes, ...], InferenceSession] = {}
        if not self.bound:
            self._sessions[()] = self._session(model)

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        feeds = self._feeds(inputs)
        bound = {n: feeds.pop(n) for n in self.bound}
        key = tuple(_value_key(v) for v in bound.values())
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = self._session(_with_constants(self.model, bound))
        return tuple(session.run(None, feeds))

    def _session(self, model: onnx.ModelProto) -> InferenceSession:
        return InferenceSession(model, target=self.target, threads=self.threads)

    def _feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        if isinstance(inputs, Mapping):
            return {k: np.asarray(v) for k, v in inputs.items()}
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        values = list(inputs)
        if len(values) != len(self.input_names):
            raise ValueError(f"model has {len(self.input_names)} input(s) {self.input_names}, "
                             f"got {len(values)} value(s)")
        return {n: np.asarray(v) for n, v in zip(self.input_names, values)}


def _value_key(value: np.ndarray) -> bytes:
    return repr((value.dtype.str, value.shape)).encode() + np.ascontiguousarray(value).tobytes()


def _with_constants(model: onnx.ModelProto, values: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """The model with these inputs given as initializers (kept in graph.input, valid at any IR)."""
    bound = onnx.ModelProto()
    bound.CopyFrom(model)
    for name, value in values.items():
        bound.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return bound


class OnnxJitBackend(Backend):
    """onnx.backend.base.Backend over onnxjit's compiler (see the module docstring)."""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", threads: int | None = 1,
                bind_inputs: Collection[str] = (), **kwargs: Any) -> OnnxJitRep:
        # Backend.prepare only validates the model (onnx.checker); the importer re-checks it.
        super().prepare(model, device, **kwargs)
        return OnnxJitRep(model, _target(device), threads, bind_inputs)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Sequence[tuple[Any, tuple[int, ...]]] | None = None,
                 **kwargs: Any) -> tuple[np.ndarray, ...]:
        raise NotImplementedError("onnxjit compiles models; wrap the node in a model and use run_model")

    @classmethod
    def supports_device(cls, device: str) -> bool:
        try:
            _target(device)
        except ValueError:
            return False
        return True


prepare = OnnxJitBackend.prepare
run_model = OnnxJitBackend.run_model
run_node = OnnxJitBackend.run_node
supports_device = OnnxJitBackend.supports_device
