"""The `onnxjit` command: info, run and bench, their outputs and exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxjit.cli import main

RNG = np.random.default_rng(0)
W = (RNG.standard_normal((16, 8)) * 0.1).astype(np.float32)
B = RNG.standard_normal(8).astype(np.float32)
BENCH_KEYS = {"onnxjit_ms", "onnxruntime_ms", "speedup", "max_abs_err", "rel_err", "threads",
              "target", "clock"}


def save(model: onnx.ModelProto, path: Path) -> str:
    model.ir_version = 10
    onnx.save(model, path)
    return str(path)


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> str:
    """y = x @ w + b with x: float32 [batch, 16]."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(W, "w"), numpy_helper.from_array(B, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    return save(model, tmp_path_factory.mktemp("cli") / "mlp.onnx")


@pytest.fixture(scope="module")
def unsupported(tmp_path_factory: pytest.TempPathFactory) -> str:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"], name="mm"),
         helper.make_node("Det", ["xw"], ["d1"], name="det_a"),
         helper.make_node("Fancy", ["xw"], ["f"], name="fancy_b", domain="com.example")],
        "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 16])],
        [helper.make_tensor_value_info("d1", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("f", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(W[:, :8], "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                    helper.make_opsetid("com.example", 2)])
    return save(model, tmp_path_factory.mktemp("cli") / "bad.onnx")


def test_info_lists_inputs_outputs_and_ops(mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", mlp]) == 0
    out = capsys.readouterr().out
    assert "x" in out and "float32" in out and "[batch, 16]" in out
    assert "[batch, 8]" in out
    lines = {line.split()[1]: line.split() for line in out.splitlines()
             if line.startswith("  ai.onnx")}
    assert lines["MatMul"][2:] == ["21", "1", "yes"]
    assert lines["Add"][2:] == ["21", "1", "yes"]
    assert "all ops supported" in out


def test_info_lists_every_unsupported_node_and_exits_1(
        unsupported: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", unsupported]) == 1
    out = capsys.readouterr().out
    assert "unsupported: 2 node(s)" in out
    assert "Det (domain ai.onnx, opset 21), node 'det_a'" in out
    assert "Fancy (domain com.example, opset 2), node 'fancy_b'" in out
    rows = {line.split()[1]: line.split()[-1] for line in out.splitlines()
            if line.startswith(("  ai.onnx", "  com.example"))}
    assert rows == {"MatMul": "yes", "Det": "NO", "Fancy": "NO"}


def test_run_prints_a_summary_and_saves_outputs(
        mlp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "out.npz"
    assert main(["run", mlp, "--threads", "1", "--dim", "batch=3", "--seed", "7",
                 "--output", str(out_file)]) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.startswith("y "))
    assert row[1:4] == ["[3,", "8]", "float32"]
    with np.load(out_file) as saved:
        y = saved["y"]
    x = np.random.default_rng(7).standard_normal((3, 16)).astype(np.float32)
    np.testing.assert_allclose(y, x @ W + B, rtol=1e-5, atol=1e-5)
    assert [float(v) for v in row[4:7]] == pytest.approx([y.min(), y.max(), y.mean()], rel=1e-4)


def test_run_reads_inputs_from_npz(
        mlp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.arange(2 * 16, dtype=np.float32).reshape(2, 16)
    np.savez(tmp_path / "in.npz", x=x)
    assert main(["run", mlp, "--threads", "1", "--inputs", str(tmp_path / "in.npz"),
                 "--output", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as saved:
        np.testing.assert_allclose(saved["y"], x @ W + B, rtol=1e-5, atol=1e-4)
    assert "[2, 8]" in capsys.readouterr().out


def test_bench_json(mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", mlp, "--threads", "1", "--repeats", "3", "--dim", "batch=4",
                 "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # the whole of stdout is one JSON object
    assert set(result) == BENCH_KEYS
    assert result["threads"] == 1 and result["target"] == "cpu"
    assert result["onnxjit_ms"] > 0 and result["onnxruntime_ms"] > 0
    # the median of the rounds' ratios (runtime/compare.py), not the ratio of the median times
    assert result["speedup"] > 0 and result["onnxruntime_ms"] > 0
    assert result["rel_err"] < 1e-5
    assert result["max_abs_err"] < 1e-4
    assert "compiling" in captured.err


def test_bench_text(mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", mlp, "--threads", "1", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for key in ("onnxjit", "onnxruntime", "speedup", "max_abs_err", "rel_err"):
        assert key in out


def test_bench_thread_clock(mlp: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", mlp, "--threads", "1", "--repeats", "2", "--clock", "thread",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clock"] == "thread" and result["onnxjit_ms"] > 0
    # the median of the rounds' ratios (runtime/compare.py), not the ratio of the median times
    assert result["speedup"] > 0 and result["onnxruntime_ms"] > 0


def test_bench_thread_clock_refuses_several_threads(mlp: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", mlp, "--threads", "2", "--repeats", "1", "--clock", "thread"]) != 0
    assert "thread clock" in capsys.readouterr().err


def test_bench_json_stdout_is_only_json_in_a_real_process(mlp: str) -> None:
    # capsys cannot see writes made below Python (TVM, LLVM); a subprocess sees every byte.
    proc = subprocess.run(
        [sys.executable, "-m", "onnxjit", "bench", mlp, "--threads", "1", "--repeats", "1",
         "--json"], check=False, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) == BENCH_KEYS


@pytest.mark.parametrize("argv, message", [
    (["run", "{missing}"], "cannot read model"),
    (["info", "{garbage}"], "not a valid ONNX file"),
    (["run", "{mlp}", "--dim", "batch"], "NAME=SIZE"),
    (["run", "{mlp}", "--dim", "btach=2"], "no input has a dimension of that name"),
    (["run", "{unsupported}"], "2 unsupported node(s)"),
    (["run", "{mlp}", "--inputs", "{garbage}"], "cannot read inputs"),
    (["bench", "{unsupported}", "--json"], "2 unsupported node(s)"),
], ids=["missing", "garbage", "dim-syntax", "dim-typo", "unsupported", "bad-npz",
        "bench-unsupported"])
def test_errors_exit_2_with_one_message(
        argv: list[str], message: str, mlp: str, unsupported: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\x01 not a model")
    paths = {"mlp": mlp, "unsupported": unsupported, "garbage": str(garbage),
             "missing": str(tmp_path / "missing.onnx")}
    assert main([a.format(**paths) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("onnxjit: error: ") == 1  # after any progress lines
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_usage_errors_exit_2(mlp: str) -> None:
    for argv in (["bench", mlp, "--threads", "0"], ["run", mlp, "--target", "nope"], ["frob"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert main([]) == 2


def test_tune_writes_records_table_and_report(mlp: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "records.jsonl"
    code = main(["tune", mlp, "--budget", "3", "--threads", "1", "--records", str(records),
                 "--report", str(tmp_path / "report")])
    out, err = capsys.readouterr()
    assert code == 0
    assert "| kernels | template |" in out and "speedup" in out
    assert "distinct workload" in err and "[" in err            # the per-kernel progress bars
    lines = records.read_text().splitlines()
    assert lines and all(json.loads(line)["workload"] for line in lines)
    assert (tmp_path / "report" / "tuning.png").exists()
    assert (tmp_path / "report" / "speedups.md").read_text().startswith("| kernels")
    # A second run finds every workload in the records and measures nothing.
    assert main(["tune", mlp, "--budget", "3", "--threads", "1", "--records", str(records)]) == 0
    assert len(records.read_text().splitlines()) == len(lines)


def test_bench_tune_json(mlp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "records.jsonl"
    code = main(["bench", mlp, "--threads", "1", "--repeats", "2", "--json", "--tune", "2",
                 "--records", str(records)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["rel_err"] < 1e-4
    assert records.exists() and records.read_text().strip()
