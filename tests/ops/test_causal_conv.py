"""CausalConvWithState (opset 27): bias, past_state, SiLU, the fast and the reference kernels."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("bias,past", [(True, True), (False, True), (True, False), (False, False)])
@pytest.mark.parametrize("act", ["none", "silu"])
@pytest.mark.parametrize("length", [2, 37])
def test_causal_conv(bias: bool, past: bool, act: str, length: int) -> None:
    c, k = 5, 4
    feeds = {"x": RNG.standard_normal((2, c, length)).astype(np.float32),
             "w": RNG.standard_normal((c, 1, k)).astype(np.float32)}
    inputs = ["x", "w", "", ""]
    if bias:
        feeds["b"] = RNG.standard_normal(c).astype(np.float32)
        inputs[2] = "b"
    if past:
        feeds["p"] = RNG.standard_normal((2, c, k - 1)).astype(np.float32)
        inputs[3] = "p"
    while not inputs[-1]:
        inputs.pop()
    node = helper.make_node("CausalConvWithState", inputs, ["y", "s"], activation=act)
    model = make_model([node], feeds, ["y", "s"], opset=27)
    assert_matches(model, feeds, rtol=1e-5, atol=1e-5, onnxruntime=False)
