"""BatchNormalization (inference): standalone, and folded into a preceding constant-weight Conv."""
from __future__ import annotations

import numpy as np
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model


def _params(c: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    return {n: (rng.random(c) + 0.5).astype(np.float32) for n in ("s", "b", "m", "v")}


def test_batch_norm_standalone() -> None:
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 3)).astype(np.float32)
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)
    assert_matches(make_model([node], {"x": x}, ["y"], _params(4)), {"x": x})


def test_batch_norm_folds_into_conv() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"w": w, **_params(8)})
    compiled = onnxjit.InferenceSession(model.SerializeToString(), threads=1).compiled({"x": x})
    assert [k.op_types for k in compiled.kernels] == [("Conv",)]
    assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-4)
