"""Squeeze: opset 11 attribute / opset 13 optional input axes; a view (no kernel)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

X = np.arange(12, dtype=np.float32).reshape(1, 3, 1, 4, 1)


@pytest.mark.parametrize("axes", [None, [0], [-1], [2, 0], [0, 2, 4]])
@pytest.mark.parametrize("opset", [11, 13])
def test_axes(axes: list[int] | None, opset: int) -> None:
    if opset >= 13:
        names = ["x", "a"] if axes is not None else ["x"]
        inits = {"a": np.array(axes, np.int64)} if axes is not None else None
        node = helper.make_node("Squeeze", names, ["y"])
    else:
        # The reference evaluator's opset-1/11 Squeeze assumes ascending axes: give them so.
        inits = None
        attrs = {"axes": sorted(axes, key=lambda a: a % X.ndim)} if axes else {}
        node = helper.make_node("Squeeze", ["x"], ["y"], **attrs)
    model = make_model([node], {"x": X}, ["y"], inits, opset=opset)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_is_an_alias_between_kernels() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Squeeze", ["r", "a"], ["s"]),
             helper.make_node("Neg", ["s"], ["y"])]
    model = make_model(nodes, {"x": X}, ["y", "s"], {"a": np.array([0, 4], np.int64)})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    compiled = session.compiled({"x": X})
    assert [k.op_types for k in compiled.kernels] == [("Relu",), ("Neg",)]
    assert len(compiled.plan.steps) == 3
    assert_matches(model, {"x": X})


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_dtypes(dtype: str) -> None:
    x = (np.arange(3).reshape(3, 1) % 2).astype(dtype)
    nodes = [helper.make_node("Squeeze", ["x", "a"], ["s"]),
             helper.make_node("Cast", ["s"], ["y"], to=1)]
    model = make_model(nodes, {"x": x}, ["y", "s"], {"a": np.array([1], np.int64)})
    assert_matches(model, {"x": x})


def test_non_unit_axis_is_refused() -> None:
    model = make_model([helper.make_node("Squeeze", ["x", "a"], ["y"])], {"x": X}, ["y"],
                       {"a": np.array([0], np.int64)})
    model.graph.initializer[0].raw_data = np.array([1], np.int64).tobytes()
    with pytest.raises(onnxjit.LoweringError, match="size 3"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
