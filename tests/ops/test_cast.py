"""Cast/CastLike: numeric <-> numeric and <-> bool, with numpy's conversion rules."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import onnxjit
from tests.helpers import assert_matches, make_model

FLOATS = np.array([[-2.7, -0.5, -0.0, 0.0], [0.4, 1.5, 2.9, 100.25]], np.float32)
INTS = np.array([-300, -1, 0, 1, 2, 255, 256, 70000], np.int64)


@pytest.mark.parametrize("to", [TensorProto.INT32, TensorProto.INT64, TensorProto.INT8,
                                TensorProto.INT16, TensorProto.BOOL, TensorProto.FLOAT16,
                                TensorProto.DOUBLE, TensorProto.FLOAT])
def test_from_float32(to: int) -> None:
    # float -> int truncates toward zero (-2.7 -> -2), not floor and not round.
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=to)], {"x": FLOATS}, ["y"])
    assert_matches(model, {"x": FLOATS})


def test_float_to_unsigned_and_nan_to_bool() -> None:
    x = np.array([0.0, 0.9, 1.5, 254.99, np.nan, -0.0], np.float32)
    nodes = [helper.make_node("Cast", ["x"], ["b"], to=TensorProto.BOOL),
             helper.make_node("Abs", ["x"], ["a"]),
             helper.make_node("Cast", ["a"], ["u"], to=TensorProto.UINT8)]
    model = make_model(nodes, {"x": x}, ["b"], opset=21)
    assert_matches(model, {"x": x})  # bool(NaN) is True; bool(-0.0) is False
    finite = np.array([0.0, 0.9, 1.5, 254.99], np.float32)
    model = make_model([nodes[2]], {"a": finite}, ["u"])
    assert_matches(model, {"a": finite})


@pytest.mark.parametrize("to", [TensorProto.INT32, TensorProto.INT8, TensorProto.UINT8,
                                TensorProto.INT16, TensorProto.BOOL, TensorProto.FLOAT,
                                TensorProto.FLOAT16, TensorProto.UINT64])
def test_from_int64(to: int) -> None:
    # Narrowing wraps (256 -> 0 as uint8); 2 -> True, not its low bit.
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=to)], {"x": INTS}, ["y"])
    assert_matches(model, {"x": INTS})


@pytest.mark.parametrize("to", [TensorProto.INT32, TensorProto.FLOAT, TensorProto.UINT8,
                                TensorProto.DOUBLE, TensorProto.BOOL])
def test_from_bool(to: int) -> None:
    x = np.array([[True, False], [False, True]])
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=to)], {"x": x}, ["y"])
    assert_matches(model, {"x": x})


def test_double_to_half_rounding() -> None:
    x = np.array([1.0 / 3.0, 65504.0, 1e-8, -2.5e-5, 3.14159265358979], np.float64)
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)],
                       {"x": x}, ["y"])
    assert_matches(model, {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("opset", [6, 13, 19])
def test_opsets(opset: int) -> None:
    attrs = {"saturate": 1} if opset >= 19 else {}
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT32, **attrs)],
                       {"x": FLOATS}, ["y"], opset=opset)
    assert_matches(model, {"x": FLOATS})


@pytest.mark.parametrize("like", [np.zeros(1, np.int32), np.zeros((), np.float64),
                                  np.zeros(3, np.bool_)])
def test_cast_like(like: np.ndarray) -> None:
    model = make_model([helper.make_node("CastLike", ["x", "like"], ["y"])], {"x": FLOATS}, ["y"],
                       {"like": like})
    assert_matches(model, {"x": FLOATS})


def test_cast_like_runtime_target_input() -> None:
    feeds = {"x": INTS, "like": np.zeros((2, 2), np.float32)}
    model = make_model([helper.make_node("CastLike", ["x", "like"], ["y"])], feeds, ["y"])
    assert_matches(model, feeds)


def test_same_dtype_cast_is_a_copy() -> None:
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
                       {"x": FLOATS}, ["y"])
    assert_matches(model, {"x": FLOATS})


def test_cast_to_string_is_rejected() -> None:
    model = make_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)],
                       {"x": FLOATS}, ["y"])
    with pytest.raises(onnxjit.LoweringError, match="STRING"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
