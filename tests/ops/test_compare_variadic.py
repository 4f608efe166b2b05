"""Comparisons, logic ops and variadic Max/Min/Sum/Mean against the references."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("op", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", ["float32", "int64", "int32"])
def test_compare_broadcast(op: str, dtype: str) -> None:
    a = RNG.integers(-3, 3, (2, 3, 4)).astype(dtype)
    b = RNG.integers(-3, 3, (3, 1)).astype(dtype)
    model = make_model([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"], opset=16)
    assert_matches(model, {"a": a, "b": b}, rtol=0, atol=0)


def test_equal_on_bool() -> None:
    a = np.array([[True, False], [False, True]])
    b = np.array([True, True])
    model = make_model([helper.make_node("Equal", ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"])
    assert_matches(model, {"a": a, "b": b}, rtol=0, atol=0)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logic(op: str) -> None:
    a = RNG.random((3, 4)) > 0.5
    b = RNG.random((4,)) > 0.5
    model = make_model([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"])
    assert_matches(model, {"a": a, "b": b}, rtol=0, atol=0)


def test_not() -> None:
    a = RNG.random((3, 4)) > 0.5
    model = make_model([helper.make_node("Not", ["a"], ["y"])], {"a": a}, ["y"])
    assert_matches(model, {"a": a}, rtol=0, atol=0)


@pytest.mark.parametrize("op", ["Max", "Min", "Sum", "Mean"])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_variadic(op: str, count: int) -> None:
    shapes = [(2, 3), (3,), (2, 1)][:count]
    feeds = {f"x{i}": RNG.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}
    model = make_model([helper.make_node(op, list(feeds), ["y"])], feeds, ["y"])
    assert_matches(model, feeds, rtol=1e-6, atol=1e-6)


def test_max_keeps_nan_and_works_on_ints() -> None:
    a = np.array([1.0, np.nan, 3.0], np.float32)
    b = np.array([2.0, 0.0, np.nan], np.float32)
    model = make_model([helper.make_node("Max", ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"])
    assert_matches(model, {"a": a, "b": b})
    ia, ib = np.array([1, 5, -2], np.int64), np.array([3, 2, -7], np.int64)
    model = make_model([helper.make_node("Min", ["a", "b"], ["y"])], {"a": ia, "b": ib}, ["y"])
    assert_matches(model, {"a": ia, "b": ib}, rtol=0, atol=0)
