"""Concat: any axis (negative too), several inputs, mixed runtime/constant inputs, dtypes."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model, run_onnxjit


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_axes_three_inputs(axis: int) -> None:
    rng = np.random.default_rng(axis + 3)
    sizes = [1, 3, 2]
    feeds = {}
    for k, n in enumerate(sizes):
        shape = [2, 3, 4]
        shape[axis] = n
        feeds[f"x{k}"] = rng.standard_normal(shape).astype(np.float32)
    model = make_model([helper.make_node("Concat", list(feeds), ["y"], axis=axis)], feeds, ["y"])
    assert_matches(model, feeds, rtol=0, atol=0)


def test_single_input() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    model = make_model([helper.make_node("Concat", ["x"], ["y"], axis=1)], {"x": x}, ["y"])
    assert_matches(model, {"x": x})


def test_same_input_twice_and_constant() -> None:
    x = np.arange(6, dtype=np.int64).reshape(3, 2)
    model = make_model([helper.make_node("Concat", ["x", "c", "x"], ["y"], axis=-1)], {"x": x},
                       ["y"], {"c": np.full((3, 1), -7, np.int64)})
    assert_matches(model, {"x": x})


@pytest.mark.parametrize("dtype", ["bool", "int32", "float64", "uint8"])
def test_dtypes(dtype: str) -> None:
    a = (np.arange(4).reshape(2, 2) % 2).astype(dtype)
    b = (np.arange(6).reshape(2, 3) % 3).astype(dtype)
    model = make_model([helper.make_node("Concat", ["a", "b"], ["y"], axis=1)],
                       {"a": a, "b": b}, ["y"])
    assert_matches(model, {"a": a, "b": b})


def test_many_one_element_parts() -> None:
    feeds = {f"x{k}": np.array([k], np.float32) for k in range(9)}
    model = make_model([helper.make_node("Concat", list(feeds), ["y"], axis=0)], feeds, ["y"])
    assert_matches(model, feeds)


def test_opset1_default_axis() -> None:
    a = np.ones((2, 2), np.float32)
    b = np.zeros((2, 3), np.float32)
    model = make_model([helper.make_node("Concat", ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"],
                       opset=1)
    # Neither onnx shape inference, the reference evaluator nor onnxruntime handle opset-1
    # Concat (whose axis defaulted to 1): declare the output type and compare with numpy.
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("y", 1, [2, 5]))
    got = run_onnxjit(model, {"a": a, "b": b})[0]
    np.testing.assert_array_equal(got, np.concatenate([a, b], axis=1))
