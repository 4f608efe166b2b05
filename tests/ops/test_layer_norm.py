"""LayerNormalization (opset 17): axis, epsilon, optional bias, optional Mean/InvStdDev outputs,
rows of lengths that do and do not divide the vector width. Tolerance 1e-5 (fp32, two-pass
statistics in vector lanes)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model


def _data(shape: tuple[int, ...], seed: int, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


@pytest.mark.parametrize("shape,axis", [((6, 64), -1), ((3, 5, 40), -1), ((2, 4, 6), 1),
                                        ((7, 13), -1), ((2, 3, 4, 8), -2), ((5, 96), 0)])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm(shape: tuple[int, ...], axis: int, bias: bool) -> None:
    x = _data(shape, 0, 3.0) + 1.0
    norm_shape = shape[axis % len(shape):]
    inits = {"scale": _data(norm_shape, 1)}
    inputs = ["x", "scale"]
    if bias:
        inits["bias"] = _data(norm_shape, 2)
        inputs.append("bias")
    node = helper.make_node("LayerNormalization", inputs, ["y"], axis=axis, epsilon=1e-3)
    assert_matches(make_model([node], {"x": x}, ["y"], inits, opset=17), {"x": x},
                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("outputs", [["y", "mean", "inv_std"], ["y", "mean"], ["y", "", "inv_std"]])
def test_statistics_outputs(outputs: list[str]) -> None:
    x = _data((4, 3, 32), 0, 2.0)
    scale, bias = _data((32,), 1), _data((32,), 2)
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], outputs, axis=-1)
    model = make_model([node], {"x": x}, [o for o in outputs if o], {"scale": scale, "bias": bias},
                       opset=17)
    assert_matches(model, {"x": x}, rtol=1e-5, atol=1e-5)


def test_runtime_scale_and_broadcast_scale() -> None:
    x, scale = _data((5, 2, 16), 0), _data((1, 16), 1)
    node = helper.make_node("LayerNormalization", ["x", "scale"], ["y"], axis=-2)
    model = make_model([node], {"x": x, "scale": scale}, ["y"], opset=17)
    assert_matches(model, {"x": x, "scale": scale}, rtol=1e-5, atol=1e-5, onnxruntime=False)


def test_float64() -> None:
    x = np.random.default_rng(0).standard_normal((3, 24))
    node = helper.make_node("LayerNormalization", ["x", "scale"], ["y"])
    model = make_model([node], {"x": x}, ["y"], {"scale": np.linspace(0.5, 1.5, 24)}, opset=17)
    assert_matches(model, {"x": x}, rtol=1e-10, atol=1e-10)
