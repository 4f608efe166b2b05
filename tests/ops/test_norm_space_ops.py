"""InstanceNormalization, GroupNormalization (opsets 18 and 21), DepthToSpace and SpaceToDepth
against onnx's reference evaluator and onnxruntime (the onnx conformance tests run them too)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from tests.helpers import assert_matches, make_model


@pytest.mark.parametrize("shape", [(2, 5, 7, 9), (1, 3, 33), (1, 16, 4, 6, 5)])
def test_instance_norm(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    inits = {"s": rng.standard_normal(shape[1]).astype(np.float32),
             "b": rng.standard_normal(shape[1]).astype(np.float32)}
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3)
    assert_matches(make_model([node], {"x": x}, ["y"], inits), {"x": x}, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,groups", [((2, 12, 5, 7), 4), ((1, 32, 16, 16), 32), ((1, 6, 11), 3)])
def test_group_norm(shape: tuple[int, ...], groups: int) -> None:
    """Opset 21: scale and bias per channel."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 2 - 1).astype(np.float32)
    inits = {"s": rng.standard_normal(shape[1]).astype(np.float32),
             "b": rng.standard_normal(shape[1]).astype(np.float32)}
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=groups,
                            epsilon=1e-4)
    model = make_model([node], {"x": x}, ["y"], inits, opset=21)
    if not model.graph.output[0].type.HasField("tensor_type"):   # onnx infers no type for it
        model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, shape))
    assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(mode: str) -> None:
    x = np.random.default_rng(2).standard_normal((2, 18, 5, 7)).astype(np.float32)
    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=3, mode=mode)
    assert_matches(make_model([node], {"x": x}, ["y"]), {"x": x}, rtol=0, atol=0)


def test_space_to_depth() -> None:
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 12)).astype(np.float32)
    node = helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=4)
    assert_matches(make_model([node], {"x": x}, ["y"]), {"x": x}, rtol=0, atol=0)
