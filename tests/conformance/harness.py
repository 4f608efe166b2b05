"""The conformance harness: onnxjit's backend with the suite's policy (tests/conformance/include.py).

Shared by tests/conformance/test_onnx_backend.py (pytest) and benchmarks/conformance_report.py.
"""
from __future__ import annotations

import re
import unittest
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx

from onnxjit.compiler.errors import UnsupportedOpsError
from onnxjit.runtime.backend import OnnxJitBackend, OnnxJitRep
from tests.conformance.include import COMPILE_TIME_INPUTS, OPS


def compile_time_inputs(model: onnx.ModelProto) -> list[str]:
    """Graph inputs feeding a COMPILE_TIME_INPUTS operand of some node."""
    inits = {t.name for t in model.graph.initializer}
    graph_inputs = {i.name for i in model.graph.input} - inits
    names: list[str] = []
    for node in model.graph.node:
        for pos in COMPILE_TIME_INPUTS.get(node.op_type, ()):
            if pos < len(node.input) and node.input[pos] in graph_inputs:
                names.append(node.input[pos])
    return sorted(set(names))


class _Rep(OnnxJitRep):
    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        with _skip_unsupported():
            return super().run(inputs, **kwargs)


class ConformanceBackend(OnnxJitBackend):
    """OnnxJitBackend binding compile-time operands; a missing lowering skips (naming the op)."""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", threads: int | None = 1,
                bind_inputs: Sequence[str] | None = None, **kwargs: Any) -> OnnxJitRep:
        binds = compile_time_inputs(model) if bind_inputs is None else list(bind_inputs)
        onnx.checker.check_model(model)
        with _skip_unsupported():
            rep = _Rep(model, "cpu", threads, binds)
        return rep

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"  # the suite also generates _cuda tests; onnxjit's target is CPU


class _skip_unsupported:
    """Turns UnsupportedOpsError into unittest.SkipTest listing the ops with no lowering."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, UnsupportedOpsError):
            ops = sorted({op.op_type for op in exc.ops})
            raise unittest.SkipTest(f"no lowering registered for {', '.join(ops)}") from None
        return False


ALL_OPS_RE = re.compile("|".join(f"(?:{rx})" for rx in OPS.values()))
