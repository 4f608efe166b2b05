"""1-d Conv with constant weights (Whisper / wav2vec2 / TTS front-ends) runs as a one-row 2-d
onnxjit::Conv, with its epilogue fused: compared with onnx's reference evaluator and onnxruntime,
and never scheduled by the generic fallback (which ran these 40-50x slower than onnxruntime)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

CASES = [  # (x shape, w shape, attrs)
    ((1, 8, 40), (12, 8, 3), {"pads": [1, 1]}),
    ((2, 6, 37), (16, 6, 3), {"strides": [2], "pads": [1, 1]}),
    ((1, 1, 160), (16, 1, 10), {"strides": [5]}),                  # wav2vec2's first layer
    ((1, 8, 30), (8, 1, 5), {"group": 8, "pads": [2, 2]}),         # depthwise (conformer)
    ((1, 8, 29), (16, 4, 3), {"group": 2, "dilations": [2], "pads": [2, 2]}),
    ((1, 4, 31), (6, 4, 4), {"strides": [2], "auto_pad": "SAME_UPPER"}),
]


def _templates(model, feeds: dict[str, np.ndarray]) -> set[str]:
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    return {template for template, _ in session.compiled(feeds).choices.values()}


@pytest.mark.parametrize("xs,ws,attrs", CASES)
def test_conv1d_matches_references_on_the_conv_templates(xs, ws, attrs) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)], {"x": x}, ["y"],
                       {"w": w, "b": b})
    assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-5)
    assert "fallback" not in _templates(model, {"x": x})


def test_conv1d_fuses_batch_norm_relu_and_a_residual() -> None:
    """x -> Conv1d -> BatchNormalization -> Add(residual) -> Relu: one conv kernel, whose residual
    and output are 3-d values viewed as one-row images."""
    rng = np.random.default_rng(4)
    c, length = 8, 33
    x = rng.standard_normal((1, c, length)).astype(np.float32)
    r = rng.standard_normal((1, c, length)).astype(np.float32)
    inits = {"w": (rng.standard_normal((c, c, 3)) / 5).astype(np.float32),
             "scale": (1 + 0.1 * rng.standard_normal(c)).astype(np.float32),
             "bias": (0.1 * rng.standard_normal(c)).astype(np.float32),
             "mean": (0.1 * rng.standard_normal(c)).astype(np.float32),
             "var": (1 + 0.2 * rng.random(c)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["n"]),
             helper.make_node("Add", ["n", "r"], ["a"]),
             helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, {"x": x, "r": r}, ["y"], inits)
    feeds = {"x": x, "r": r}
    assert_matches(model, feeds, rtol=1e-4, atol=1e-5)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    choices = session.compiled(feeds).choices
    assert len(choices) == 1 and "fallback" not in _templates(model, feeds), choices
