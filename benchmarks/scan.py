"""Issue 5's benchmark rows: onnxjit vs onnxruntime side by side (fp32, one process, 1 thread).

Builds each model with onnx.helper (seeded inputs), runs runtime/compare.py's interleaved timing
and prints a table with the command that reproduces it:

    python -m benchmarks.scan [--rows scan_linear_matmul,cumsum,...] [--repeats 9] [--threads 1]
                              [--clock wall|cpu]

The Scan bodies are spelled as exporters spell them (shared/reference/baselines/make_models.py):
Sigmoid -> Scan(Mul, Unsqueeze, Mul, Add, MatMul | Mul+ReduceSum) and the Mamba-1 S6 step.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
Model = tuple[onnx.ModelProto, dict[str, np.ndarray]]


def _vi(name: str, shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, F, shape)


def _model(nodes: list[onnx.NodeProto], inputs: dict[str, np.ndarray], outputs: list[str],
           opset: int = 21, inits: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "bench", [_vi(k, list(v.shape)) for k, v in inputs.items()],
                          [helper.make_tensor_value_info(o, F, None) for o in outputs],
                          [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m


def _readout(readout: str, h: str, c: str, out: str) -> list[onnx.NodeProto]:
    if readout == "matmul":
        return [helper.make_node("MatMul", [h, c], [out])]
    return [helper.make_node("Mul", [h, c], ["hc"]),
            helper.make_node("ReduceSum", ["hc", "ax1"], [out], keepdims=0)]


def scan_linear(readout: str, length: int = 1024, d: int = 1024, n: int = 16) -> Model:
    body = helper.make_graph(
        [helper.make_node("Mul", ["a_t", "h_in"], ["ah"]),
         helper.make_node("Unsqueeze", ["x_t", "ax1"], ["xu"]),
         helper.make_node("Mul", ["b_t", "xu"], ["bx"]),
         helper.make_node("Add", ["ah", "bx"], ["h_out"]),
         *_readout(readout, "h_out", "c_t", "y_t")], "body",
        [_vi("h_in", [d, n]), _vi("a_t", [d, n]), _vi("b_t", [d, n]), _vi("x_t", [d]),
         _vi("c_t", [n])], [_vi("h_out", [d, n]), _vi("y_t", [d])],
        [numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1")])
    rng = np.random.default_rng(0)
    feeds = {"araw": rng.standard_normal((length, d, n), dtype=np.float32) + 2.0,
             "b": rng.standard_normal((length, d, n), dtype=np.float32),
             "x": rng.standard_normal((length, d), dtype=np.float32),
             "c": rng.standard_normal((length, n), dtype=np.float32),
             "h0": np.zeros((d, n), np.float32)}
    nodes = [helper.make_node("Sigmoid", ["araw"], ["a"]),
             helper.make_node("Scan", ["h0", "a", "b", "x", "c"], ["hT", "y"],
                              num_scan_inputs=4, body=body)]
    return _model(nodes, feeds, ["hT", "y"]), feeds


def scan_mamba(readout: str, length: int = 1024, d: int = 1024, n: int = 16) -> Model:
    body = helper.make_graph(
        [helper.make_node("Unsqueeze", ["dt", "ax1"], ["dtu"]),
         helper.make_node("Mul", ["dtu", "A"], ["dA_log"]),
         helper.make_node("Exp", ["dA_log"], ["dA"]),
         helper.make_node("Mul", ["dt", "xt"], ["dx"]),
         helper.make_node("Unsqueeze", ["dx", "ax1"], ["dxu"]),
         helper.make_node("Mul", ["dxu", "Bt"], ["bx"]),
         helper.make_node("Mul", ["dA", "h_in"], ["ah"]),
         helper.make_node("Add", ["ah", "bx"], ["h_out"]),
         *_readout(readout, "h_out", "Ct", "yh"),
         helper.make_node("Mul", ["Dskip", "xt"], ["skip"]),
         helper.make_node("Add", ["yh", "skip"], ["y_t"])], "mamba_body",
        [_vi("h_in", [d, n]), _vi("dt", [d]), _vi("xt", [d]), _vi("Bt", [n]), _vi("Ct", [n])],
        [_vi("h_out", [d, n]), _vi("y_t", [d])],
        [numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1")])
    rng = np.random.default_rng(0)
    feeds = {"delta": (0.01 + 0.1 * rng.random((length, d))).astype(np.float32),
             "x": rng.standard_normal((length, d), dtype=np.float32),
             "B": rng.standard_normal((length, n), dtype=np.float32),
             "C": rng.standard_normal((length, n), dtype=np.float32),
             "A": -np.tile(np.arange(1, n + 1, dtype=np.float32), (d, 1)),
             "Dskip": rng.standard_normal((d,), dtype=np.float32),
             "h0": np.zeros((d, n), np.float32)}
    scan = helper.make_node("Scan", ["h0", "delta", "x", "B", "C"], ["hT", "y"],
                            num_scan_inputs=4, body=body)
    return _model([scan], feeds, ["hT", "y"]), feeds


def cumsum(rows: int = 4096, cols: int = 1024) -> Model:
    feeds = {"x": np.random.default_rng(0).standard_normal((rows, cols), dtype=np.float32)}
    node = helper.make_node("CumSum", ["x", "axis"], ["y"])
    return _model([node], feeds, ["y"], inits={"axis": np.array(0, np.int64)}), feeds


def linear_attention(rule: str, t: int = 2048, heads: int = 8, dk: int = 64) -> Model:
    rng = np.random.default_rng(0)
    k = rng.standard_normal((1, t, heads, dk)).astype(np.float32)
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    feeds = {"q": rng.standard_normal((1, t, heads * dk), dtype=np.float32),
             "k": k.reshape(1, t, heads * dk),
             "v": rng.standard_normal((1, t, heads * dk), dtype=np.float32),
             "past": (0.1 * rng.standard_normal((1, heads, dk, dk))).astype(np.float32)}
    inputs = ["q", "k", "v", "past", "", ""]
    if rule in ("gated", "gated_delta"):
        feeds["decay"] = np.log(rng.uniform(0.9, 0.999, (1, t, heads))).astype(np.float32)
        inputs[4] = "decay"
    if rule in ("delta", "gated_delta"):
        feeds["beta"] = rng.uniform(0.1, 0.9, (1, t, heads)).astype(np.float32)
        inputs[5] = "beta"
    while inputs[-1] == "":
        inputs.pop()
    node = helper.make_node("LinearAttention", inputs, ["o", "state"], q_num_heads=heads,
                            kv_num_heads=heads, update_rule=rule, scale=1.0 / np.sqrt(dk))
    return _model([node], feeds, ["o", "state"], opset=27), feeds


def causal_conv(channels: int = 2048, k: int = 4, t: int = 1024) -> Model:
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((1, channels, t), dtype=np.float32),
             "w": (0.5 * rng.standard_normal((channels, 1, k))).astype(np.float32),
             "bias": rng.standard_normal((channels,), dtype=np.float32),
             "past": rng.standard_normal((1, channels, k - 1), dtype=np.float32)}
    node = helper.make_node("CausalConvWithState", ["x", "w", "bias", "past"], ["y", "state"],
                            activation="silu")
    return _model([node], feeds, ["y", "state"], opset=27), feeds


ROWS: dict[str, tuple[str, Callable[[], Model]]] = {
    "scan_linear_matmul": ("Scan linear D1024 N16 L1024, MatMul readout", lambda: scan_linear("matmul")),
    "scan_linear_rs": ("Scan linear, Mul+ReduceSum readout", lambda: scan_linear("rs")),
    "scan_mamba_matmul": ("Scan Mamba-1 D1024 N16 L1024, MatMul readout", lambda: scan_mamba("matmul")),
    "scan_mamba_rs": ("Scan Mamba-1, Mul+ReduceSum readout", lambda: scan_mamba("rs")),
    "cumsum": ("CumSum 4096x1024 axis 0", cumsum),
    "causal_conv": ("CausalConvWithState C2048 k4 T1024 SiLU", causal_conv),
    **{f"la_{r}": (f"LinearAttention {r} H8 d64 T2048", lambda r=r: linear_attention(r))
       for r in ("linear", "gated", "delta", "gated_delta")},
    "la_decode": ("LinearAttention gated_delta T=1 decode", lambda: linear_attention("gated_delta", t=1)),
}


def _cpu_clock_row(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                   repeats: int) -> tuple[float, float, float]:
    """(onnxjit ms, onnxruntime ms, rel_err) by the calling thread's CPU time: both runtimes run
    one thread in the caller, so time the scheduler gives other jobs is not counted. Interleaved
    rounds; a round's sample is the fastest call of a ~0.1 s block; the median sample counts."""
    import time

    import onnxruntime as ort

    from onnxjit.runtime.compare import output_error
    from onnxjit.runtime.session import InferenceSession

    session = InferenceSession(model, threads=1)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    theirs = ort.InferenceSession(model.SerializeToString(), options,
                                  providers=["CPUExecutionProvider"])
    _, rel = output_error(session.get_outputs(), session.run(None, feeds),
                          theirs.run(None, feeds))
    calls = {"onnxjit": lambda: session.run(None, feeds), "ort": lambda: theirs.run(None, feeds)}
    samples: dict[str, list[float]] = {k: [] for k in calls}
    for round_ in range(repeats):
        for name in list(calls)[round_ % 2:] + list(calls)[:round_ % 2]:
            calls[name]()
            start, best, count = time.thread_time(), float("inf"), 0
            while count < 3 or time.thread_time() - start < 0.1:
                t0 = time.thread_time()
                calls[name]()
                best, count = min(best, time.thread_time() - t0), count + 1
            samples[name].append(best)
    jit, ref = (1e3 * float(np.median(samples[k])) for k in ("onnxjit", "ort"))
    return jit, ref, rel


