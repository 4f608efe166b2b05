"""Scan / Loop: the generic path (body compiled once, time loop in the kernel) and the fused
linear recurrences (LinearScan, SelectiveScan) matched from exporter-style bodies."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxjit
from benchmarks.scan import scan_linear, scan_mamba
from tests.helpers import run_onnxruntime

F = TensorProto.FLOAT
RNG = np.random.default_rng(0)


def _vi(name: str, shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, F, shape)


def _model(nodes: list[onnx.NodeProto], inputs: dict[str, np.ndarray], outputs: list[str],
           inits: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "t", [_vi(k, list(v.shape)) for k, v in inputs.items()],
                          [helper.make_tensor_value_info(o, F, None) for o in outputs],
                          [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray], fused: str | None) -> None:
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    ops = [k.op_types for k in session.compiled(feeds).kernels]
    if fused is not None:
        assert (fused,) in ops, ops
    else:
        assert all(o[0] not in ("LinearScan", "SelectiveScan") for o in ops), ops
    got = session.run(None, feeds)
    for g, w in zip(got, run_onnxruntime(model, feeds)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(w).max())))


def _f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("in_axis,in_dir,out_axis,out_dir", [
    (0, 0, 0, 0), (0, 1, 0, 1), (1, 0, 0, 0), (1, 1, 1, 0), (0, 0, 1, 1)])
def test_generic_scan_axes_directions_two_states_and_a_capture(
        in_axis: int, in_dir: int, out_axis: int, out_dir: int) -> None:
    # states: running sum s (3,) and running difference m (3,); outer-scope weight w scales the input
    body = helper.make_graph(
        [helper.make_node("Mul", ["x_t", "w"], ["xw"]),
         helper.make_node("Add", ["s_in", "xw"], ["s_out"]),
         helper.make_node("Sub", ["m_in", "x_t"], ["m_out"]),
         helper.make_node("Identity", ["s_out"], ["y_t"])], "body",
        [_vi("s_in", [3]), _vi("m_in", [3]), _vi("x_t", [3])],
        [_vi("s_out", [3]), _vi("m_out", [3]), _vi("y_t", [3])])
    x = _f32(5, 3) if in_axis == 0 else _f32(3, 5)
    node = helper.make_node("Scan", ["s0", "m0", "x"], ["s", "m", "y"], num_scan_inputs=1,
                            body=body, scan_input_axes=[in_axis], scan_input_directions=[in_dir],
                            scan_output_axes=[out_axis], scan_output_directions=[out_dir])
    feeds = {"s0": _f32(3), "m0": _f32(3), "x": x}
    _check(_model([node], feeds, ["s", "m", "y"], {"w": _f32(3)}), feeds, None)


def test_loop_with_constant_trip_count_and_iteration_number() -> None:
    body = helper.make_graph(
        [helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("Mul", ["fi", "x"], ["ix"]),
         helper.make_node("Add", ["acc_in", "ix"], ["acc_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["acc_out"], ["scan_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), _vi("acc_in", [4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), _vi("acc_out", [4]),
         _vi("scan_out", [4])])
    node = helper.make_node("Loop", ["M", "", "acc0"], ["acc", "stacked"], body=body)
    feeds = {"acc0": _f32(4), "x": _f32(4)}
    _check(_model([node], feeds, ["acc", "stacked"], {"M": np.array(6, np.int64)}), feeds, None)


@pytest.mark.parametrize("readout", ["matmul", "rs"])
def test_linear_recurrence_is_fused(readout: str) -> None:
    model, feeds = scan_linear(readout, length=7, d=16, n=16)
    _check(model, feeds, "LinearScan")


@pytest.mark.parametrize("readout", ["matmul", "rs"])
def test_mamba_body_is_fused(readout: str) -> None:
    model, feeds = scan_mamba(readout, length=9, d=24, n=16)
    _check(model, feeds, "SelectiveScan")


@pytest.mark.parametrize("length,d,n", [(37, 48, 12), (5, 20, 5)])
def test_mamba_body_odd_sizes(length: int, d: int, n: int) -> None:
    # time chunks with a tail, state groups that split N, channel vectors narrower than the lanes
    model, feeds = scan_mamba("rs", length=length, d=d, n=n)
    _check(model, feeds, "SelectiveScan")


def test_near_miss_body_stays_generic() -> None:
    model, feeds = scan_linear("matmul", length=5, d=8, n=16)
    body = model.graph.node[1].attribute[0].g
    body.node[3].op_type = "Sub"   # h = a*h - b*x: not the recognised recurrence
    _check(model, feeds, None)


def test_small_state_gets_a_vector_kernel() -> None:
    # N = 4 is narrower than a vector on AVX2 and AVX-512: a narrower-vector kernel, not the
    # scalar reference loop nest
    model, feeds = scan_linear("rs", length=5, d=16, n=4)
    _check(model, feeds, "LinearScan")
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    assert [t for t, _ in session.compiled(feeds).choices.values()] == ["linear_scan"]


def test_recurrence_with_odd_sizes_uses_reference_kernel() -> None:
    model, feeds = scan_linear("rs", length=3, d=6, n=5)   # N not a multiple of the lanes
    _check(model, feeds, "LinearScan")


def test_mamba_body_without_skip_term() -> None:
    model, feeds = scan_mamba("matmul", length=5, d=16, n=16)
    body = model.graph.node[0].attribute[0].g
    nodes = [n for n in body.node if n.output[0] not in ("skip", "y_t")]
    for node in nodes:
        if node.op_type == "MatMul":
            node.output[0] = "y_t"
    del body.node[:]
    body.node.extend(nodes)
    _check(model, feeds, "SelectiveScan")
