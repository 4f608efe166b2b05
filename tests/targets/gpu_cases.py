"""Models the GPU tests compile and run: one or more per op family, small versions of the
benchmark models (same builders). Outputs are compared with onnxruntime (CPU) by rel_err
(max |ours - theirs| / max |theirs|, per output) <= 1e-4. An onnxruntime too old for a model's
opset (1.30 refuses opset 27: LinearAttention, CausalConvWithState) is replaced by onnx's
reference evaluator.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import onnx
from onnx import helper

from benchmarks.attention import attention_model
from benchmarks.conv import single_conv
from benchmarks.scan import causal_conv, cumsum, linear_attention, scan_linear, scan_mamba
from tests.helpers import make_model, run_onnxruntime, run_reference

Case = tuple[onnx.ModelProto, dict[str, np.ndarray]]
REL_TOL = 1e-4
SEED = np.random.default_rng


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    want64 = np.asarray(want, dtype=np.float64)
    scale = max(float(np.abs(want64).max(initial=0.0)), 1e-30)
    return float(np.abs(np.asarray(got, dtype=np.float64) - want64).max(initial=0.0)) / scale


def expected_outputs(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    try:
        return run_onnxruntime(model, feeds)
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own Fail type)
        if "opset" not in str(exc).lower():
            raise
        return run_reference(model, feeds)


def assert_close_to_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                                outputs: Sequence[np.ndarray], where: str) -> None:
    expected = expected_outputs(model, feeds)
    assert len(outputs) == len(expected), where
    for i, (got, want) in enumerate(zip(outputs, expected)):
        assert got.shape == np.asarray(want).shape, f"{where} output {i}"
        err = rel_err(got, want)
        assert err <= REL_TOL, f"{where} output {i}: rel_err {err:.3g} > {REL_TOL}"


def matmul_softmax(n: int, k: int, m: int) -> Case:
    rng = SEED(0)
    feeds = {"a": (0.25 * rng.standard_normal((n, k))).astype(np.float32),
             "b": (0.25 * rng.standard_normal((k, m))).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["a", "b"], ["c"]),
             helper.make_node("Softmax", ["c"], ["y"], axis=-1)]
    return make_model(nodes, feeds, ["y"], opset=17), feeds


def conv_case(c: int, m: int, hw: int, k: int, zeros: float, pattern: str) -> Case:
    feeds = {"X": SEED(1).standard_normal((1, c, hw, hw), dtype=np.float32)}
    return single_conv(c, m, hw, k, zeros, pattern), feeds


def strided_group_conv() -> Case:
    """A depthwise 3x3 stride-2 conv + bias + Relu (MobileNet's kind): the dense GPU path."""
    rng = SEED(2)
    feeds = {"x": rng.standard_normal((1, 8, 11, 11), dtype=np.float32)}
    inits = {"w": rng.standard_normal((8, 1, 3, 3), dtype=np.float32),
             "b": rng.standard_normal((8,), dtype=np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], group=8, strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, feeds, ["y"], inits, opset=17), feeds


def elementwise() -> Case:
    rng = SEED(3)
    feeds = {"a": rng.standard_normal((3, 50, 70), dtype=np.float32),
             "b": rng.standard_normal((50, 70), dtype=np.float32)}
    nodes = [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Sigmoid", ["s"], ["g"]),
             helper.make_node("Mul", ["g", "a"], ["y"])]
    return make_model(nodes, feeds, ["y"], opset=17), feeds


def reduction() -> Case:
    feeds = {"x": SEED(4).standard_normal((6, 40, 300), dtype=np.float32)}
    nodes = [helper.make_node("ReduceMax", ["x", "ax"], ["y"], keepdims=0)]
    return make_model(nodes, feeds, ["y"], {"ax": np.array([2], np.int64)}, opset=18), feeds


def layer_norm() -> Case:
    rng = SEED(5)
    feeds = {"x": rng.standard_normal((4, 33, 96), dtype=np.float32)}
    inits = {"g": rng.standard_normal((96,), dtype=np.float32),
             "bb": rng.standard_normal((96,), dtype=np.float32)}
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "bb"], ["y"], axis=-1)]
    return make_model(nodes, feeds, ["y"], inits, opset=17), feeds


def batched_matmul() -> Case:
    rng = SEED(6)
    feeds = {"a": rng.standard_normal((2, 3, 40, 72), dtype=np.float32),
             "b": rng.standard_normal((2, 3, 72, 56), dtype=np.float32)}
    return make_model([helper.make_node("MatMul", ["a", "b"], ["y"])], feeds, ["y"],
                      opset=17), feeds


