"""Slice: opset 1 attributes, opset 10+ constant inputs; negative steps, clamping, INT_MAX ends."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

X = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
INT_MAX, INT_MIN = 2**63 - 1, -(2**63)

CASES = [
    # starts, ends, axes, steps
    ([1], [3], [1], None),
    ([0, 1], [INT_MAX, -1], None, None),                 # axes omitted: 0..len-1
    ([-1], [INT_MIN], [2], [-1]),                        # full reversal
    ([10], [-10], [0], [-2]),                            # out-of-range start, negative step
    ([-100], [100], [-1], [2]),                          # both ends clamp
    ([5], [0], [2], [-3]),
    ([1, 0, 4], [3, 5, 1], [2, 0, 1], [1, 2, -1]),       # axes out of order, mixed steps
    ([2], [INT_MAX], [-2], [INT_MAX]),                   # one element
    ([0], [1], [0], [1]),
]


@pytest.mark.parametrize("starts,ends,axes,steps", CASES)
def test_opset13_constant_inputs(starts: list[int], ends: list[int], axes: list[int] | None,
                                 steps: list[int] | None) -> None:
    inits = {"s": np.array(starts, np.int64), "e": np.array(ends, np.int64)}
    names = ["x", "s", "e"]
    if axes is not None:
        inits["a"] = np.array(axes, np.int64)
    if steps is not None:
        inits["t"] = np.array(steps, np.int64)
    names += ["a" if axes is not None else "", "t" if steps is not None else ""]
    while not names[-1]:
        names.pop()
    model = make_model([helper.make_node("Slice", names, ["y"])], {"x": X}, ["y"], inits)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_int32_inputs_and_int64_data() -> None:
    x = np.arange(20, dtype=np.int64).reshape(4, 5) - 7
    inits = {"s": np.array([-2, 3], np.int32), "e": np.array([0, 0], np.int32),
             "a": np.array([1, 0], np.int32), "t": np.array([-1, -2], np.int32)}
    model = make_model([helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])], {"x": x},
                       ["y"], inits)
    assert_matches(model, {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("attrs", [
    {"starts": [1], "ends": [3]},
    {"starts": [1, -3], "ends": [1000, -1], "axes": [0, 2]},
    {"starts": [0], "ends": [-1], "axes": [-1]},
])
def test_opset1_attributes(attrs: dict[str, list[int]]) -> None:
    model = make_model([helper.make_node("Slice", ["x"], ["y"], **attrs)], {"x": X}, ["y"], opset=9)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_bool_data_and_epilogue() -> None:
    x = (np.arange(12).reshape(3, 4) % 3 == 0)
    nodes = [helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"]),
             helper.make_node("Cast", ["y"], ["z"], to=1)]
    inits = {"s": np.array([3]), "e": np.array([0]), "a": np.array([1]), "t": np.array([-2])}
    model = make_model(nodes, {"x": x}, ["z"], inits)
    assert_matches(model, {"x": x})


def test_runtime_starts_are_refused() -> None:
    feeds = {"x": X, "s": np.array([1], np.int64)}
    model = make_model([helper.make_node("Slice", ["x", "s", "e"], ["y"])], feeds, ["y"],
                       {"e": np.array([3], np.int64)})
    with pytest.raises(onnxjit.LoweringError, match="compile time"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)


def test_empty_result() -> None:
    model = make_model([helper.make_node("Slice", ["x", "s", "e"], ["y"])], {"x": X}, ["y"],
                       {"s": np.array([3], np.int64), "e": np.array([1], np.int64)})
    assert_matches(model, {"x": X}, rtol=0, atol=0)
