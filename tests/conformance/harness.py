"""The conformance harness: onnxjit's backend with the suite's policy (tests/conformance/include.py).

Shared by tests/conformance/test_onnx_backend.py (pytest) and benchmarks/conformance_report.py.
"""
from __future__ import annotations

import unittest
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import onnx
import onnx.backend.test

from onnxjit.compiler.errors import UnsupportedOpsError
from onnxjit.runtime.backend import OnnxJitBackend, OnnxJitRep
from tests.conformance.include import COMPILE_TIME_INPUTS, exclusion_reason, op_of


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


@contextmanager
def _skip_unsupported() -> Iterator[None]:
    """Turns UnsupportedOpsError into unittest.SkipTest listing the ops with no lowering."""
    try:
        yield
    except UnsupportedOpsError as exc:
        ops = sorted({op.op_type for op in exc.ops})
        raise unittest.SkipTest(f"no lowering registered for {', '.join(ops)}") from None


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
            return _Rep(model, "cpu", threads, binds)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"  # the suite also generates _cuda tests; onnxjit's target is CPU


def node_test_case(parent_module: str) -> type[unittest.TestCase]:
    """onnx's node-test TestCase holding only include.py's tests (excluded ones skip with reason).

    The other ~1,400 node tests and the CUDA duplicates are dropped, not reported as skips.
    """
    with warnings.catch_warnings():
        # Generating the cases (cast/reduce expectations) warns about overflow and log(0) on purpose.
        warnings.simplefilter("ignore", RuntimeWarning)
        backend_test = onnx.backend.test.BackendTest(ConformanceBackend, parent_module)
    case = backend_test.test_cases["OnnxBackendNodeModelTest"]
    for name in [n for n in vars(case) if n.startswith("test_")]:
        func = getattr(case, name)
        if not name.endswith("_cpu") or op_of(name) is None:
            delattr(case, name)
        elif (why := exclusion_reason(name)) is not None:
            setattr(case, name, unittest.skip(f"excluded: {why}")(func))
    return case
