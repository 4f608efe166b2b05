"""Issue 8's GPU rows: onnxjit's cuda target vs onnxruntime's CUDAExecutionProvider, side by side.

Each row: one benchmark model (the builders of benchmarks/attention.py, conv.py, scan.py and a
MatMul+Softmax), both runtimes fed the same host arrays and returning host arrays (so both pay
the same copies), warmed up, then timed in interleaved rounds; the figure is the median per-call
time. Where onnxruntime has no CUDAExecutionProvider (the CPU wheel) it falls back to the CPU and
each row says so: that is then a GPU-vs-CPU figure, not a like-for-like one; PyTorch on the GPU
(benchmarks/gpu_torch_baseline.py), where installed, is timed beside them for the rows it has.
Outputs are checked against onnxruntime (rel_err). Run on a machine with a CUDA GPU:

    python -m benchmarks.gpu_bench [--rows attention_nc2048,...] [--rounds 15] [--json out.json]

(benchmarks/gpu_check.sh installs what it needs and runs it.)
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from benchmarks import attention, conv, scan
from benchmarks.gpu_torch_baseline import torch_contender

Model = tuple[onnx.ModelProto, dict[str, np.ndarray]]


def matmul_softmax(n: int = 2048) -> Model:
    rng = np.random.default_rng(0)
    feeds = {"a": (0.05 * rng.standard_normal((n, n))).astype(np.float32),
             "b": (0.05 * rng.standard_normal((n, n))).astype(np.float32)}
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"]),
         helper.make_node("Softmax", ["c"], ["y"], axis=-1)], "matmul_softmax",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in feeds.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, feeds


def _conv(c: int, m: int, hw: int, k: int, zeros: float, pattern: str) -> Model:
    feeds = {"X": np.random.default_rng(1).standard_normal((1, c, hw, hw), dtype=np.float32)}
    return conv.single_conv(c, m, hw, k, zeros, pattern), feeds


ROWS: dict[str, tuple[str, Callable[[], Model]]] = {
    "attention_nc2048": ("attention non-causal S=2048 H8 d64", lambda: attention.attention_model(2048, 2048, False)),
    "attention_c2048": ("attention causal S=2048 H8 d64", lambda: attention.attention_model(2048, 2048, True)),
    "attention_decode": ("attention decode KV 4096 GQA 32/8", lambda: attention.attention_model(1, 4096, False, 32, 8)),
    "sparse_conv_1x1": ("conv 1x1 C256 56x56, 90% pruned", lambda: _conv(256, 256, 56, 1, 0.9, "u")),
    "sparse_conv_3x3": ("conv 3x3 C128 28x28, 80% pruned 4x1", lambda: _conv(128, 128, 28, 3, 0.8, "4x1")),
    "dense_conv_3x3": ("conv 3x3 C128 28x28 dense", lambda: _conv(128, 128, 28, 3, 0.0, "")),
    "cumsum": ("CumSum 4096x1024 axis 0", scan.cumsum),
    "scan_linear": ("Scan linear D1024 N16 L1024", lambda: scan.scan_linear("matmul")),
    "scan_mamba": ("Scan Mamba-1 D1024 N16 L1024", lambda: scan.scan_mamba("matmul")),
    "la_gated_delta": ("LinearAttention gated_delta H8 d64 T2048", lambda: scan.linear_attention("gated_delta")),
    "causal_conv": ("CausalConvWithState C2048 k4 T1024", scan.causal_conv),
    "matmul_softmax": ("MatMul 2048^3 + Softmax", matmul_softmax),
}


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    want64 = np.asarray(want, np.float64)
    scale = max(float(np.abs(want64).max(initial=0.0)), 1e-30)
    return float(np.abs(np.asarray(got, np.float64) - want64).max(initial=0.0)) / scale


def _timed(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def _device_ms(executor: Any, torch_row: Any, feeds: dict[str, np.ndarray],
               rounds: int) -> tuple[float, float]:
    """Median ms per run with the data already on the device (kernels alone), for onnxjit and
    PyTorch (nan without it), interleaved like the host rounds."""
    ours: list[float] = []
    theirs: list[float] = []
    uploaded = torch_row.upload(feeds) if torch_row is not None else ()
    for _ in range(rounds):
        ours.append(executor.time_on_device(5))
        if torch_row is not None:
            torch_row.synchronize()
            start = time.perf_counter()
            for _ in range(5):
                torch_row.compute(*uploaded)
            torch_row.synchronize()
            theirs.append((time.perf_counter() - start) / 5)
    return (float(np.median(ours)) * 1e3,
            float(np.median(theirs)) * 1e3 if theirs else float("nan"))


def run_row(key: str, rounds: int) -> dict[str, object]:
    import onnxruntime as ort

    from onnxjit.runtime.session import InferenceSession

    label, build = ROWS[key]
    model, feeds = build()
    start = time.perf_counter()
    ours = InferenceSession(model, target="cuda")
    compile_s = time.perf_counter() - start
    got = ours.run(None, feeds)
    contenders = {"onnxjit": lambda: ours.run(None, feeds)}
    try:
        theirs = ort.InferenceSession(model.SerializeToString(),
                                      providers=[p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                                                 if p in ort.get_available_providers()])
    except Exception as exc:  # noqa: BLE001  (an onnxruntime too old for the opset: 1.30 and 27)
        if "opset" not in str(exc).lower():
            raise
        from onnx.reference import ReferenceEvaluator
        want, providers = ReferenceEvaluator(model).run(None, feeds), ["none (too old for the opset)"]
    else:
        want, providers = theirs.run(None, feeds), theirs.get_providers()
        contenders["onnxruntime"] = lambda: theirs.run(None, feeds)
    err = max(rel_err(g, w) for g, w in zip(got, want))
    torch_call, err_torch = torch_contender(key, model), None
    if torch_call is not None:
        try:
            err_torch = max(rel_err(t, w) for t, w in zip(torch_call(feeds), want))
            contenders["torch"] = lambda: torch_call(feeds)
        except Exception as exc:  # noqa: BLE001  (the extra baseline must not lose our row)
            print(f"{key}: torch baseline failed: {type(exc).__name__}: {exc}"[:300])
    for call in contenders.values():
        for _ in range(3):
            call()
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    for r in range(rounds):
        for name in (list(contenders) if r % 2 == 0 else list(reversed(list(contenders)))):
            samples[name].append(_timed(contenders[name], 3))
    med = {k: float(np.median(v)) * 1e3 for k, v in samples.items()}
    device = _device_ms(ours.executor(feeds), torch_call if "torch" in contenders else None,
                        feeds, rounds)
    ort_ms = med.get("onnxruntime", float("nan"))
    return {"row": key, "model": label, "onnxjit_ms": med["onnxjit"], "onnxruntime_ms": ort_ms,
            "speedup": ort_ms / med["onnxjit"], "rel_err": err,
            "torch_ms": med.get("torch"), "torch_rel_err": err_torch,
            "onnxjit_device_ms": device[0], "torch_device_ms": device[1],
            "compile_s": compile_s, "providers": providers,
            "templates": sorted({t for t, _ in ours.compiled(feeds).choices.values()})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    results = []
    print("host arrays in and out (ms) | on the device alone (ms)")
    print(f"{'row':<20} {'onnxjit':>8} {'ort':>8} {'ratio':>6} {'torch':>8} | {'onnxjit':>8} "
          f"{'torch':>8} {'ratio':>6} {'rel_err':>8}  ort ran on")
    for key in args.rows.split(","):
        try:
            row = run_row(key, args.rounds)
        except Exception as exc:  # noqa: BLE001  (one failing row must not hide the others)
            row = {"row": key, "error": f"{type(exc).__name__}: {exc}"[:500]}
            print(f"{key:<20} FAILED {row['error']}")
        else:
            print(f"{key:<20} {row['onnxjit_ms']:>8.3f} {row['onnxruntime_ms']:>8.3f} "
                  f"{row['speedup']:>6.2f} {row['torch_ms'] or float('nan'):>8.3f} | "
                  f"{row['onnxjit_device_ms']:>8.3f} {row['torch_device_ms']:>8.3f} "
                  f"{row['torch_device_ms'] / row['onnxjit_device_ms']:>6.2f} "
                  f"{row['rel_err']:>8.1e}  {row['providers'][0]}")
        results.append(row)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
