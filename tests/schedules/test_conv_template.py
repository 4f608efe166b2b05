"""Every point of the conv template (dense and sparse) equals its default, ragged shapes included."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from onnxjit.schedules.conv import ConvTemplate
from tests.helpers import make_model
from tests.schedules.knob_check import check_space


@pytest.mark.parametrize("shape,k,zeros,m", [((1, 8, 7, 10), 1, 0.0, 8), ((1, 8, 9, 11), 3, 0.85, 8),
                                             ((1, 12, 5, 13), 1, 0.9, 8), ((1, 8, 7, 9), 3, 0.0, 32),
                                             ((1, 12, 4, 20), 1, 0.9, 8)])
def test_conv_space_points_agree(shape: tuple[int, ...], k: int, zeros: float, m: int) -> None:
    """m = 32: whole vectors of output channels, so channel-vectorised points are in the space;
    4x20: whole output vectors (on x86 the streaming-store point of the sparse default is in it)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((m, shape[1], k, k)).astype(np.float32)
    w[rng.random(w.shape) < zeros] = 0
    node = helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[k // 2] * 4)
    model = make_model([node, helper.make_node("Relu", ["c"], ["y"])], {"x": x}, ["y"],
                       {"w": w, "b": rng.standard_normal(m).astype(np.float32)})
    assert check_space(model, {"x": x}, ConvTemplate()) > 4


def test_avx2_sized_kernels_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """On an AVX2 target (8 lanes, 16 registers) the conv kernels size their tiles from the target:
    dense (pixel and channel vectorised) and sparse defaults still match onnxruntime."""
    from onnxjit.compiler import tvm_api
    from onnxjit.targets.cpu import CpuTarget
    from tests.helpers import run_onnxruntime

    import onnxjit

    monkeypatch.setattr(CpuTarget, "vector_lanes", property(lambda self: 8))
    monkeypatch.setattr(CpuTarget, "tvm_target",
                        lambda self: tvm_api.llvm_target({"mcpu": "haswell", "num-cores": self.threads}))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 16, 11, 13)).astype(np.float32)
    w1 = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((24, 32, 1, 1)).astype(np.float32)
    w2[rng.random(w2.shape) < 0.92] = 0
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"w1": w1, "w2": w2})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    compiled = session.compiled({"x": x})
    impls = sorted(str(compiled.choices[k.name][1]["impl"]) for k in compiled.kernels)
    assert impls == ["dense_c", "sparse"], impls
    got = session.run(None, {"x": x})[0]
    want = run_onnxruntime(model, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
