"""Unsqueeze: opset 11 attribute / opset 13 input axes, indexing the output; a view."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

X = np.arange(12, dtype=np.float32).reshape(3, 4)


@pytest.mark.parametrize("axes", [[0], [2], [-1], [1, 0], [0, 3], [-1, -4], [4, 0, 2]])
@pytest.mark.parametrize("opset", [11, 13])
def test_axes(axes: list[int], opset: int) -> None:
    if opset >= 13:
        node = helper.make_node("Unsqueeze", ["x", "a"], ["y"])
        inits = {"a": np.array(axes, np.int64)}
    else:
        # The reference evaluator's opset-11 Unsqueeze inserts axes one by one in the order given
        # (the spec says order does not matter): give them ascending and non-negative.
        rank = X.ndim + len(axes)
        node = helper.make_node("Unsqueeze", ["x"], ["y"], axes=sorted(a % rank for a in axes))
        inits = None
    model = make_model([node], {"x": X}, ["y"], inits, opset=opset)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_scalar_to_vector_and_consumer() -> None:
    x = np.array(2.5, np.float32)
    nodes = [helper.make_node("Unsqueeze", ["x", "a"], ["u"]),
             helper.make_node("Concat", ["u", "u"], ["y"], axis=0)]
    model = make_model(nodes, {"x": x}, ["y"], {"a": np.array([0], np.int64)})
    assert_matches(model, {"x": x})


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_dtypes(dtype: str) -> None:
    x = (np.arange(4) % 2).astype(dtype)
    model = make_model([helper.make_node("Unsqueeze", ["x", "a"], ["y"])], {"x": x}, ["y"],
                       {"a": np.array([-1, 0], np.int64)})
    assert_matches(model, {"x": x})


def test_repeated_axis_is_refused() -> None:
    model = make_model([helper.make_node("Unsqueeze", ["x", "a"], ["y"])], {"x": X}, ["y"],
                       {"a": np.array([0, 1], np.int64)})
    model.graph.initializer[0].raw_data = np.array([0, -4], np.int64).tobytes()  # same axis
    with pytest.raises(onnxjit.LoweringError, match="repeat"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
