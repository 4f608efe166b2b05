"""Gemm: transA/transB, alpha/beta, optional and broadcast C, constant (packed) and run-time B,
opsets 7/9/11/13. Tolerance: fp32 sums of <= 24 products."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

M, K, N = 7, 12, 19


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("constant_b", [True, False])
def test_transposes(trans_a: int, trans_b: int, constant_b: bool) -> None:
    a = _data((K, M) if trans_a else (M, K), 0)
    b = _data((N, K) if trans_b else (K, N), 1)
    c = _data((N,), 2)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=trans_a, transB=trans_b,
                            alpha=0.75, beta=1.5)
    feeds = {"a": a} if constant_b else {"a": a, "b": b}
    inits = {"b": b, "c": c} if constant_b else {"c": c}
    assert_matches(make_model([node], feeds, ["y"], inits), feeds, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("c_shape", [None, (), (1,), (N,), (M, 1), (1, N), (M, N)])
def test_c_broadcast(c_shape: tuple[int, ...] | None) -> None:
    a, b = _data((M, K), 0), _data((K, N), 1)
    inputs = ["a", "b"] + (["c"] if c_shape is not None else [])
    feeds = {"a": a}
    if c_shape is not None:
        feeds["c"] = _data(c_shape, 3)
    model = make_model([helper.make_node("Gemm", inputs, ["y"])], feeds, ["y"], {"b": b})
    assert_matches(model, feeds, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [7, 9, 11, 13])
def test_opsets(opset: int) -> None:
    a, b, c = _data((M, K), 0), _data((K, N), 1), _data((M, N), 2)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], alpha=2.0, beta=0.5)
    model = make_model([node], {"a": a, "c": c}, ["y"], {"b": b}, opset=opset)
    assert_matches(model, {"a": a, "c": c}, rtol=1e-5, atol=1e-5)


def test_beta_zero_ignores_c() -> None:
    a, b, c = _data((M, K), 0), _data((K, N), 1), _data((N,), 2)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], beta=0.0)
    model = make_model([node], {"a": a, "b": b}, ["y"], {"c": c})
    assert_matches(model, {"a": a, "b": b}, rtol=1e-5, atol=1e-5)
