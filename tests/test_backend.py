"""onnxjit.runtime.backend: the onnx Backend interface (what the conformance suite drives)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit.runtime.backend as backend
from tests.helpers import make_model


def test_prepare_runs_inputs_in_graph_order() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.full((2, 3), 2, np.float32)
    model = make_model([helper.make_node("Sub", ["x", "y"], ["z"])], {"x": x, "y": y}, ["z"])
    rep = backend.prepare(model, "CPU")
    (out,) = rep.run([x, y])
    np.testing.assert_array_equal(out, x - y)
    np.testing.assert_array_equal(rep.run({"y": y, "x": x})[0], x - y)
    np.testing.assert_array_equal(backend.run_model(model, [x, y])[0], x - y)


def test_bind_inputs_compiles_values_in_and_recompiles_per_value() -> None:
    x = np.arange(6, dtype=np.float32)
    model = make_model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                       {"x": x, "shape": np.array([2, 3], np.int64)}, ["y"])
    rep = backend.prepare(model, bind_inputs=["shape"])
    assert rep.run([x, np.array([2, 3], np.int64)])[0].shape == (2, 3)
    assert rep.run([x, np.array([3, 2], np.int64)])[0].shape == (3, 2)
    assert len(rep._sessions) == 2
    with pytest.raises(ValueError, match="not graph inputs"):
        backend.prepare(model, bind_inputs=["nope"])


def test_devices() -> None:
    assert backend.supports_device("CPU")
    assert not backend.supports_device("CUDA")
    x = np.ones(2, np.float32)
    model = make_model([helper.make_node("Add", ["x", "x"], ["y"])], {"x": x}, ["y"])
    with pytest.raises(ValueError, match="unsupported device"):
        backend.prepare(model, "CUDA")
