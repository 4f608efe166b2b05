"""Unary elementwise ops against onnx's reference evaluator and onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

FLOAT_OPS = ["Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Relu", "Sigmoid", "Tanh",
             "Softplus"]
# (op, dtype) pairs onnxruntime's CPU provider has no kernel for: checked by the reference only.
ORT_MISSING = {("Softplus", "float64"), ("Relu", "int64")}


def _inputs(op: str, shape: tuple[int, ...], dtype: str, scale: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(abs(hash((op, shape, dtype))) % 2**32)
    x = rng.standard_normal(shape) * scale
    if op in ("Log", "Sqrt"):
        x = np.abs(x) + 0.05
    if op == "Reciprocal":
        x = np.where(np.abs(x) < 0.1, 0.5, x)
    return np.asarray(x).astype(dtype)


def _check(op: str, x: np.ndarray, opset: int = 21, rtol: float = 1e-5) -> None:
    model = make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"], opset=opset)
    ort = (op, str(x.dtype)) not in ORT_MISSING
    assert_matches(model, {"x": x}, rtol=rtol, atol=1e-6, onnxruntime=ort)


@pytest.mark.parametrize("op", FLOAT_OPS)
@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 16)])
def test_float32(op: str, shape: tuple[int, ...]) -> None:
    _check(op, _inputs(op, shape, "float32"))


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_float64(op: str) -> None:
    _check(op, _inputs(op, (3, 5), "float64"), rtol=1e-12)


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_float16(op: str) -> None:
    _check(op, _inputs(op, (4, 8), "float16", scale=2.0), rtol=2e-3)


@pytest.mark.parametrize("op", ["Sigmoid", "Softplus", "Tanh", "Exp"])
def test_extreme_values_are_stable(op: str) -> None:
    # The naive forms give inf/inf = nan (sigmoid) or inf (softplus) at these magnitudes.
    x = np.array([-1000.0, -100.0, -88.0, -20.0, -1e-7, 0.0, 1e-7, 20.0, 88.0, 100.0, 1000.0],
                 np.float32)
    _check(op, x)
    if op in ("Sigmoid", "Softplus", "Tanh"):
        model = make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"])
        y = onnxjit.InferenceSession(model.SerializeToString(), threads=1).run(None, {"x": x})[0]
        assert np.isfinite(y).all()


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_nan_and_infinities(op: str) -> None:
    # NaN propagates through every op (Relu included: max(NaN, 0) is NaN in numpy and onnxruntime).
    x = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    _check(op, x)


@pytest.mark.parametrize("op", ["Neg", "Abs", "Relu"])
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
def test_integers(op: str, dtype: str) -> None:
    x = np.array([[-100, -3, -1, 0], [1, 2, 50, 100]], dtype)
    _check(op, x)


def test_abs_unsigned_is_identity() -> None:
    _check("Abs", np.array([0, 1, 200, 255], np.uint8))


@pytest.mark.parametrize("op,dtype", [("Exp", "int32"), ("Neg", "uint8"), ("Sqrt", "int64")])
def test_dtype_outside_the_schema_is_a_lowering_error(op: str, dtype: str) -> None:
    x = np.ones(3, dtype)
    model = make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"])
    with pytest.raises(onnxjit.LoweringError, match="not supported"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)


@pytest.mark.parametrize("opset", [6, 13])
def test_older_opsets(opset: int) -> None:
    _check("Sigmoid", _inputs("Sigmoid", (3, 4), "float32"), opset=opset)


def test_chain_fuses_into_one_kernel() -> None:
    x = _inputs("Exp", (4, 16), "float32")
    nodes = [helper.make_node("Neg", ["x"], ["a"]), helper.make_node("Exp", ["a"], ["b"]),
             helper.make_node("Softplus", ["b"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"])
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert [k.op_types for k in session.compiled({"x": x}).kernels] == [("Neg", "Exp", "Softplus")]
    assert_matches(model, {"x": x}, onnxruntime=True)
