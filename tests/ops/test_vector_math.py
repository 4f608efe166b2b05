"""Tanh, Mish and Elu lower to the vectorisable polynomial forms of compiler/ops/_math.py, not to
one libm call per lane (Tanh of 200K floats took 0.90 ms that way, 2.5x its conv producer's
epilogue budget), and keep float32 accuracy: relative to float64 near 0 (where 1 - 2/(e+1) would
cancel), exact limits, NaN kept. Compared with numpy in float64 and onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

LIBM = ("T.tanh(", "T.exp(", "T.log1p(", "T.log(")


def _values() -> np.ndarray:
    tiny = np.logspace(-12, 1.5, 400)
    return np.concatenate([-tiny, tiny, [0.0, 0.62, 0.63, -0.625, 9.0, 30.0, -30.0, 100.0, -100.0,
                                         np.inf, -np.inf, np.nan]]).astype(np.float32)


def _session(op: str, x: np.ndarray) -> onnxjit.InferenceSession:
    model = make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"], opset=18)
    return onnxjit.InferenceSession(model.SerializeToString(), threads=1)


@pytest.mark.parametrize("op", ["Tanh", "Mish", "Elu", "Selu"])
def test_no_libm_call_per_lane(op: str) -> None:
    x = _values()
    (kernel,) = _session(op, x).compiled({"x": x}).kernels
    text = kernel.func.script()
    assert not [f for f in LIBM if f in text], text


def test_tanh_relative_accuracy_against_float64() -> None:
    x = _values()
    got = _session("Tanh", x).run(None, {"x": x})[0]
    want = np.tanh(x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=4e-7, atol=0)    # also: +-1 at +-inf, NaN kept


def test_mish_against_float64() -> None:
    x = _values()
    got = _session("Mish", x).run(None, {"x": x})[0]
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        want = x64 * np.tanh(np.logaddexp(0.0, x64))
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-30)


@pytest.mark.parametrize("op", ["Tanh", "Mish", "Elu"])
def test_random_inputs_match_references(op: str) -> None:
    x = (4 * np.random.default_rng(5).standard_normal((3, 37, 29))).astype(np.float32)
    assert_matches(make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"], opset=18),
                   {"x": x}, rtol=2e-6, atol=1e-6)


def test_two_polynomial_ops_in_a_row_are_two_kernels_and_match() -> None:
    """Tanh(Tanh(x)) nested in one kernel is a tree of ~2000 nodes (27 s to compile)."""
    x = np.random.default_rng(6).standard_normal((8, 50)).astype(np.float32)
    nodes = [helper.make_node("Tanh", ["x"], ["a"]), helper.make_node("Tanh", ["a"], ["b"]),
             helper.make_node("Relu", ["b"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], opset=18)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert [k.op_types for k in session.compiled({"x": x}).kernels] == [("Tanh",), ("Tanh", "Relu")]
    assert_matches(model, {"x": x}, rtol=1e-6, atol=1e-6)
