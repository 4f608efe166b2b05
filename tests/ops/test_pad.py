"""Pad: four modes, negative pads (crop), axes (opset 18), run-time constant value, opset 2."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model, run_onnxjit, run_onnxruntime

X = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("pads", [[0, 1, 2, 1, 0, 3], [1, 2, 4, 0, 2, 4]])
def test_modes(mode: str, pads: list[int]) -> None:
    model = make_model([helper.make_node("Pad", ["x", "p"], ["y"], mode=mode)], {"x": X}, ["y"],
                       initializers={"p": np.array(pads, np.int64)})
    assert_matches(model, {"x": X}, rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_negative_pads_crop(mode: str) -> None:
    # The reference evaluator (np.pad) refuses negative pads: onnxruntime and numpy slicing judge.
    pads = np.array([0, -1, 1, 0, 1, -2], np.int64)
    model = make_model([helper.make_node("Pad", ["x", "p"], ["y"], mode=mode)], {"x": X}, ["y"],
                       initializers={"p": pads})
    (ours,), (theirs,) = run_onnxjit(model, {"x": X}), run_onnxruntime(model, {"x": X})
    np.testing.assert_array_equal(ours, theirs)
    # Cropping first, then padding the rest, gives the same as long as the pads fit the crop.
    np.testing.assert_array_equal(ours, np.pad(X[:, 1:, :3], ((0, 0), (0, 1), (1, 0)), mode=mode))


def test_axes_and_runtime_value() -> None:
    v = np.array(2.5, np.float32)
    model = make_model([helper.make_node("Pad", ["x", "p", "v", "a"], ["y"])], {"x": X, "v": v},
                       ["y"], initializers={"p": np.array([1, 2, 3, 0], np.int64),
                                            "a": np.array([-1, 0], np.int64)})
    assert_matches(model, {"x": X, "v": v}, rtol=0, atol=0)


def test_opset2_attribute_form() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    model = make_model([helper.make_node("Pad", ["x"], ["y"], pads=[1, 0, 0, 2], value=7.0)],
                       {"x": x}, ["y"], opset=10)
    assert_matches(model, {"x": x}, rtol=0, atol=0)


def test_int64_reflect() -> None:
    x = np.arange(12, dtype=np.int64).reshape(3, 4)
    model = make_model([helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect")], {"x": x},
                       ["y"], initializers={"p": np.array([2, 1, 2, 3], np.int64)})
    assert_matches(model, {"x": x}, rtol=0, atol=0)
