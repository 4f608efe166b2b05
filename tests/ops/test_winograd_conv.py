"""Winograd F(2x2, 3x3) convs (compiler/passes/winograd.py, schedules/conv_winograd.py): chosen
for dense 3x3 stride-1 "same" convs on large enough images, equal to onnxruntime's direct conv
within 1e-4 relative (F(2x2, 3x3)'s extra roundings are ~1e-6), for odd sizes, epilogues and
misaligned feeds; every knob point agrees with the default."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxjit
from onnxjit.compiler.conv_geometry import ConvGeometry
from onnxjit.compiler.passes.winograd import G, pays, transform_weights
from onnxjit.schedules.conv_winograd import WinogradConvTemplate
from tests.helpers import offset_copy, run_onnxruntime
from tests.schedules.knob_check import check_space

REL_TOL = 1e-4


def conv_model(c: int, m: int, h: int, w: int, post: str = "", seed: int = 0,
               bn: bool = False) -> tuple[object, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array((rng.standard_normal((m, c, 3, 3)) / np.sqrt(9 * c)).astype(
        np.float32), "W"), numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "B")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["y0"], pads=[1, 1, 1, 1], name="conv3x3")]
    out, inputs = "y0", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, w])]
    feeds = {"x": rng.standard_normal((1, c, h, w)).astype(np.float32)}
    if bn:
        stats = [np.abs(rng.standard_normal(m)).astype(np.float32) + 0.5 for _ in range(4)]
        inits += [numpy_helper.from_array(s, n) for s, n in zip(stats, ("s", "b", "mu", "var"))]
        nodes.append(helper.make_node("BatchNormalization", [out, "s", "b", "mu", "var"], ["bn"]))
        out = "bn"
    if "add" in post:
        inputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, m, h, w]))
        feeds["r"] = rng.standard_normal((1, m, h, w)).astype(np.float32)
        nodes.append(helper.make_node("Add", [out, "r"], ["added"]))
        out = "added"
    if "relu" in post:
        nodes.append(helper.make_node("Relu", [out], ["y"]))
        out = "y"
    if "clip" in post:
        inits += [numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")]
        nodes.append(helper.make_node("Clip", [out, "lo", "hi"], ["clipped"]))
        out = "clipped"
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, m, h, w])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), feeds


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def test_weight_transform_is_g_w_gt() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((32, 3, 3, 3)).astype(np.float32)
    u = transform_weights(w)          # [16, K/ub, C, ub], ub = 16
    assert u.shape == (16, 2, 3, 16)
    want = G @ w[20, 2].astype(np.float64) @ G.T
    got = u[:, 20 // 16, 2, 20 % 16].reshape(4, 4)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_only_large_same_3x3_convs_pay() -> None:
    def geo(c: int, m: int, hw: int, k: int = 3, s: int = 1, p: int = 1, g: int = 1) -> ConvGeometry:
        return ConvGeometry(1, c, hw, hw, m, g, k, k, s, s, 1, 1, p, p, p, p)

    assert pays(geo(32, 32, 28)) and pays(geo(64, 64, 14))
    assert not pays(geo(128, 128, 7))    # 16 tiles: measured no faster than direct
    assert not pays(geo(32, 32, 28, s=2)) and not pays(geo(32, 32, 28, k=1, p=0))
    assert not pays(geo(32, 32, 28, g=32)) and not pays(geo(8, 32, 28))


@pytest.mark.parametrize("c,m,h,w,post", [
    (32, 32, 28, 28, "relu"), (16, 48, 21, 19, "add,relu"), (24, 16, 33, 14, "clip"),
    (32, 64, 20, 20, ""), (16, 16, 41, 37, "add"),
    (64, 64, 14, 14, "add,relu"), (16, 32, 13, 13, "relu")])   # channel-vectorised products
def test_winograd_matches_onnxruntime(c: int, m: int, h: int, w: int, post: str) -> None:
    model, feeds = conv_model(c, m, h, w, post, bn=post == "")
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    templates = {t for t, _ in session.compiled(feeds).choices.values()}
    assert templates == {"conv_winograd"}, templates
    want = run_onnxruntime(model, feeds)[0]
    assert rel_err(session.run(None, feeds)[0], want) <= REL_TOL
    knobs = [k for t, k in session.compiled(feeds).choices.values()]
    assert bool(knobs[0].get("cv")) == (h * w <= 14 * 14), knobs   # few tiles: channel vectors
    misaligned = {k: offset_copy(v, 4) for k, v in feeds.items()}
    assert rel_err(session.run(None, misaligned)[0], want) <= REL_TOL


def test_winograd_off_and_force(monkeypatch: pytest.MonkeyPatch) -> None:
    from onnxjit.compiler.settings import settings

    model, feeds = conv_model(16, 16, 6, 6, "relu")       # too small: direct by default
    want = run_onnxruntime(model, feeds)[0]
    for mode, template in (("auto", "conv"), ("force", "conv_winograd"), ("off", "conv")):
        monkeypatch.setenv("ONNXJIT_WINOGRAD", mode)
        settings.cache_clear()
        session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
        assert {t for t, _ in session.compiled(feeds).choices.values()} == {template}, mode
        assert rel_err(session.run(None, feeds)[0], want) <= REL_TOL
    settings.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("hw", [20, 13])
def test_winograd_space_points_agree(hw: int) -> None:
    """Both kinds of point (vectors of tiles, vectors of channels), odd and even sizes."""
    model, feeds = conv_model(32, 32, hw, hw, "add,relu")
    assert check_space(model, feeds, WinogradConvTemplate()) >= 4


@pytest.mark.parametrize("c,m,hw", [(16, 32, 14), (32, 16, 20)])
def test_winograd_batch_of_images(c: int, m: int, hw: int) -> None:
    rng = np.random.default_rng(2)
    w = (rng.standard_normal((m, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, c, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {"x": rng.standard_normal((3, c, hw, hw)).astype(np.float32)}
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert {t for t, _ in session.compiled(feeds).choices.values()} == {"conv_winograd"}
    assert rel_err(session.run(None, feeds)[0], run_onnxruntime(model, feeds)[0]) <= REL_TOL
