"""Transpose -> CausalConvWithState -> Transpose (a (B, L, C) activation through the opset-27
op) runs as one channels-last kernel, onnxjit::CausalConvWithStateNTC, and equals onnx's
reference evaluator (onnxruntime has no opset 27) for whole and partial channel vectors, short
sequences, with and without bias/state/SiLU, at 1 and 2 threads; a transpose read elsewhere
stays."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxjit
from tests.helpers import make_model, run_reference

RNG = np.random.default_rng(0)
K = 4
RTOL = 1e-5


def _model(c: int, length: int, act: str, bias: bool, past: bool,
           leak: bool = False) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    feeds = {"x": RNG.standard_normal((2, length, c)).astype(np.float32)}
    inits = {"w": RNG.standard_normal((c, 1, K)).astype(np.float32)}
    inputs = ["xt", "w", "", ""]
    if bias:
        inits["b"] = RNG.standard_normal(c).astype(np.float32)
        inputs[2] = "b"
    if past:
        feeds["p"] = RNG.standard_normal((2, c, K - 1)).astype(np.float32)
        inputs[3] = "p"
    while not inputs[-1]:
        inputs.pop()
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
             helper.make_node("CausalConvWithState", inputs, ["yt", "s"], activation=act),
             helper.make_node("Transpose", ["yt"], ["y"], perm=[0, 2, 1])]
    outputs = ["y", "s"]
    if leak:
        nodes.append(helper.make_node("Relu", ["xt"], ["r"]))
        outputs.append("r")
    return make_model(nodes, feeds, outputs, inits, opset=27), feeds


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray], threads: int) -> list[tuple]:
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=threads)
    got = session.run(None, feeds)
    for ours, want in zip(got, run_reference(model, feeds)):
        np.testing.assert_allclose(ours, want, rtol=RTOL, atol=RTOL)
    return [k.op_types for k in session.compiled(feeds).kernels]


@pytest.mark.parametrize("c,length", [(48, 37), (40, 37), (8, 2), (33, 1)])
@pytest.mark.parametrize("act", ["none", "silu"])
@pytest.mark.parametrize("threads", [1, 2])
def test_transposed_causal_conv_runs_channels_last(c: int, length: int, act: str,
                                                   threads: int) -> None:
    model, feeds = _model(c, length, act, bias=True, past=True)
    ops = _check(model, feeds, threads)
    assert ops == [("CausalConvWithStateNTC",)], ops


@pytest.mark.parametrize("bias,past", [(False, True), (True, False), (False, False)])
def test_channels_last_without_bias_or_state(bias: bool, past: bool) -> None:
    model, feeds = _model(24, 19, "silu", bias, past)
    assert ("CausalConvWithStateNTC",) in _check(model, feeds, 1)


def test_a_transpose_read_elsewhere_is_kept() -> None:
    model, feeds = _model(32, 11, "silu", bias=True, past=True, leak=True)
    ops = _check(model, feeds, 1)
    assert ("CausalConvWithState",) in ops and ("CausalConvWithStateNTC",) not in ops, ops


@pytest.mark.slow
@pytest.mark.parametrize("args", [(40, 37, "silu", True, True), (24, 19, "none", False, False)])
def test_channels_last_on_webgpu(args: tuple) -> None:
    """GPU targets take the (B, L, C) form too (schedules/gpu_scan_kernels.py)."""
    pytest.importorskip("wgpu", reason="the webgpu test needs wgpu (pip install wgpu)")
    from onnxjit.runtime.wgsl import device

    try:
        device()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no wgpu adapter (CI installs mesa-vulkan-drivers): {exc}")
    model, feeds = _model(*args)
    session = onnxjit.InferenceSession(model.SerializeToString(), target="webgpu")
    for ours, want in zip(session.run(None, feeds), run_reference(model, feeds)):
        np.testing.assert_allclose(ours, want, rtol=RTOL, atol=RTOL)
    assert [k.op_types for k in session.compiled(feeds).kernels] == [("CausalConvWithStateNTC",)]
