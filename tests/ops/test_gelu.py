"""Gelu (opset 20, approximate none/tanh) and Erf (opsets 9/13): vectorised polynomial math
against libm references; also as a fused matmul epilogue. Tolerance: 2e-6 absolute (erf's
approximation error is < 5e-7), 1e-5 relative."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

X = np.concatenate([np.linspace(-9, 9, 181), [0.0, 1e-30, -1e-20, 40.0, -40.0]]
                   ).astype(np.float32).reshape(-1, 31)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate: str) -> None:
    node = helper.make_node("Gelu", ["x"], ["y"], approximate=approximate)
    assert_matches(make_model([node], {"x": X}, ["y"], opset=20), {"x": X}, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("opset", [9, 13])
def test_erf(opset: int) -> None:
    node = helper.make_node("Erf", ["x"], ["y"])
    assert_matches(make_model([node], {"x": X}, ["y"], opset=opset), {"x": X},
                   rtol=1e-5, atol=2e-6)


def test_special_values() -> None:
    x = np.array([np.nan, np.inf, -np.inf, 0.0], np.float32)
    gelu = make_model([helper.make_node("Gelu", ["x"], ["y"])], {"x": x}, ["y"], opset=20)
    erf = make_model([helper.make_node("Erf", ["x"], ["y"])], {"x": x}, ["y"], opset=13)
    g = onnxjit.InferenceSession(gelu.SerializeToString(), threads=1).run(None, {"x": x})[0]
    e = onnxjit.InferenceSession(erf.SerializeToString(), threads=1).run(None, {"x": x})[0]
    np.testing.assert_array_equal(e, [np.nan, 1.0, -1.0, 0.0])
    assert np.isnan(g[0]) and g[1] == np.inf and g[3] == 0.0


def test_gelu_as_matmul_epilogue() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((9, 16)).astype(np.float32)
    w, b = rng.standard_normal((16, 24)).astype(np.float32), rng.standard_normal(24).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["a", "w"], ["y"]), helper.make_node("Add", ["y", "b"], ["z"]),
             helper.make_node("Gelu", ["z"], ["out"], approximate="tanh")]
    model = make_model(nodes, {"a": a}, ["out"], {"w": w, "b": b}, opset=20)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert [k.op_types for k in session.compiled({"a": a}).kernels] == [("MatMul", "Add", "Gelu")]
    assert_matches(model, {"a": a}, rtol=1e-5, atol=1e-5)
