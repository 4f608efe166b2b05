"""Transpose: default (reversed) and explicit permutations, any dtype, fused epilogues."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model


@pytest.mark.parametrize("shape,perm", [
    ((3, 4), None), ((2, 3, 4), None), ((2, 3, 4), [0, 2, 1]), ((2, 3, 4), [1, 2, 0]),
    ((2, 3, 4, 5), [0, 2, 3, 1]), ((2, 3, 4, 5), [3, 1, 0, 2]), ((5,), None), ((), None),
    ((2, 3), [0, 1]),   # identity permutation still produces a distinct output buffer
])
def test_permutations(shape: tuple[int, ...], perm: list[int] | None) -> None:
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    attrs = {} if perm is None else {"perm": perm}
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], **attrs)], {"x": x}, ["y"])
    assert_matches(model, {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["int64", "bool", "float16", "uint8"])
def test_dtypes(dtype: str) -> None:
    x = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=[2, 0, 1])], {"x": x},
                       ["y"])
    assert_matches(model, {"x": x}, rtol=0, atol=0)


def test_elementwise_epilogue_fuses() -> None:
    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["t"]), helper.make_node("Relu", ["t"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"])
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert [k.op_types for k in session.compiled({"x": x}).kernels] == [("Transpose", "Relu")]
    assert_matches(model, {"x": x})


def test_invalid_perm_is_a_lowering_error() -> None:
    x = np.zeros((2, 3), np.float32)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 1])], {"x": x}, ["y"])
    model.graph.node[0].attribute[0].ints[:] = [0, 0]   # after inference: only the lowering sees it
    with pytest.raises(onnxjit.LoweringError, match="permutation"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
