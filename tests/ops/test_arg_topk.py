"""ArgMax/ArgMin (ties, select_last_index, keepdims) and TopK (constant k, both orders, ties)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

# Few distinct values: ties everywhere, so the tie rules are exercised.
X = np.random.default_rng(0).integers(0, 4, (3, 6, 5)).astype(np.float32)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("last", [0, 1])
def test_arg_reduce(op: str, axis: int, keepdims: int, last: int) -> None:
    node = helper.make_node(op, ["x"], ["y"], axis=axis, keepdims=keepdims, select_last_index=last)
    assert_matches(make_model([node], {"x": X}, ["y"]), {"x": X}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["int32", "float64"])
def test_arg_reduce_dtypes_and_infinities(dtype: str) -> None:
    x = np.array([[1, 5, 5, -3], [-7, -7, 2, 0]], dtype)
    if dtype == "float64":
        x[0, 0], x[1, 3] = -np.inf, np.inf
    for op in ("ArgMax", "ArgMin"):
        node = helper.make_node(op, ["x"], ["y"], axis=1)
        assert_matches(make_model([node], {"x": x}, ["y"]), {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("k", [1, 3])
def test_topk(axis: int, largest: int, k: int) -> None:
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest)
    model = make_model([node], {"x": X}, ["v", "i"], initializers={"k": np.array([k], np.int64)})
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_topk_whole_axis_random_values() -> None:
    x = np.random.default_rng(3).standard_normal((4, 50)).astype(np.float32)
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"])
    model = make_model([node], {"x": x}, ["v", "i"], initializers={"k": np.array([50], np.int64)})
    assert_matches(model, {"x": x}, rtol=0, atol=0)


def test_topk_runtime_k_is_refused() -> None:
    k = np.array([2], np.int64)
    model = make_model([helper.make_node("TopK", ["x", "k"], ["v", "i"])], {"x": X, "k": k},
                       ["v", "i"])
    with pytest.raises(onnxjit.LoweringError, match="compile time"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