def main(argv: list[str] | None = None) -> int:
    from onnxjit.runtime.compare import compare_with_onnxruntime

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: thread CPU time, fastest call of each block (1 thread only; "
                         "for a box shared with other jobs)")
    args = ap.parse_args(argv)
    if args.clock == "cpu" and args.threads != 1:
        ap.error("--clock cpu times the calling thread: use --threads 1")
    load = os.getloadavg()[0]
    print(f"| row | onnxjit ms | onnxruntime ms | speedup | rel_err |  (1-min load {load:.1f})")
    print("|---|---|---|---|---|")
    for key in args.rows.split(","):
        title, build = ROWS[key]
        model, feeds = build()
        try:
            if args.clock == "cpu":
                jit_ms, ort_ms, rel = _cpu_clock_row(model, feeds, args.repeats)
            else:
                r = compare_with_onnxruntime(model, threads=args.threads, repeats=args.repeats,
                                             feeds=feeds)
                jit_ms, ort_ms, rel = r.onnxjit_ms, r.onnxruntime_ms, r.rel_err
        except Exception as exc:  # noqa: BLE001  (a row that cannot run is reported, not fatal)
            print(f"| {title} | failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]} |")
            continue
        print(f"| {title} | {jit_ms:.3f} | {ort_ms:.3f} | {ort_ms / jit_ms:.2f}x | {rel:.1e} |",
              flush=True)
    print(f"\nreproduce: python -m benchmarks.scan --rows {args.rows} --repeats {args.repeats} "
          f"--threads {args.threads} --clock {args.clock}   (load after: {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
