"""PRelu (slope broadcast unidirectionally to X) against onnx's reference evaluator and
onnxruntime; after a Conv it runs as its own elementwise kernel."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model


def _model(x: np.ndarray, slope: np.ndarray, constant: bool = True) -> onnx.ModelProto:
    node = helper.make_node("PRelu", ["x", "slope"], ["y"])
    if constant:
        return make_model([node], {"x": x}, ["y"], initializers={"slope": slope})
    return make_model([node], {"x": x, "slope": slope}, ["y"])


def _x(shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    x = 3 * np.random.default_rng(1).standard_normal(shape)
    x.reshape(-1)[:3] = [0.0, -0.0, np.nan] if dtype.startswith("float") else [0, -1, 1]
    return x.astype(dtype)


@pytest.mark.parametrize("slope_shape", [(5, 1, 1), (1,), (7,), (2, 5, 6, 7), (5, 6, 1)])
def test_float32_slope_shapes(slope_shape: tuple[int, ...]) -> None:
    x = _x((2, 5, 6, 7))
    slope = np.random.default_rng(2).uniform(-0.5, 0.5, slope_shape).astype(np.float32)
    assert_matches(_model(x, slope), {"x": x}, rtol=1e-6, atol=1e-7)


def test_slope_as_graph_input_and_float16() -> None:
    x = _x((3, 4, 5), "float16")
    slope = np.array([0.25, -0.5, 1.5, 0.0, 0.1], np.float16)
    assert_matches(_model(x, slope, constant=False), {"x": x, "slope": slope},
                   rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integers(dtype: str) -> None:
    """onnxruntime's CPU PRelu is float-only: against the reference evaluator."""
    x = _x((4, 6), dtype)
    slope = np.array([2, -3, 0, 1, 5, -1], dtype)
    assert_matches(_model(x, slope), {"x": x}, rtol=0, atol=0, onnxruntime=False)


def test_slope_that_does_not_broadcast_to_x_is_refused() -> None:
    x = _x((4, 6))
    slope = np.full((2, 4, 6), 0.1, np.float32)
    model = _model(x, slope)
    with pytest.raises(onnxjit.LoweringError, match="PRelu.*unidirectionally"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1).run(None, {"x": x})


def test_after_conv_per_channel_slope() -> None:
    """Conv -> PRelu with (C, 1, 1) slopes, as PyTorch exports nn.PReLU(C) after a conv."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 8, 14, 14)).astype(np.float32)
    w = (0.2 * rng.standard_normal((16, 8, 3, 3))).astype(np.float32)
    slope = rng.uniform(0.0, 0.3, (16, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("PRelu", ["c", "slope"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], initializers={"w": w, "slope": slope})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert [k.op_types for k in session.compiled({"x": x}).kernels][-1] == ("PRelu",)
    assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-5)
