"""CumSum: constant and run-time axes, exclusive, reverse, int dtypes."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_constant_axis(axis: int, exclusive: int, reverse: int) -> None:
    x = RNG.standard_normal((5, 19, 3)).astype(np.float32)
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)
    model = make_model([node], {"x": x}, ["y"], {"axis": np.array(axis, np.int64)})
    assert_matches(model, {"x": x})


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_run_time_axis_and_int32(axis: int) -> None:
    x = RNG.integers(-50, 50, (4, 6)).astype(np.int32)
    a = np.array(axis, np.int32)
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=1)
    model = make_model([node], {"x": x, "axis": a}, ["y"])
    assert_matches(model, {"x": x, "axis": a}, rtol=0, atol=0)
