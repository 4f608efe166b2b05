"""LinearAttention (opset 27): four update rules, GQA, per-head and per-key decay, past state,
T=1 decode; sizes where the fast sweep kernel applies (d a multiple of the vector width) and not."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

RNG = np.random.default_rng(0)


def _case(rule: str, t: int, hq: int, hkv: int, dk: int, dv: int, per_key: bool,
          past: bool) -> tuple[object, dict[str, np.ndarray]]:
    k = RNG.standard_normal((1, t, hkv, dk)).astype(np.float32)
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    feeds = {"q": RNG.standard_normal((1, t, hq * dk)).astype(np.float32),
             "k": k.reshape(1, t, hkv * dk),
             "v": RNG.standard_normal((1, t, hkv * dv)).astype(np.float32)}
    inputs = ["q", "k", "v", "", "", ""]
    if past:
        feeds["s"] = (0.3 * RNG.standard_normal((1, hkv, dk, dv))).astype(np.float32)
        inputs[3] = "s"
    if rule in ("gated", "gated_delta"):
        width = hkv * dk if per_key else hkv
        feeds["g"] = np.log(RNG.uniform(0.8, 0.99, (1, t, width))).astype(np.float32)
        inputs[4] = "g"
    if rule in ("delta", "gated_delta"):
        feeds["b"] = RNG.uniform(0.1, 0.9, (1, t, hkv)).astype(np.float32)
        inputs[5] = "b"
    while not inputs[-1]:
        inputs.pop()
    node = helper.make_node("LinearAttention", inputs, ["o", "p"], q_num_heads=hq,
                            kv_num_heads=hkv, update_rule=rule)
    return make_model([node], feeds, ["o", "p"], opset=27), feeds


@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
@pytest.mark.parametrize("t,hq,hkv,dk,dv,per_key,past", [
    (9, 2, 2, 16, 16, False, True),     # fast kernel
    (6, 4, 2, 8, 24, True, False),      # fast kernel, GQA, per-key decay, no past
    (1, 2, 1, 16, 8, False, True),      # T=1 decode, MQA
    (5, 4, 2, 64, 48, True, True),      # state in several 4 KiB pages of the sweep's workspace
    (5, 2, 2, 3, 5, True, True),        # odd sizes: reference kernel
])
def test_linear_attention(rule: str, t: int, hq: int, hkv: int, dk: int, dv: int,
                          per_key: bool, past: bool) -> None:
    model, feeds = _case(rule, t, hq, hkv, dk, dv, per_key, past)
    assert_matches(model, feeds, rtol=1e-4, atol=1e-5, onnxruntime=False)
