"""RMSNormalization (opset 23): axis, epsilon, scale broadcast, row lengths. Tolerance 1e-5."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model


@pytest.mark.parametrize("shape,axis", [((6, 64), -1), ((3, 5, 40), -1), ((2, 4, 6), 1),
                                        ((7, 13), -1), ((2, 3, 4, 8), -2)])
def test_rms_norm(shape: tuple[int, ...], axis: int) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    scale = rng.standard_normal(shape[axis % len(shape):]).astype(np.float32)
    node = helper.make_node("RMSNormalization", ["x", "scale"], ["y"], axis=axis, epsilon=1e-4)
    model = make_model([node], {"x": x}, ["y"], {"scale": scale}, opset=23)
    assert_matches(model, {"x": x}, rtol=1e-5, atol=1e-5)


def test_runtime_scale_default_epsilon() -> None:
    rng = np.random.default_rng(1)
    x, scale = rng.standard_normal((4, 48)).astype(np.float32), np.float32(rng.standard_normal(48))
    node = helper.make_node("RMSNormalization", ["x", "scale"], ["y"])
    model = make_model([node], {"x": x, "scale": scale}, ["y"], opset=23)
    assert_matches(model, {"x": x, "scale": scale}, rtol=1e-5, atol=1e-5)
