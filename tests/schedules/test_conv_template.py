"""Every point of the conv template (dense and sparse) equals its default, ragged shapes included."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from onnxjit.schedules.conv import ConvTemplate
from tests.helpers import make_model
from tests.schedules.knob_check import check_space


@pytest.mark.parametrize("shape,k,zeros,m", [((1, 8, 7, 10), 1, 0.0, 8), ((1, 8, 9, 11), 3, 0.85, 8),
                                             ((1, 12, 5, 13), 1, 0.9, 8), ((1, 8, 7, 9), 3, 0.0, 32)])
def test_conv_space_points_agree(shape: tuple[int, ...], k: int, zeros: float, m: int) -> None:
    """m = 32: whole vectors of output channels, so channel-vectorised points are in the space."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((m, shape[1], k, k)).astype(np.float32)
    w[rng.random(w.shape) < zeros] = 0
    node = helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[k // 2] * 4)
    model = make_model([node, helper.make_node("Relu", ["c"], ["y"])], {"x": x}, ["y"],
                       {"w": w, "b": rng.standard_normal(m).astype(np.float32)})
    assert check_space(model, {"x": x}, ConvTemplate()) > 4
