"""Expand: numpy (bidirectional) broadcasting to a constant shape."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model


@pytest.mark.parametrize("in_shape,shape", [
    ((3, 1), [3, 4]),
    ((3, 1), [2, 3, 4]),          # new leading axes
    ((1, 4), [3, 1]),             # bidirectional: result (3, 4), larger than the target
    ((2, 3), [1]),                # target smaller than the input: input shape wins
    ((), [2, 2]),
    ((4,), [2, 1, 4]),
    ((2, 1, 3), [2, 5, 3]),
])
def test_shapes(in_shape: tuple[int, ...], shape: list[int]) -> None:
    x = np.asarray(np.arange(int(np.prod(in_shape)), dtype=np.float32).reshape(in_shape))
    model = make_model([helper.make_node("Expand", ["x", "s"], ["y"])], {"x": x}, ["y"],
                       {"s": np.array(shape, np.int64)})
    assert_matches(model, {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_dtypes(dtype: str) -> None:
    x = (np.arange(3).reshape(3, 1) % 2).astype(dtype)
    model = make_model([helper.make_node("Expand", ["x", "s"], ["y"])], {"x": x}, ["y"],
                       {"s": np.array([2, 3, 2], np.int64)})
    assert_matches(model, {"x": x})


def test_shape_from_shape_op() -> None:
    # Exporters compute the target with Shape: it folds at compile time.
    feeds = {"x": np.ones((3, 1), np.float32) * 2, "like": np.zeros((3, 5), np.float32)}
    nodes = [helper.make_node("Shape", ["like"], ["s"]),
             helper.make_node("Expand", ["x", "s"], ["y"])]
    model = make_model(nodes, feeds, ["y"])
    assert_matches(model, feeds)


def test_incompatible_shape_is_refused() -> None:
    x = np.ones((3, 2), np.float32)
    model = make_model([helper.make_node("Expand", ["x", "s"], ["y"])], {"x": x}, ["y"],
                       {"s": np.array([3, 2], np.int64)})
    model.graph.initializer[0].raw_data = np.array([4, 2], np.int64).tobytes()  # after inference
    with pytest.raises(onnxjit.LoweringError, match="broadcast"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
