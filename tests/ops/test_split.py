"""Split: opset 2/11 `split` attribute, opset 13 `split` input, opset 18 `num_outputs`."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

X = np.arange(2 * 6 * 7, dtype=np.float32).reshape(2, 6, 7)


def _outs(n: int) -> list[str]:
    return [f"y{k}" for k in range(n)]


@pytest.mark.parametrize("opset,axis,split", [
    (2, 1, [1, 2, 3]), (11, -1, [4, 3]), (11, 0, None), (11, 1, None), (12, 2, [7]),
])
def test_attribute_split(opset: int, axis: int, split: list[int] | None) -> None:
    n = len(split) if split else 2
    attrs = {"axis": axis, **({"split": split} if split else {})}
    model = make_model([helper.make_node("Split", ["x"], _outs(n), **attrs)], {"x": X}, _outs(n),
                       opset=opset)
    # onnxruntime loads opset 7 and later only.
    assert_matches(model, {"x": X}, rtol=0, atol=0, onnxruntime=opset >= 7)


@pytest.mark.parametrize("axis,split", [(1, [2, 1, 3]), (-1, [1, 1, 5]), (0, [1, 1])])
def test_input_split(axis: int, split: list[int]) -> None:
    n = len(split)
    model = make_model([helper.make_node("Split", ["x", "s"], _outs(n), axis=axis)], {"x": X},
                       _outs(n), {"s": np.array(split, np.int64)}, opset=13)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_omitted_split_input_splits_equally() -> None:
    model = make_model([helper.make_node("Split", ["x", ""], _outs(3), axis=1)], {"x": X},
                       _outs(3), opset=13)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


@pytest.mark.parametrize("axis,num_outputs", [(2, 3), (2, 2), (1, 3), (1, 6), (-1, 7)])
def test_num_outputs_uneven_last_chunk(axis: int, num_outputs: int) -> None:
    # Chunks of ceil(n / k), the last one smaller: 7 in 3 -> [3, 3, 1]; 7 in 2 -> [4, 3].
    model = make_model([helper.make_node("Split", ["x"], _outs(num_outputs), axis=axis,
                                         num_outputs=num_outputs)], {"x": X}, _outs(num_outputs),
                       opset=18)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_zero_chunk() -> None:
    # 6 in 4 -> [2, 2, 2, 0]: the last output is an empty tensor.
    model = make_model([helper.make_node("Split", ["x"], _outs(4), axis=1, num_outputs=4)],
                       {"x": X}, _outs(4), opset=18)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_dtypes(dtype: str) -> None:
    x = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    model = make_model([helper.make_node("Split", ["x", "s"], _outs(2), axis=1)], {"x": x},
                       _outs(2), {"s": np.array([3, 1], np.int64)}, opset=13)
    assert_matches(model, {"x": x})


def test_outputs_feed_further_ops() -> None:
    nodes = [helper.make_node("Split", ["x"], ["a", "b"], axis=1),
             helper.make_node("Sigmoid", ["a"], ["sa"]),
             helper.make_node("Mul", ["sa", "b"], ["y"])]   # GLU
    model = make_model(nodes, {"x": X / 40}, ["y"], opset=13)
    assert_matches(model, {"x": X / 40})


def test_runtime_split_sizes_are_refused() -> None:
    s = np.array([3, 3], np.int64)
    model = make_model([helper.make_node("Split", ["x", "s"], _outs(2), axis=1)],
                       {"x": X, "s": s}, _outs(2), opset=13)
    with pytest.raises(onnxjit.LoweringError, match="compile time"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
