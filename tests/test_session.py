"""InferenceSession's onnxruntime-shaped API: input/output descriptions, specialisation, outputs."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxjit
from onnxjit.runtime import session as session_module

W = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)


def dynamic_model() -> onnx.ModelProto:
    """x: float32 [batch, 8] (named symbol); n: int64 [?, 2] (anonymous dim).
    a = x @ w: [batch, 3]; s = x + x: [batch, 8]; b = n + n: declared without a shape."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["a"]),
         helper.make_node("Add", ["x", "x"], ["s"]),
         helper.make_node("Add", ["n", "n"], ["b"])],
        "dynamic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8]),
         helper.make_tensor_value_info("n", TensorProto.INT64, [None, 2])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch", 8]),
         helper.make_tensor_value_info("b", TensorProto.INT64, None)],
        [numpy_helper.from_array(W, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def feeds(batch: int, rows: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch)
    return {"x": rng.standard_normal((batch, 8)).astype(np.float32),
            "n": rng.integers(0, 5, (rows, 2)).astype(np.int64)}


def describe(args: list[Any]) -> list[tuple[str, list[Any], str]]:
    return [(a.name, list(a.shape), a.type) for a in args]


def test_inputs_and_outputs_are_described_like_onnxruntime() -> None:
    model = dynamic_model()
    ours = onnxjit.InferenceSession(model, threads=1)
    theirs = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert describe(ours.get_inputs()) == describe(theirs.get_inputs())
    assert describe(ours.get_outputs()) == describe(theirs.get_outputs())
    assert describe(ours.get_inputs()) == [("x", ["batch", 8], "tensor(float)"),
                                           ("n", [None, 2], "tensor(int64)")]
    assert [a.dtype for a in ours.get_inputs()] == ["float32", "int64"]


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The input signature of every compile a session makes while the test runs."""
    seen: list[tuple[Any, ...]] = []
    real = session_module.compile_graph

    def counting(graph: Any, sig: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(sig)
        return real(graph, sig, *args, **kwargs)

    monkeypatch.setattr(session_module, "compile_graph", counting)
    return seen


def test_one_specialisation_per_shape_signature_reused(compiles: list[tuple[Any, ...]]) -> None:
    session = onnxjit.InferenceSession(dynamic_model(), threads=1)
    assert compiles == []  # dynamic inputs: nothing to compile until shapes are known
    for batch, rows in [(2, 3), (2, 3), (5, 3), (2, 3), (5, 1), (5, 3)]:
        f = feeds(batch, rows)
        a, s, b = session.run(None, f)
        np.testing.assert_allclose(a, f["x"] @ W, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(s, f["x"] + f["x"])
        np.testing.assert_array_equal(b, f["n"] + f["n"])
    assert [tuple(shape for _, shape, _ in sig) for sig in compiles] == [
        ((2, 8), (3, 2)), ((5, 8), (3, 2)), ((5, 8), (1, 2))]
    assert session.compiled(feeds(2, 3)) is session.compiled(feeds(2, 3))
    assert session.compiled(feeds(2, 3)) is not session.compiled(feeds(5, 3))
    assert len(compiles) == 3


def test_static_model_compiles_once_at_construction(compiles: list[tuple[Any, ...]]) -> None:
    model = helper.make_model(helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "static",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
        [numpy_helper.from_array(W, "w")]), opset_imports=[helper.make_opsetid("", 21)])
    session = onnxjit.InferenceSession(model, threads=1)
    assert len(compiles) == 1
    x = np.ones((4, 8), np.float32)
    for _ in range(3):
        session.run(None, {"x": x})
    assert len(compiles) == 1


def test_output_names_select_and_order_outputs() -> None:
    session = onnxjit.InferenceSession(dynamic_model(), threads=1)
    f = feeds(3)
    a, s, b = session.run(None, f)
    (only_b,) = session.run(["b"], f)
    np.testing.assert_array_equal(only_b, b)
    s2, a2 = session.run(["s", "a"], f)
    np.testing.assert_array_equal(s2, s)
    np.testing.assert_array_equal(a2, a)
    assert [o.name for o in session.get_outputs()] == ["a", "s", "b"]


def test_outputs_are_fresh_arrays() -> None:
    # A caller may keep or modify what run returns; the next run must not change it.
    session = onnxjit.InferenceSession(dynamic_model(), threads=1)
    first = session.run(["s"], feeds(2))[0]
    kept = first.copy()
    session.run(["s"], feeds(2, 1) | {"x": np.zeros((2, 8), np.float32)})
    np.testing.assert_array_equal(first, kept)


def test_providers_name_the_target() -> None:
    assert onnxjit.InferenceSession(dynamic_model(), threads=1).get_providers() == ["onnxjit:cpu"]
