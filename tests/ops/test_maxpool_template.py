"""The row-wise MaxPool kernel (schedules/pool.py) equals onnxruntime exactly (max involves no
rounding) for strides 1, 2 and 3, pads, ceil_mode, odd sizes and several images, and is the
kernel chosen for 2-d float32 MaxPool without Indices."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import onnxjit
from tests.helpers import offset_copy, run_onnxruntime


@pytest.mark.parametrize("shape,k,s,p,ceil", [
    ((1, 32, 56, 56), 3, 2, 1, 0), ((2, 5, 13, 11), 3, 2, 1, 1), ((1, 8, 17, 19), 2, 2, 0, 0),
    ((1, 4, 9, 10), 3, 1, 1, 0), ((1, 3, 15, 14), 3, 3, 0, 1), ((1, 16, 7, 7), 5, 1, 2, 0),
    ((1, 2, 40, 37), 3, 2, 0, 1)])
def test_maxpool_kernel_matches_onnxruntime(shape: tuple[int, ...], k: int, s: int, p: int,
                                            ceil: int) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[k, k], strides=[s, s],
                            pads=[p] * 4, ceil_mode=ceil)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert {t for t, _ in session.compiled({"x": x}).choices.values()} == {"maxpool"}
    want = run_onnxruntime(model, {"x": x})[0]
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], want)
    np.testing.assert_array_equal(session.run(None, {"x": offset_copy(x, 4)})[0], want)
