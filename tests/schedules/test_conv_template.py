"""Every point of the conv template (dense and sparse) equals its default, ragged shapes included."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from onnxjit.schedules.conv import ConvTemplate
from tests.helpers import make_model
from tests.schedules.knob_check import check_space


@pytest.mark.parametrize("shape,k,zeros", [((1, 8, 7, 10), 1, 0.0), ((1, 8, 9, 11), 3, 0.85),
                                           ((1, 12, 5, 13), 1, 0.9)])
def test_conv_space_points_agree(shape: tuple[int, ...], k: int, zeros: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((8, shape[1], k, k)).astype(np.float32)
    w[rng.random(w.shape) < zeros] = 0
    node = helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[k // 2] * 4)
    model = make_model([node, helper.make_node("Relu", ["c"], ["y"])], {"x": x}, ["y"],
                       {"w": w, "b": rng.standard_normal(8).astype(np.float32)})
    assert check_space(model, {"x": x}, ConvTemplate()) > 4
