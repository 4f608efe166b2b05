"""Clip: opset 6 attributes, opset 11+ optional bound inputs (constant, run-time, omitted)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model, run_onnxjit

X = np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 3, 4)


@pytest.mark.parametrize("attrs", [{"min": -1.0, "max": 0.5}, {"min": -1.0}, {"max": 2.0}, {}])
def test_opset6_attributes(attrs: dict[str, float]) -> None:
    model = make_model([helper.make_node("Clip", ["x"], ["y"], **attrs)], {"x": X}, ["y"], opset=6)
    assert_matches(model, {"x": X})


@pytest.mark.parametrize("lo,hi", [(-1.0, 1.0), (None, 0.25), (-0.5, None), (None, None),
                                   (1.0, -1.0)])  # lo > hi: everything becomes hi
@pytest.mark.parametrize("runtime", [False, True])
def test_opset11_inputs(lo: float | None, hi: float | None, runtime: bool) -> None:
    names = ["lo" if lo is not None else "", "hi" if hi is not None else ""]
    values = {n: np.array(v, np.float32) for n, v in zip(names, (lo, hi)) if n}
    while names and not names[-1]:
        names.pop()   # trailing omitted inputs may also be left out entirely
    feeds = {"x": X, **(values if runtime else {})}
    model = make_model([helper.make_node("Clip", ["x", *names], ["y"])], feeds, ["y"],
                       initializers=None if runtime else values, opset=13)
    assert_matches(model, feeds)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "float64", "float16"])
def test_dtypes(dtype: str) -> None:
    x = np.array([[0, 3, 7, 12], [1, 9, 5, 200]], dtype)
    lo, hi = np.array(2, dtype), np.array(9, dtype)
    model = make_model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], {"x": x}, ["y"],
                       {"lo": lo, "hi": hi}, opset=13)
    assert_matches(model, {"x": x})


def test_int64_bounds_beyond_double_precision() -> None:
    big = 2**62 + 1   # not representable as a float64: a lossy bound would be off by one
    x = np.array([2**62, 2**62 + 1, 2**62 + 3, -5], np.int64)
    model = make_model([helper.make_node("Clip", ["x", "", "hi"], ["y"])], {"x": x}, ["y"],
                       {"hi": np.array(big, np.int64)}, opset=13)
    # Compared exactly: assert_allclose goes through float64, which would hide the off-by-one.
    got = run_onnxjit(model, {"x": x})[0]
    np.testing.assert_array_equal(got, np.array([2**62, big, big, -5], np.int64))


def test_scalar_input_runtime_bounds() -> None:
    x = np.array(5.0, np.float32)
    feeds = {"x": x, "lo": np.array(-1, np.float32), "hi": np.array(2, np.float32)}
    model = make_model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], feeds, ["y"])
    assert_matches(model, feeds)


@pytest.mark.parametrize("runtime", [False, True])
def test_nan_and_infinities_propagate(runtime: bool) -> None:
    x = np.array([np.nan, -1, 0.5, 2, np.inf, -np.inf], np.float32)
    bounds = {"lo": np.array(0, np.float32), "hi": np.array(1, np.float32)}
    feeds = {"x": x, **(bounds if runtime else {})}
    model = make_model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], feeds, ["y"],
                       None if runtime else bounds)
    assert_matches(model, feeds)
