"""Flatten: to 2-D at `axis` (0..rank, negative from opset 11); a view."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

X = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)


@pytest.mark.parametrize("axis", [None, 0, 1, 2, 3, -1, -3])
def test_axes(axis: int | None) -> None:
    attrs = {} if axis is None else {"axis": axis}
    model = make_model([helper.make_node("Flatten", ["x"], ["y"], **attrs)], {"x": X}, ["y"])
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_scalar_and_int64() -> None:
    x = np.array(5, np.int64)
    model = make_model([helper.make_node("Flatten", ["x"], ["y"], axis=0)], {"x": x}, ["y"])
    assert_matches(model, {"x": x})


def test_feeds_a_kernel() -> None:
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=2),
             helper.make_node("Transpose", ["f"], ["y"])]
    model = make_model(nodes, {"x": X}, ["y"])
    assert_matches(model, {"x": X})
