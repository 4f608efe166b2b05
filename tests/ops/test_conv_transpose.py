"""ConvTranspose against onnx's reference evaluator and onnxruntime: constant weights take the
sub-pixel rewrite (compiler/passes/conv_transpose.py: a Conv on the conv templates + interleave),
run-time weights and dilations the general TE lowering (compiler/ops/conv_transpose.py)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model, run_onnxjit, run_onnxruntime

CASES = [  # (x shape, w shape (C, M/group, k...), attrs)
    ((1, 8, 7, 7), (8, 6, 2, 2), {"strides": [2, 2]}),                            # U-Net up-conv
    ((1, 8, 5, 5), (8, 4, 4, 4), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),      # DCGAN
    ((2, 6, 6, 5), (6, 5, 3, 3), {"pads": [1, 1, 1, 1]}),                         # stride 1
    ((1, 4, 5, 6), (4, 3, 3, 3), {"strides": [3, 2], "pads": [1, 0, 2, 1]}),      # odd k, s = 3
    ((1, 4, 5, 5), (4, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1],
                                  "output_padding": [1, 1]}),                      # torch's x2 3x3
    ((1, 8, 6, 6), (8, 2, 4, 4), {"strides": [2, 2], "pads": [1, 1, 1, 1], "group": 2}),
    ((1, 6, 6, 6), (6, 1, 4, 4), {"strides": [2, 2], "pads": [1, 1, 1, 1], "group": 6}),  # depthwise
    ((1, 4, 5, 5), (4, 3, 3, 3), {"strides": [2, 2], "dilations": [2, 2]}),       # TE lowering
    ((1, 4, 5, 5), (4, 3, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((1, 4, 5, 5), (4, 3, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 4, 5, 5), (4, 3, 3, 3), {"strides": [2, 2], "auto_pad": "VALID"}),
    ((1, 4, 5, 5), (4, 3, 3, 3), {"strides": [3, 3], "output_shape": [16, 15]}),
    ((1, 4, 3, 3), (4, 2, 1, 1), {"strides": [2, 2]}),                             # k < stride
    ((1, 6, 9), (6, 4, 4), {"strides": [2], "pads": [1, 1]}),                      # 1-d
    ((2, 4, 8), (4, 5, 3), {"strides": [3], "pads": [0, 2], "output_padding": [1]}),
    ((1, 4, 3, 4, 5), (4, 3, 2, 2, 2), {"strides": [2, 2, 2]}),                   # 3-d U-Net
    ((1, 4, 3, 4, 5), (4, 2, 2, 1, 2), {"strides": [2, 2, 3], "pads": [1, 0, 0, 0, 0, 1]}),
    ((1, 3, 3, 4, 4), (3, 2, 3, 3, 3), {"pads": [1] * 6}),                        # 3-d TE lowering
]


def _rewritten(ws: tuple[int, ...], attrs: dict) -> bool:
    """Whether passes/conv_transpose.py takes the case (else the TE lowering runs it)."""
    strides = attrs.get("strides", [1] * (len(ws) - 2))
    return "dilations" not in attrs and (len(ws) < 5 or all(k <= s for k, s in zip(ws[2:], strides)))


def _scatter(x: np.ndarray, w: np.ndarray, b: np.ndarray, group: int, strides: list[int],
             pads: list[int]) -> np.ndarray:
    """2-d grouped ConvTranspose by definition: every input pixel scatters its window, float64."""
    (n, c, h, wd), (mg, kh, kw) = x.shape, w.shape[1:]
    (sy, sx), cg = strides, c // group
    full = np.zeros((n, group * mg, (h - 1) * sy + kh, (wd - 1) * sx + kw))
    for ci in range(c):
        g = ci // cg
        for ky in range(kh):
            for kx in range(kw):
                contrib = x[:, ci, :, :, None].astype(np.float64) * w[ci, :, ky, kx]   # (n, h, w, mg)
                full[:, g * mg:(g + 1) * mg, ky:ky + (h - 1) * sy + 1:sy,
                     kx:kx + (wd - 1) * sx + 1:sx] += contrib.transpose(0, 3, 1, 2)
    full = full[:, :, pads[0]:full.shape[2] - pads[2], pads[1]:full.shape[3] - pads[3]]
    return full + b[None, :, None, None]


def _templates(model, feeds: dict[str, np.ndarray]) -> set[str]:
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    return {template for template, _ in session.compiled(feeds).choices.values()}


@pytest.mark.parametrize("xs,ws,attrs", CASES)
def test_conv_transpose_matches_references(xs, ws, attrs) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
    group = attrs.get("group", 1)
    b = rng.standard_normal(ws[1] * group).astype(np.float32)
    model = make_model([helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)], {"x": x},
                       ["y"], {"w": w, "b": b})
    if group == 1:
        assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-5)
    else:   # onnx's reference evaluator mis-slices grouped weights: numpy scatter instead
        got = run_onnxjit(model, {"x": x})[0]
        np.testing.assert_allclose(got, _scatter(x, w, b, group, attrs["strides"], attrs["pads"]),
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got, run_onnxruntime(model, {"x": x})[0], rtol=1e-4, atol=1e-5)
    templates = _templates(model, {"x": x})
    assert ("fallback" not in templates) == _rewritten(ws, attrs)   # the rewrite runs it as a conv


def test_conv_transpose_with_run_time_weights_and_no_bias() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 4, 4)).astype(np.float32)
    model = make_model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])],
                       {"x": x, "w": w}, ["y"])
    assert_matches(model, {"x": x, "w": w}, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("group,act", [(1, "Relu"), (2, "Clip")])
def test_conv_transpose_followed_by_batch_norm_and_activation(group: int, act: str) -> None:
    """A decoder block: ConvTranspose -> BatchNormalization -> Relu / Clip (ReLU6): the BN folds into
    the weights, the activation moves onto the conv; one conv kernel and the interleave remain."""
    rng = np.random.default_rng(7)
    c, m = 8, 6
    x = rng.standard_normal((1, c, 6, 6)).astype(np.float32)
    inits = {"w": (rng.standard_normal((c, m // group, 4, 4)) / 8).astype(np.float32),
             "scale": (1 + 0.1 * rng.standard_normal(m)).astype(np.float32),
             "bias": (0.1 * rng.standard_normal(m)).astype(np.float32),
             "mean": (0.1 * rng.standard_normal(m)).astype(np.float32),
             "var": (1 + 0.1 * rng.random(m)).astype(np.float32)}
    inits.update(lo=np.array(0.0, np.float32), hi=np.array(0.5, np.float32))
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["t"], strides=[2, 2], pads=[1, 1, 1, 1],
                              group=group),
             helper.make_node("BatchNormalization", ["t", "scale", "bias", "mean", "var"], ["n"]),
             helper.make_node(act, ["n", "lo", "hi"] if act == "Clip" else ["n"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], inits)
    got = run_onnxjit(model, {"x": x})[0]
    np.testing.assert_allclose(got, run_onnxruntime(model, {"x": x})[0], rtol=1e-4, atol=1e-5)
    assert 0 < np.count_nonzero(got == 0) < got.size   # the activation clamps some, not all
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    kernels = session.compiled({"x": x}).choices
    assert [k for k in kernels if "Conv" in k] and not [k for k in kernels if act in k or "Batch" in k]


def test_unet_decoder_block() -> None:
    """U-Net decoder: up-conv (2x2 s2) -> Concat with the skip -> 3x3 Conv -> Relu, and a DCGAN
    4x4 s2 p1 layer on the result: the rewritten ops feed ordinary ones and each other."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 16, 8, 8)).astype(np.float32)
    skip = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
    inits = {"wu": (rng.standard_normal((16, 8, 2, 2)) / 8).astype(np.float32),
             "bu": rng.standard_normal(8).astype(np.float32),
             "wc": (rng.standard_normal((8, 16, 3, 3)) / 12).astype(np.float32),
             "wg": (rng.standard_normal((8, 4, 4, 4)) / 8).astype(np.float32)}
    nodes = [helper.make_node("ConvTranspose", ["x", "wu", "bu"], ["up"], strides=[2, 2]),
             helper.make_node("Concat", ["up", "skip"], ["cat"], axis=1),
             helper.make_node("Conv", ["cat", "wc"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("ConvTranspose", ["r", "wg"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])]
    model = make_model(nodes, {"x": x, "skip": skip}, ["y"], inits)
    assert_matches(model, {"x": x, "skip": skip}, rtol=1e-4, atol=1e-4)
