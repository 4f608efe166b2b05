"""com.microsoft FastGelu (with and without bias) against numpy in float64 and onnxruntime.
onnx's shape inference and reference evaluator do not know the op: the model declares its
output type, as onnxruntime's transformer optimiser writes it."""
from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxjit
from tests.helpers import run_onnxjit, run_onnxruntime


def _model(shape: tuple[int, ...], dtype: str, bias: np.ndarray | None) -> onnx.ModelProto:
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    inputs = ["x"] + (["bias"] if bias is not None else [])
    inits = [onnx.numpy_helper.from_array(bias, "bias")] if bias is not None else []
    node = helper.make_node("FastGelu", inputs, ["y"], domain="com.microsoft")
    graph = helper.make_graph([node], "fast_gelu", [helper.make_tensor_value_info("x", elem, shape)],
                              [helper.make_tensor_value_info("y", elem, shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


def _numpy(x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    v = x.astype(np.float64) + (0.0 if bias is None else bias.astype(np.float64))
    return 0.5 * v * (1.0 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))


@pytest.mark.parametrize("with_bias", [False, True])
def test_float32(with_bias: bool) -> None:
    rng = np.random.default_rng(7)
    x = (3 * rng.standard_normal((2, 9, 48))).astype(np.float32)
    x.reshape(-1)[:4] = [0.0, -20.0, 20.0, 1e-6]
    bias = rng.standard_normal(48).astype(np.float32) if with_bias else None
    model = _model(x.shape, "float32", bias)
    got = run_onnxjit(model, {"x": x})[0]
    np.testing.assert_allclose(got, _numpy(x, bias), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(got, run_onnxruntime(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_float16_with_bias() -> None:
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 32)).astype(np.float16)
    bias = rng.standard_normal(32).astype(np.float16)
    model = _model(x.shape, "float16", bias)
    got = run_onnxjit(model, {"x": x})[0]
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, _numpy(x, bias), rtol=2e-3, atol=2e-3)


def test_bias_of_wrong_length_is_refused() -> None:
    x = np.zeros((2, 8), np.float32)
    model = _model(x.shape, "float32", np.zeros(4, np.float32))
    with pytest.raises(onnxjit.LoweringError, match="FastGelu.*bias of shape"):
        run_onnxjit(model, {"x": x})


def test_fast_gelu_then_tanh_are_separate_polynomial_kernels() -> None:
    """FastGelu counts as a polynomial op: a following Tanh does not nest into its kernel."""
    x = np.random.default_rng(9).standard_normal((3, 16)).astype(np.float32)
    elem = onnx.TensorProto.FLOAT
    nodes = [helper.make_node("FastGelu", ["x"], ["g"], domain="com.microsoft"),
             helper.make_node("Tanh", ["g"], ["y"])]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", elem, x.shape)],
                              [helper.make_tensor_value_info("y", elem, x.shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert [k.op_types for k in session.compiled({"x": x}).kernels] == [("FastGelu",), ("Tanh",)]
    np.testing.assert_allclose(session.run(None, {"x": x})[0], np.tanh(_numpy(x, None)),
                               rtol=2e-6, atol=1e-6)
