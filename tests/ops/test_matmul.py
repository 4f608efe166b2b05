"""MatMul: batched, broadcast batch dims, 1-D operands, constant (packed) and run-time B,
shapes not divisible by the register tiles. Tolerance: fp32 sums of <= 64 products."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

RTOL, ATOL = 1e-5, 1e-5
SHAPES = [
    ((7, 13), (13, 5)),            # narrow N: plain layout
    ((7, 13), (13, 21)),           # ragged M and N: padded rows, a partial panel
    ((1, 16), (16, 40)),           # one row
    ((24, 32), (32, 48)),          # tiles divide everything
    ((2, 3, 9, 8), (8, 17)),       # batched A, 2-D B
    ((9, 8), (4, 8, 17)),          # 2-D A, batched B
    ((2, 1, 5, 8), (1, 3, 8, 16)), # broadcast batch dims
    ((8,), (8, 19)),               # 1-D A
    ((6, 8), (8,)),                # 1-D B
    ((8,), (8,)),                  # dot product
    ((3, 8), (2, 1, 8, 33)),       # rank-2 A against rank-4 B
]


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("a_shape,b_shape", SHAPES)
@pytest.mark.parametrize("constant_b", [True, False])
def test_matmul(a_shape: tuple[int, ...], b_shape: tuple[int, ...], constant_b: bool) -> None:
    a, b = _data(a_shape, 0), _data(b_shape, 1)
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    if constant_b:
        model = make_model([node], {"a": a}, ["y"], {"b": b})
        assert_matches(model, {"a": a}, rtol=RTOL, atol=ATOL)
    else:
        model = make_model([node], {"a": a, "b": b}, ["y"])
        assert_matches(model, {"a": a, "b": b}, rtol=RTOL, atol=ATOL)


def test_constant_b_is_packed_and_epilogue_fused() -> None:
    a, w, bias = _data((10, 12), 0), _data((12, 20), 1), _data((20,), 2)
    nodes = [helper.make_node("MatMul", ["a", "w"], ["y"]),
             helper.make_node("Add", ["y", "bias"], ["z"]),
             helper.make_node("Relu", ["z"], ["out"])]
    model = make_model(nodes, {"a": a}, ["out"], {"w": w, "bias": bias})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    compiled = session.compiled({"a": a})
    assert [k.op_types for k in compiled.kernels] == [("MatMul", "Add", "Relu")]
    packed = [c for c in compiled.constants if c.endswith("__panels")]
    assert len(packed) == 1 and compiled.constants[packed[0]].shape == (2, 12, 16)
    assert "w" not in compiled.constants
    assert_matches(model, {"a": a}, rtol=RTOL, atol=ATOL)


def test_two_threads_match() -> None:
    a, w = _data((30, 24), 0), _data((24, 40), 1)
    model = make_model([helper.make_node("MatMul", ["a", "w"], ["y"])], {"a": a}, ["y"], {"w": w})
    one = onnxjit.InferenceSession(model.SerializeToString(), threads=1).run(None, {"a": a})[0]
    two = onnxjit.InferenceSession(model.SerializeToString(), threads=2).run(None, {"a": a})[0]
    np.testing.assert_array_equal(one, two)
    np.testing.assert_allclose(one, a @ w, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("a_shape,b_shape", [((0, 4), (4, 20)), ((3, 0), (0, 20)),
                                             ((3, 4), (4, 0)), ((2, 0, 4), (4, 16))])
@pytest.mark.parametrize("constant_b", [True, False])
def test_empty(a_shape: tuple[int, ...], b_shape: tuple[int, ...], constant_b: bool) -> None:
    a, b = np.ones(a_shape, np.float32), np.ones(b_shape, np.float32)
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    feeds = {"a": a} if constant_b else {"a": a, "b": b}
    model = make_model([node], feeds, ["y"], {"b": b} if constant_b else None)
    assert_matches(model, feeds)


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_other_dtypes(dtype: str) -> None:
    a = (np.arange(35) % 7 - 3).reshape(5, 7).astype(dtype)
    b = (np.arange(77) % 5 - 2).reshape(7, 11).astype(dtype)
    model = make_model([helper.make_node("MatMul", ["a", "b"], ["y"])], {"a": a}, ["y"], {"b": b})
    assert_matches(model, {"a": a})
