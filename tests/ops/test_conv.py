"""Conv: the TE form (run-time weights) and onnxjit::Conv (constant weights; dense and sparse),
against onnx's reference evaluator and onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model, run_onnxruntime

CASES = [  # (x shape, w shape, attrs)
    ((1, 8, 9, 9), (6, 8, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((2, 6, 11, 9), (12, 6, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 8, 13, 12), (8, 8, 3, 3), {"strides": [2, 1], "dilations": [2, 1], "pads": [2, 0, 1, 3]}),
    ((1, 12, 9, 9), (12, 1, 3, 3), {"group": 12, "pads": [1, 1, 1, 1]}),
    ((1, 12, 7, 7), (24, 4, 1, 1), {"group": 3}),
    ((1, 16, 7, 5), (8, 16, 1, 1), {"strides": [2, 2]}),
    ((1, 4, 10, 10), (5, 4, 5, 5), {"auto_pad": "SAME_UPPER"}),
    ((1, 3, 17, 17), (4, 3, 3, 3), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    ((1, 3, 8, 8), (4, 3, 2, 2), {"auto_pad": "VALID"}),
    # whole vectors of output channels (the channel-vectorised kernel), ragged rows and widths
    ((1, 16, 9, 11), (32, 16, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 8, 7, 6), (48, 8, 3, 3), {"dilations": [2, 2], "pads": [2, 2, 2, 2]}),
    ((2, 32, 6, 5), (64, 16, 3, 3), {"group": 2, "pads": [1, 0, 1, 0]}),
    # rows wide enough for the vectorised strided (deinterleaving) input copy
    ((1, 4, 6, 75), (4, 1, 3, 3), {"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 2, 5, 110), (3, 2, 3, 3), {"strides": [1, 3], "pads": [0, 2, 1, 1]}),
]


def _conv(x: np.ndarray, w: np.ndarray, attrs: dict, bias: bool, const_w: bool):
    rng = np.random.default_rng(1)
    inputs = {"x": x} if const_w else {"x": x, "w": w}
    inits = {"w": w} if const_w else {}
    names = ["x", "w"]
    if bias:
        inits["b"] = rng.standard_normal(w.shape[0]).astype(np.float32)
        names.append("b")
    return make_model([helper.make_node("Conv", names, ["y"], **attrs)], inputs, ["y"], inits), inputs


@pytest.mark.parametrize("const_w", [True, False])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_conv_matches_references(case: int, const_w: bool) -> None:
    xs, ws, attrs = CASES[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    model, feeds = _conv(x, w, attrs, bias=case % 2 == 0, const_w=const_w)
    assert_matches(model, feeds, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("zeros", [0.0, 0.75, 0.95])
@pytest.mark.parametrize("k", [1, 3])
def test_pruned_conv_with_epilogue(zeros: float, k: int) -> None:
    """Conv -> BatchNormalization -> Clip -> Conv -> Add: BN folded, epilogues fused, sparse chosen."""
    rng = np.random.default_rng(3)
    c = 16
    x = rng.standard_normal((1, c, 10, 10)).astype(np.float32)
    w1 = rng.standard_normal((c, c, k, k)).astype(np.float32)
    w1[rng.random(w1.shape) < zeros] = 0
    w2 = rng.standard_normal((c, c, 1, 1)).astype(np.float32)
    w2[rng.random(w2.shape) < zeros] = 0
    bn = {n: (rng.random(c) + 0.5).astype(np.float32) for n in ("s", "bb", "m", "v")}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[k // 2] * 4),
             helper.make_node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"]),
             helper.make_node("Clip", ["n1", "lo", "hi"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"]),
             helper.make_node("Add", ["x", "c2"], ["y"])]
    inits = {"w1": w1, "w2": w2, "lo": np.float32(0), "hi": np.float32(6), **bn}
    model = make_model(nodes, {"x": x}, ["y"], inits)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    compiled = session.compiled({"x": x})
    assert [k.op_types for k in compiled.kernels] == [("Conv",), ("Conv",)]
    # "dense" vectorises over pixels, "dense_c" over output channels: both are the dense kernel
    impls = [str(compiled.choices[k.name][1]["impl"]).replace("dense_c", "dense") for k in compiled.kernels]
    assert impls == (["sparse", "sparse"] if zeros >= 0.9 else ["dense", "dense"]) or zeros == 0.75
    got = session.run(None, {"x": x})[0]
    want = run_onnxruntime(model, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_conv_rejects_mismatched_channels() -> None:
    x = np.zeros((1, 4, 5, 5), np.float32)
    w = np.zeros((2, 3, 1, 1), np.float32)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="bad")], "t",
                          [helper.make_tensor_value_info("x", 1, x.shape),
                           helper.make_tensor_value_info("w", 1, w.shape)],
                          [helper.make_tensor_value_info("y", 1, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with pytest.raises(onnxjit.OnnxJitError, match="'bad' \\(Conv\\)"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1).run(None, {"x": x, "w": w})


@pytest.mark.parametrize("act", ["LeakyRelu", "HardSwish", "Sigmoid", "Tanh", "residual-input"])
def test_a_conv_followed_by_an_op_it_does_not_fuse_keeps_its_conv_kernel(act: str) -> None:
    """Activations the conv epilogue does not take, and a residual that is the conv's own input
    (x + conv(x)), run as their own kernels after a conv kernel: never a fused kernel that only
    the generic fallback schedules (20-200x slower)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    w = (rng.standard_normal((16, 16, 3, 3)) / 12).astype(np.float32)
    conv = helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1])
    after = (helper.make_node("Add", ["c", "x"], ["y"]) if act == "residual-input"
             else helper.make_node(act, ["c"], ["y"]))
    model = make_model([conv, after], {"x": x}, ["y"], {"w": w})
    assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-5)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    templates = {name: template for name, (template, _) in session.compiled({"x": x}).choices.items()}
    assert "fallback" not in templates.values(), templates

