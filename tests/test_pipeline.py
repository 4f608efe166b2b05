"""End-to-end: import -> specialise -> partition/fuse -> schedule -> build -> run."""
from __future__ import annotations

import numpy as np
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model


def test_matmul_epilogue_reshape_softmax_matches_references() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 48)).astype(np.float32)
    w = (rng.standard_normal((48, 32)) * 0.1).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["y"]),
        helper.make_node("Add", ["y", "b"], ["z"]),
        helper.make_node("Mul", ["z", "z"], ["z2"]),
        helper.make_node("Reshape", ["z2", "shape"], ["r"]),
        helper.make_node("Softmax", ["r"], ["out"], axis=-1),
    ]
    model = make_model(nodes, {"x": x}, ["out"],
                       {"w": w, "b": b, "shape": np.array([32, -1], np.int64)})
    assert_matches(model, {"x": x})


def test_epilogue_is_fused_and_view_is_an_alias() -> None:
    x = np.ones((8, 16), np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["y"]),
        helper.make_node("Add", ["y", "b"], ["z"]),
        helper.make_node("Reshape", ["z", "shape"], ["out"]),
    ]
    model = make_model(nodes, {"x": x}, ["out"], {
        "w": np.ones((16, 8), np.float32), "b": np.ones(8, np.float32),
        "shape": np.array([64], np.int64)})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    compiled = session.compiled({"x": x})
    assert [k.op_types for k in compiled.kernels] == [("MatMul", "Add")]
    assert len(compiled.plan.steps) == 2  # the kernel and the reshape alias
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], np.full(64, 17, np.float32))


def test_empty_tensors_flow_through_kernels() -> None:
    # A first decoder step concatenates an empty KV cache: zero-size values must just work.
    past = np.zeros((1, 2, 0, 4), np.float32)
    new = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4) - 10
    nodes = [helper.make_node("Concat", ["past", "new"], ["kv"], axis=2),
             helper.make_node("Relu", ["kv"], ["out"])]
    model = make_model(nodes, {"past": past, "new": new}, ["out", "kv"])
    assert_matches(model, {"past": past, "new": new})


def test_a_kernel_with_only_empty_outputs_is_skipped() -> None:
    x = np.ones((4, 0), np.float32)
    model = make_model([helper.make_node("Relu", ["x"], ["out"])], {"x": x}, ["out"])
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert session.compiled({"x": x}).kernels == ()
    assert session.run(None, {"x": x})[0].shape == (4, 0)
