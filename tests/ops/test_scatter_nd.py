"""ScatterND: slice and element updates, negative indices, every reduction."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3, 5)).astype(np.float32)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_slices(reduction: str) -> None:
    idx = np.array([[1], [3], [-4]], np.int64)
    upd = RNG.standard_normal((3, 3, 5)).astype(np.float32)
    attrs = {} if reduction == "none" else {"reduction": reduction}
    model = make_model([helper.make_node("ScatterND", ["x", "i", "u"], ["y"], **attrs)],
                       {"x": X, "i": idx, "u": upd}, ["y"])
    assert_matches(model, {"x": X, "i": idx, "u": upd}, rtol=1e-6, atol=1e-6)


def test_elements_with_repeats_accumulate_in_order() -> None:
    idx = np.array([[[0, 1, 2], [3, 2, 4]], [[0, 1, 2], [1, 1, 1]]], np.int64)
    upd = RNG.standard_normal((2, 2)).astype(np.float32)
    model = make_model([helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="add")],
                       {"x": X, "i": idx, "u": upd}, ["y"])
    assert_matches(model, {"x": X, "i": idx, "u": upd}, rtol=1e-6, atol=1e-6)


def test_int64_rows() -> None:
    x = np.arange(20, dtype=np.int64).reshape(4, 5)
    idx = np.array([[2, 1], [0, 4]], np.int64)
    upd = np.array([-1, -2], np.int64)
    model = make_model([helper.make_node("ScatterND", ["x", "i", "u"], ["y"])],
                       {"x": x, "i": idx, "u": upd}, ["y"])
    assert_matches(model, {"x": x, "i": idx, "u": upd}, rtol=0, atol=0)
