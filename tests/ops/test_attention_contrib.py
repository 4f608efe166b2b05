"""com.microsoft MultiHeadAttention and GroupQueryAttention equal onnxruntime (which defines them)
and, where the spelling allows, run on the flash kernel."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import onnxjit
from tests.helpers import run_onnxruntime

RNG = np.random.default_rng(0)
B, S, N, H, KVH, P = 2, 20, 4, 8, 2, 9


def _f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _check(node: onnx.NodeProto, feeds: dict[str, np.ndarray], outs: list[str],
           flash: bool = True) -> None:
    graph = helper.make_graph(
        [node], "t",
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for k, v in feeds.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 10
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    for got, want in zip(session.run(None, feeds), run_onnxruntime(model, feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    kinds = [t for t, _ in session.compiled(feeds).choices.values()]
    assert ("attention" in kinds) == flash, kinds


def _mha(inputs: list[str], outs: list[str], **attrs: object) -> onnx.NodeProto:
    return helper.make_node("MultiHeadAttention", inputs, outs, domain="com.microsoft",
                            num_heads=N, **attrs)


@pytest.mark.parametrize("unidirectional", [0, 1])
def test_mha(unidirectional: int) -> None:
    feeds = {"q": _f(B, S, N * H), "k": _f(B, S, N * H), "v": _f(B, S, N * H),
             "ab": _f(1, N, S, S)}
    _check(_mha(["q", "k", "v", "", "", "ab"], ["y"], unidirectional=unidirectional), feeds, ["y"])


def test_mha_past_present_and_padding_mask() -> None:
    feeds = {"q": _f(B, S, N * H), "k": _f(B, S, N * H), "v": _f(B, S, N * H),
             "pk": _f(B, N, 7, H), "pv": _f(B, N, 7, H)}
    _check(_mha(["q", "k", "v", "", "", "", "pk", "pv"], ["y", "prk", "prv"], unidirectional=1),
           feeds, ["y", "prk", "prv"])
    pad = {k: feeds[k] for k in "qkv"} | {"pad": (RNG.random((B, S)) > 0.3).astype(np.int32)}
    _check(_mha(["q", "k", "v", "", "pad"], ["y"]), pad, ["y"], flash=False)


@pytest.mark.parametrize("sq,past", [(S, 0), (1, P)])
def test_gqa_prefill_and_decode(sq: int, past: int) -> None:
    feeds = {"q": _f(B, sq, N * H), "k": _f(B, sq, KVH * H), "v": _f(B, sq, KVH * H)}
    inputs = ["q", "k", "v", "", ""]
    if past:
        feeds |= {"pk": _f(B, KVH, past, H), "pv": _f(B, KVH, past, H)}
        inputs[3:5] = ["pk", "pv"]
    feeds |= {"sl": np.full((B,), past + sq - 1, np.int32), "tot": np.array(past + sq, np.int32)}
    node = helper.make_node("GroupQueryAttention", [*inputs, "sl", "tot"], ["y", "pk_out", "pv_out"],
                            domain="com.microsoft", num_heads=N, kv_num_heads=KVH)
    _check(node, feeds, ["y", "pk_out", "pv_out"])
