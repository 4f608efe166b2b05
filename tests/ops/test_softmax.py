"""Softmax and LogSoftmax against onnx's reference evaluator and onnxruntime, and LogSoftmax's
log(sum) computed once per row: inside the elementwise stage it was one libm logf call per
element (LLVM does not hoist it), 64x1000 at 0.10x of onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model, run_onnxjit, run_onnxruntime


def _model(op: str, x: np.ndarray, axis: int, opset: int = 21):
    return make_model([helper.make_node(op, ["x"], ["y"], axis=axis)], {"x": x}, ["y"],
                      opset=opset)


def _numpy(op: str, x: np.ndarray, axis: int) -> np.ndarray:
    """float64 reference: the log-sum-exp form, finite wherever the mathematical value is."""
    x64 = x.astype(np.float64)
    shifted = x64 - x64.max(axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        log_sum = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted - log_sum if op == "LogSoftmax" else np.exp(shifted - log_sum)


def test_log_softmax_elementwise_stage_calls_no_log() -> None:
    x = np.zeros((4, 1000), np.float32)
    model = _model("LogSoftmax", x, -1)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    (kernel,) = session.compiled({"x": x}).kernels
    text = kernel.func.script()
    # the statement writing the output (a full-size stage) reads a per-row log, not T.log
    stores = [line for line in text.splitlines() if "_logsoftmax[" in line and " = " in line]
    assert stores and not [s for s in stores if "T.log(" in s], text
    assert text.count("T.log(") == 1, text


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape,axis", [((6, 1000), -1), ((3, 12, 40), -1), ((2, 7, 33), 1),
                                        ((5, 17), 0)])
def test_matches_references(op: str, shape: tuple[int, ...], axis: int) -> None:
    x = (6 * np.random.default_rng(3).standard_normal(shape)).astype(np.float32)
    assert_matches(_model(op, x, axis), {"x": x}, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_opset_11_flattens_from_axis(op: str) -> None:
    """Against numpy and onnxruntime: onnx's reference evaluator applies opset 13's one-axis
    semantics to opset 11 models too."""
    x = (4 * np.random.default_rng(4).standard_normal((2, 3, 5, 8))).astype(np.float32)
    model = _model(op, x, 2, opset=11)
    want = _numpy(op, x.reshape(6, 40), 1).reshape(x.shape)
    got = run_onnxjit(model, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, run_onnxruntime(model, {"x": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_extreme_rows(op: str) -> None:
    """Rows with huge spreads (exp underflows to 0 for most elements) and an -inf element.
    Against numpy and onnxruntime: onnx's reference evaluator takes log(softmax), -inf where
    the softmax underflows."""
    x = np.array([[0.0, -100.0, -1000.0, 50.0, 88.0, -np.inf, 3.0, 1e4],
                  [-1e4, -1e4 + 1.0, -1e4 + 2.0, -1e4, -1e4, -1e4, -1e4, -1e4]], np.float32)
    model = _model(op, x, -1)
    got = run_onnxjit(model, {"x": x})[0]
    np.testing.assert_allclose(got, _numpy(op, x, -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, run_onnxruntime(model, {"x": x})[0], rtol=1e-5, atol=1e-6)
