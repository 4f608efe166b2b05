"""The row-wise AveragePool kernel (schedules/pool.py, sums instead of maxima, times reciprocal tap
counts) against onnxruntime and onnx's reference: strides 1, 2 and 3, pads with and without
count_include_pad, ceil_mode overhang, odd sizes, several images; and it is the kernel chosen for
2-d float32 AveragePool (its TE form only the generic fallback schedules, 2.2x slower)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model, offset_copy, run_onnxruntime


@pytest.mark.parametrize("shape,k,s,pads,include,ceil", [
    ((1, 16, 28, 28), 3, 1, [1, 1, 1, 1], 0, 0),     # Inception / CSP branch pool
    ((1, 16, 28, 28), 3, 1, [1, 1, 1, 1], 1, 0),
    ((1, 8, 20, 20), 2, 2, [0, 0, 0, 0], 0, 0),     # DenseNet transition, ResNet-D shortcut
    ((2, 5, 13, 11), 3, 2, [1, 0, 0, 1], 0, 1),
    ((1, 3, 15, 14), 3, 3, [1, 1, 1, 1], 1, 1),
    ((1, 4, 9, 37), 5, 1, [2, 2, 2, 2], 0, 0),
    ((1, 2, 7, 7), 7, 1, [0, 0, 0, 0], 0, 0)])      # a global pool spelled as AveragePool
def test_avgpool_kernel_matches_references(shape: tuple[int, ...], k: int, s: int,
                                           pads: list[int], include: int, ceil: int) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[k, k], strides=[s, s],
                            pads=pads, count_include_pad=include, ceil_mode=ceil)
    model = make_model([node], {"x": x}, ["y"], opset=19)
    assert_matches(model, {"x": x}, rtol=1e-5, atol=1e-6)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert {t for t, _ in session.compiled({"x": x}).choices.values()} == {"avgpool"}
    np.testing.assert_allclose(session.run(None, {"x": offset_copy(x, 4)})[0],
                               run_onnxruntime(model, {"x": x})[0], rtol=1e-5, atol=1e-6)
