"""Models the wasm tests run, small versions of the benchmark models (same builders), and checks.

Each case: an ONNX model with its feeds. Outputs are compared with onnxruntime (native CPU) by
rel_err = max |ours - theirs| / max |theirs|, per output, which must stay <= 1e-4.
"""
from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Sequence

import numpy as np
import onnx
import pytest
from onnx import helper

from benchmarks.attention import attention_model
from benchmarks.conv import single_conv
from benchmarks.scan import causal_conv, cumsum, scan_linear, scan_mamba
from benchmarks.wasm_vs_ortweb import matmul_softmax
from tests.helpers import make_model, run_onnxruntime

Case = tuple[onnx.ModelProto, dict[str, np.ndarray]]
REL_TOL = 1e-4


def sparse_conv() -> Case:
    """A 1x1 convolution with 90% of its weights pruned (the sparse-conv benchmark's kind)."""
    feeds = {"X": np.random.default_rng(1).standard_normal((1, 64, 14, 14), dtype=np.float32)}
    return single_conv(64, 64, 14, 1, 0.9, "u"), feeds


def winograd_conv() -> Case:
    """A dense 3x3 'same' conv large enough for Winograd F(2x2, 3x3) (its vector shuffles)."""
    feeds = {"X": np.random.default_rng(2).standard_normal((1, 32, 14, 13), dtype=np.float32)}
    model = single_conv(32, 32, 14, 3, 0.0, "")
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 13
    return model, feeds


def mixed_dtypes() -> Case:
    """Reshape (a plan alias), bool/int64 outputs, a 0-d input, Identity, a folded Shape."""
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Greater", ["r", "s"], ["g"]),
             helper.make_node("Cast", ["r"], ["i"], to=onnx.TensorProto.INT64),
             helper.make_node("Mul", ["x", "s"], ["m"]),
             helper.make_node("Identity", ["x"], ["same"]),
             helper.make_node("Shape", ["x"], ["shp"])]
    feeds = {"x": x, "s": np.array(0.5, np.float32)}
    model = make_model(nodes, feeds, ["r", "g", "i", "m", "same", "shp"],
                       initializers={"shape": np.array([6, 4], np.int64)})
    return model, feeds


CASES: dict[str, Callable[[], Case]] = {
    "matmul_softmax": lambda: matmul_softmax(128, 128, 128),
    "attention_causal": lambda: attention_model(64, 96, True, q_heads=4, kv_heads=2, d=32),
    "sparse_conv_1x1": sparse_conv,
    "winograd_conv_3x3": winograd_conv,
    "cumsum": lambda: cumsum(128, 96),
    "scan_linear": lambda: scan_linear("matmul", length=24, d=32, n=16),
    "scan_mamba": lambda: scan_mamba("rs", length=24, d=32, n=16),
    "causal_conv_silu": lambda: causal_conv(32, 4, 48),
    "mixed_dtypes": mixed_dtypes,
}


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    want64 = np.asarray(want, dtype=np.float64)
    scale = max(float(np.abs(want64).max(initial=0.0)), 1e-30)
    return float(np.abs(np.asarray(got, dtype=np.float64) - want64).max(initial=0.0)) / scale


def assert_close_to_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                                outputs: Sequence[np.ndarray], where: str) -> None:
    expected = run_onnxruntime(model, feeds)
    assert len(outputs) == len(expected)
    for i, (got, want) in enumerate(zip(outputs, expected)):
        assert got.shape == np.asarray(want).shape, f"{where} output {i}"
        err = rel_err(got, want)
        assert err <= REL_TOL, f"{where} output {i}: rel_err {err:.3g} > {REL_TOL}"


def require_wasm_toolchain() -> None:
    for module in ("wasmtime", "ziglang"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the wasm target needs the {module} package (pip install {module})")


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return path
