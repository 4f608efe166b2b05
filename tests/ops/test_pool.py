"""MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool against the references."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

POOLS = [
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ("MaxPool", {"kernel_shape": [2, 2], "ceil_mode": 1, "strides": [2, 2]}),
    ("MaxPool", {"kernel_shape": [3, 3], "dilations": [2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    ("AveragePool", {"kernel_shape": [2, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
]


@pytest.mark.parametrize("case", range(len(POOLS)))
def test_pool(case: int) -> None:
    op, attrs = POOLS[case]
    x = np.random.default_rng(case).standard_normal((1, 3, 11, 10)).astype(np.float32)
    model = make_model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": x}, ["y"])
    assert_matches(model, {"x": x})


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool(op: str) -> None:
    x = np.random.default_rng(0).standard_normal((2, 5, 7, 9)).astype(np.float32)
    model = make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"])
    assert_matches(model, {"x": x})


def test_maxpool_indices() -> None:
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2, 2], strides=[2, 2])
    model = make_model([node], {"x": x}, ["y", "i"])
    assert_matches(model, {"x": x})
