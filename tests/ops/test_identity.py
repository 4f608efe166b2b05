"""Identity: an alias of its input (no kernel), also as a graph output of a graph input."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model


@pytest.mark.parametrize("value", [np.arange(6, dtype=np.float32).reshape(2, 3),
                                   np.array([True, False]), np.array(7, np.int64)])
def test_input_to_output(value: np.ndarray) -> None:
    model = make_model([helper.make_node("Identity", ["x"], ["y"])], {"x": value}, ["y"])
    assert_matches(model, {"x": value}, rtol=0, atol=0)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert session.compiled({"x": value}).kernels == ()


def test_between_kernels_and_both_values_as_outputs() -> None:
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Identity", ["r"], ["i"]),
             helper.make_node("Neg", ["i"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y", "r", "i"])
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert len(session.compiled({"x": x}).kernels) == 2
    assert_matches(model, {"x": x})
    # Outputs are copies: changing one returned array leaves a later run's results intact.
    first = session.run(None, {"x": x})
    first[1][:] = 99
    np.testing.assert_array_equal(session.run(None, {"x": x})[2], np.maximum(x, 0))
