"""`onnxjit bench --profile` and `onnxjit info`'s memory plan (runtime/profile.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxjit.cli import main
from onnxjit.runtime.profile import KernelTime, Profile, aggregate_ort_events, format_profile

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> str:
    """x -> MatMul -> Add -> Relu -> MatMul: two kernels; intermediates can share bytes."""
    w1 = (RNG.standard_normal((32, 64)) * 0.1).astype(np.float32)
    w2 = (RNG.standard_normal((64, 32)) * 0.1).astype(np.float32)
    b = RNG.standard_normal(64).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
         helper.make_node("Add", ["h", "b"], ["hb"], name="bias"),
         helper.make_node("Relu", ["hb"], ["r"], name="relu"),
         helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 32])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
         numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    path = tmp_path_factory.mktemp("profile") / "mlp.onnx"
    onnx.save(model, path)
    return str(path)


def test_ort_events_aggregate_per_node_and_run() -> None:
    events = [
        {"cat": "Node", "name": "fc1_kernel_time", "ts": 0, "dur": 30,
         "args": {"op_name": "MatMul"}},
        {"cat": "Node", "name": "fc1_kernel_time", "ts": 100, "dur": 10,
         "args": {"op_name": "MatMul"}},
        {"cat": "Node", "name": "fc1_fence_before", "ts": 31, "dur": 99, "args": {}},
        {"cat": "Session", "name": "model_run", "ts": 0, "dur": 500},
        # A Scan and two of its body's nodes (logged first, inside the Scan's interval).
        {"cat": "Node", "name": "body_mul_kernel_time", "ts": 42, "dur": 3,
         "args": {"op_name": "Mul"}},
        {"cat": "Node", "name": "body_mul_kernel_time", "ts": 46, "dur": 3,
         "args": {"op_name": "Mul"}},
        {"cat": "Node", "name": "scan_kernel_time", "ts": 40, "dur": 12,
         "args": {"op_name": "Scan"}},
        {"cat": "Node", "name": "relu_kernel_time", "ts": 60, "dur": 4,
         "args": {"op_name": "Relu"}},
    ]
    rows = aggregate_ort_events(events, runs=2)
    assert [(r.name, r.ops) for r in rows] == [("fc1", "MatMul"), ("scan", "Scan"),
                                               ("relu", "Relu")]
    # Medians per run: fc1 ran 30 then 10 us (median 20), the Scan 12 us once over 2 runs.
    assert rows[0].ms == pytest.approx(0.020) and rows[1].ms == pytest.approx(0.012)


def test_matched_time_needs_every_node() -> None:
    theirs = (KernelTime("fc1", "MatMul", 0.5, ("fc1",)), KernelTime("bias", "Add", 0.1, ("bias",)))
    both = KernelTime("k0", "MatMul+Add", 0.3, ("fc1", "bias"))
    partial = KernelTime("k1", "MatMul+Relu", 0.3, ("fc1", "fused_away"))
    profile = Profile((both, partial), theirs, runs=1)
    assert profile.matched_ms(both) == pytest.approx(0.6)
    assert profile.matched_ms(partial) is None
    table = format_profile(profile)
    assert "k0" in table and "fc1" in table and "0.600" in table and "total (2 kernels)" in table


def test_bench_profile_table_and_json(mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", mlp, "--threads", "1", "--repeats", "1", "--profile",
                 "--profile-runs", "3", "--dim", "batch=8"]) == 0
    out = capsys.readouterr().out
    assert "onnxjit kernel" in out and "onnxruntime node" in out
    assert "MatMul+Add+Relu" in out and "fc2" in out
    assert main(["bench", mlp, "--threads", "1", "--repeats", "1", "--profile", "--json",
                 "--profile-runs", "2", "--dim", "batch=8"]) == 0
    data = json.loads(capsys.readouterr().out)
    kernels = data["profile"]["onnxjit"]
    assert len(kernels) == 2 and all(k["ms"] > 0 for k in kernels)
    assert {n["name"] for n in data["profile"]["onnxruntime"]} >= {"fc2"}


def test_info_reports_the_arena_peak(mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", mlp, "--dim", "batch=4"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("memory plan"))
    assert "x=[4, 32]" in line and "arena peak" in line and "2 kernels" in line


def test_info_no_plan_skips_compiling(mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", mlp, "--no-plan"]) == 0
    assert "memory plan" not in capsys.readouterr().out


def test_arena_reuses_buffers(tmp_path: Path) -> None:
    # A chain of 6 same-sized intermediates needs only 2 live at a time (plus in/out).
    from onnxjit.runtime.profile import memory_summary
    from onnxjit.runtime.session import InferenceSession

    x = np.zeros((64, 64), np.float32)
    nodes = [helper.make_node("Transpose", [f"v{i}"], [f"v{i + 1}"]) for i in range(6)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("v0", 1, [64, 64])],
                              [helper.make_tensor_value_info("v6", 1, [64, 64])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    compiled = InferenceSession(model.SerializeToString(), threads=1).compiled({"v0": x})
    mem = memory_summary(compiled.plan, compiled.constants)
    assert mem.unshared_bytes == 7 * x.nbytes
    assert mem.arena_bytes <= 4 * x.nbytes
