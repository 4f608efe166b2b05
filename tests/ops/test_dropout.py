"""Dropout at inference: identity output (no kernel), all-true mask, training mode refused."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

X = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)


def test_output_and_mask() -> None:
    model = make_model([helper.make_node("Dropout", ["x"], ["y", "mask"])], {"x": X}, ["y", "mask"])
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_costs_no_kernel() -> None:
    nodes = [helper.make_node("Dropout", ["x", "r"], ["d"]), helper.make_node("Relu", ["d"], ["y"])]
    model = make_model(nodes, {"x": X}, ["y"], initializers={"r": np.array(0.3, np.float32)})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert [k.op_types for k in session.compiled({"x": X}).kernels] == [("Relu",)]
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_training_mode_is_refused() -> None:
    model = make_model([helper.make_node("Dropout", ["x", "r", "t"], ["y"])], {"x": X}, ["y"],
                       initializers={"r": np.array(0.5, np.float32), "t": np.array(True)})
    with pytest.raises(onnxjit.LoweringError, match="training mode"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
