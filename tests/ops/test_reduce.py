"""Reduce*: axes as attribute (old opsets) or input (ReduceSum 13+, others 18+), keepdims,
noop_with_empty_axes, contiguous and outer-axis reductions, lengths not divisible by the vector
width. Tolerance: fp32 sums of <= 64 terms, reordered into vector lanes."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

X = np.random.default_rng(0).standard_normal((4, 6, 40)).astype(np.float32)
OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
       "ReduceSumSquare", "ReduceLogSumExp"]
AXES = [[-1], [0], [1], [0, 2], [1, 2], None]


def _model(op: str, axes: list[int] | None, keepdims: int, opset: int,
           x: np.ndarray = X, **extra: int) -> tuple:
    input_form = opset >= (13 if op == "ReduceSum" else 18)
    inits = {}
    inputs = ["x"]
    attrs: dict[str, object] = {"keepdims": keepdims, **extra}
    if axes is not None:
        if input_form:
            inputs.append("axes")
            inits["axes"] = np.array(axes, np.int64)
        else:
            attrs["axes"] = axes
    node = helper.make_node(op, inputs, ["y"], **attrs)
    return make_model([node], {"x": x}, ["y"], inits, opset=opset), {"x": x}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_opset18(op: str, axes: list[int] | None, keepdims: int) -> None:
    model, feeds = _model(op, axes, keepdims, 18)
    rtol = 1e-4 if op == "ReduceProd" else 1e-5
    assert_matches(model, feeds, rtol=rtol, atol=1e-5)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceLogSum"])
@pytest.mark.parametrize("opset", [11, 13])
def test_reduce_attribute_axes(op: str, opset: int) -> None:
    x = np.abs(X) + 0.5 if op == "ReduceLogSum" else X
    model, feeds = _model(op, [2], 1, opset, x)
    assert_matches(model, feeds, rtol=1e-5, atol=1e-5)


def test_noop_with_empty_axes() -> None:
    model, feeds = _model("ReduceSum", None, 1, 13, noop_with_empty_axes=1)
    assert_matches(model, feeds)


@pytest.mark.parametrize("shape", [(3, 1000), (5, 13), (2, 3, 64), (1, 128)])
def test_row_lengths(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    for op in ("ReduceMean", "ReduceMax"):
        model, feeds = _model(op, [-1], 0, 18, x)
        assert_matches(model, feeds, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["int32", "int64", "float64"])
def test_other_dtypes(dtype: str) -> None:
    x = (np.arange(4 * 6 * 8) % 11 - 5).reshape(4, 6, 8).astype(dtype)
    for op in ("ReduceSum", "ReduceMax"):
        model, feeds = _model(op, [1], 1, 18, x)
        assert_matches(model, feeds, onnxruntime=dtype != "int32" or op != "ReduceSum")


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_bool(op: str) -> None:
    x = np.array([[True, False, False], [False, False, False], [True, True, True]])
    model, feeds = _model(op, [1], 0, 20, x)
    assert_matches(model, feeds, onnxruntime=False)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                "ReduceL2", "ReduceLogSumExp"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the reference's mean of nothing
def test_empty_axis(op: str) -> None:
    x = np.zeros((2, 0, 4), np.float32)
    model, feeds = _model(op, [1], 1, 18, x)
    assert_matches(model, feeds, onnxruntime=False)


@pytest.mark.parametrize("op,fill", [("ReduceMax", -np.inf), ("ReduceMin", np.inf)])
def test_rows_of_infinities_reduce_to_infinity(op: str, fill: float) -> None:
    # ONNX starts max/min from -inf/+inf: a fully masked attention row must compare equal to -inf.
    x = np.full((3, 5), fill, np.float32)
    x[1, 2] = 0.5
    model = make_model([helper.make_node(op, ["x", "axes"], ["y"], keepdims=1)], {"x": x}, ["y"],
                       {"axes": np.array([-1], np.int64)}, opset=18)
    assert_matches(model, {"x": x}, rtol=0, atol=0)
