"""Mod: Python-style (fmod=0) and C-style (fmod=1) remainders, broadcasting, zero divisors."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

A = np.array([-7, 7, 5, -5, 9, 0, -1], np.int64)
B = np.array([3, -3, 2, 2, 4, 5, -4], np.int64)


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
def test_integers(fmod: int, dtype: str) -> None:
    a, b = A.astype(dtype), B.astype(dtype)
    node = helper.make_node("Mod", ["a", "b"], ["y"], fmod=fmod)
    model = make_model([node], {"a": a, "b": b}, ["y"])
    assert_matches(model, {"a": a, "b": b}, rtol=0, atol=0)


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floats_broadcast(fmod: int, dtype: str) -> None:
    a = (np.random.default_rng(0).standard_normal((3, 5)) * 10).astype(dtype)
    b = np.array([3.5, -2.25, 1.0, 7.0, -0.5], dtype)
    node = helper.make_node("Mod", ["a", "b"], ["y"], fmod=fmod)
    model = make_model([node], {"a": a, "b": b}, ["y"])
    assert_matches(model, {"a": a, "b": b}, rtol=1e-6, atol=1e-6, onnxruntime=fmod == 1)


def test_unsigned() -> None:
    a, b = np.array([7, 200, 5], np.uint8), np.array([3, 7, 5], np.uint8)
    model = make_model([helper.make_node("Mod", ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"])
    assert_matches(model, {"a": a, "b": b}, rtol=0, atol=0)


def test_integer_zero_divisor_returns_the_dividend() -> None:
    a, b = np.array([5, -3], np.int32), np.array([0, 0], np.int32)
    model = make_model([helper.make_node("Mod", ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"])
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    (y,) = session.run(None, {"a": a, "b": b})
    np.testing.assert_array_equal(y, a)