def cumsum_last_axis() -> Case:
    """Few long lines (axis -1, reverse, exclusive): the chunked CumSum kernel."""
    feeds = {"x": SEED(7).standard_normal((3, 1000), dtype=np.float32)}
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=1, reverse=1)
    return make_model([node], feeds, ["y"], {"axis": np.array(-1, np.int64)}, opset=14), feeds


def int64_bool() -> Case:
    """int64 and bool tensors (WGSL has neither: they cross as int32): Gather with negative int64
    indices, Where on a bool mask, bool and int64 outputs, int64 arithmetic, ArgMax."""
    rng = SEED(8)
    feeds = {"x": rng.standard_normal((6, 9), dtype=np.float32),
             "idx": np.array([[5, 0, -1], [2, -6, 3]], np.int64),
             "m": rng.standard_normal((6, 9)) > 0}
    inits = {"t": np.full((1, 9), 0.25, np.float32), "off": np.array([3], np.int64)}
    nodes = [helper.make_node("Gather", ["x", "idx"], ["g"], axis=0),
             helper.make_node("Greater", ["x", "t"], ["gt"]),
             helper.make_node("And", ["gt", "m"], ["both"]),
             helper.make_node("Where", ["both", "x", "t"], ["w"]),
             helper.make_node("Mul", ["x", "x"], ["x2"]),
             helper.make_node("Cast", ["x2"], ["xi"], to=onnx.TensorProto.INT64),
             helper.make_node("Add", ["xi", "off"], ["xi3"]),
             helper.make_node("ArgMax", ["x"], ["am"], axis=1, keepdims=0)]
    return make_model(nodes, feeds, ["g", "both", "w", "xi3", "am"], inits, opset=17), feeds


# Family -> cases. The acceptance models are attention, sparse conv, scans, MatMul+Softmax.
CASES: dict[str, Callable[[], Case]] = {
    "attention_causal_gqa": lambda: attention_model(64, 96, True, q_heads=4, kv_heads=2, d=32),
    "attention_d64": lambda: attention_model(40, 70, False, q_heads=2, kv_heads=2, d=64),
    "attention_decode": lambda: attention_model(1, 200, False, q_heads=8, kv_heads=2, d=64),
    # A few causal rows: row tiles spanning two query heads of a K/V head, KV splits.
    "attention_causal_short": lambda: attention_model(3, 100, True, q_heads=8, kv_heads=2, d=32),
    "sparse_conv_3x3_4x1": lambda: conv_case(16, 32, 12, 3, 0.8, "4x1"),
    "sparse_conv_1x1": lambda: conv_case(64, 64, 14, 1, 0.9, "u"),
    "dense_conv_3x3": lambda: conv_case(16, 16, 9, 3, 0.0, ""),
    "depthwise_conv_s2": strided_group_conv,
    "cumsum": lambda: cumsum(128, 96),
    "cumsum_last_axis": cumsum_last_axis,
    "scan_linear": lambda: scan_linear("matmul", length=24, d=32, n=16),
    "scan_mamba": lambda: scan_mamba("rs", length=24, d=32, n=16),
    "linear_attention_gated_delta": lambda: linear_attention("gated_delta", t=24, heads=2, dk=32),
    "linear_attention_linear": lambda: linear_attention("linear", t=24, heads=2, dk=16),
    "causal_conv": lambda: causal_conv(48, 4, 40),
    "matmul_softmax": lambda: matmul_softmax(64, 96, 80),
    "batched_matmul": batched_matmul,
    "reduce_max": reduction,
    "layer_norm": layer_norm,
    "elementwise": elementwise,
    "int64_bool": int64_bool,
}

# The GPU template each family's main kernel must get (so a silent fallback fails the test).
EXPECTED_TEMPLATE = {
    "attention": "gpu_attention", "sparse_conv": "gpu_conv", "dense_conv": "gpu_conv",
    "depthwise_conv": "gpu_conv", "cumsum": "gpu_cumsum", "scan_linear": "gpu_linear_scan",
    "scan_mamba": "gpu_selective_scan", "linear_attention": "gpu_linear_attention",
    "causal_conv": "gpu_causal_conv", "matmul_softmax": "gpu_matmul",
    "batched_matmul": "gpu_matmul", "elementwise": "gpu_elementwise",
}


def expected_template(case: str) -> str | None:
    return next((t for prefix, t in EXPECTED_TEMPLATE.items() if case.startswith(prefix)), None)
