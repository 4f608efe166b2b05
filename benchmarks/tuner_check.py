"""Issue 6's tuner checks on one mixed model (1 thread): budget, closeness to exhaustive, defaults.

The model holds one Attention, one 90%-sparse 1x1 conv, one linear-recurrence Scan and two MatMul
kernels (spelled as exporters spell them; see `mixed_model`). The script

1. runs `onnxjit tune MODEL --budget 30` as a user would (a fresh records file) and reports its
   wall time, its start-up (compiling the model with default schedules) and its search time;
2. searches every workload's whole space (no budget, a second records file), so each point is
   measured in the same run as the others;
3. prints per workload the default's, the 30-s pick's and the exhaustive best's times as the
   exhaustive run measured them, then rebuilt and timed head to head (alternating rounds): the
   goals are the pick within 10% of the best, the default within 1.5x of the best.

    python -m benchmarks.tuner_check [--budget 30] [--threads 1] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from benchmarks.attention import attention_model
from benchmarks.conv import single_conv
from benchmarks.scan import scan_linear

Model = tuple[onnx.ModelProto, dict[str, np.ndarray]]


def _two_matmuls(rows: int = 256, width: int = 512, hidden: int = 1024) -> Model:
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((width, hidden)) / np.sqrt(width)).astype(np.float32)
    w2 = (rng.standard_normal((hidden, width)) / np.sqrt(hidden)).astype(np.float32)
    b1 = rng.standard_normal(hidden).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["y"])]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, width])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
         numpy_helper.from_array(b1, "b1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    feeds = {"x": rng.standard_normal((rows, width), dtype=np.float32)}
    return model, feeds


def _conv() -> Model:
    model = single_conv(256, 256, 28, 1, 0.9, "unstructured")
    x = np.random.default_rng(5).standard_normal((1, 256, 28, 28), dtype=np.float32)
    return model, {"X": x}


def mixed_model() -> Model:
    """The four sub-models side by side in one graph (prefixed names), at opset 23."""
    parts = {"att_": attention_model(512, 512, False), "conv_": _conv(),
             "scan_": scan_linear("matmul", length=256, d=1024, n=16), "mlp_": _two_matmuls()}
    nodes, inputs, outputs, inits = [], [], [], []
    feeds: dict[str, np.ndarray] = {}
    for prefix, (model, part_feeds) in parts.items():
        model = compose.add_prefix(model, prefix)
        g = model.graph
        nodes += g.node
        inputs += g.input
        outputs += g.output
        inits += g.initializer
        feeds.update({prefix + k: v for k, v in part_feeds.items()})
    graph = helper.make_graph(nodes, "tuner_check", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    return model, feeds


def _tune_cli(model_path: str, records: str, budget: float, threads: int,
              inputs: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "onnxjit", "tune", model_path, "--budget", str(budget),
               "--records", records, "--threads", str(threads), "--inputs", inputs]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stderr + done.stdout


def _startup(model_path: str, feeds: dict[str, np.ndarray], threads: int) -> float:
    """What tuning starts with: compiling the model with default schedules (in a fresh process)."""
    code = ("import time, numpy as np, onnxjit; f = dict(np.load(%r)); t = time.perf_counter(); "
            "s = onnxjit.InferenceSession(%r, threads=%d); s.compiled(f); "
            "print(time.perf_counter() - t)")
    with tempfile.NamedTemporaryFile(suffix=".npz", delete=False) as f:
        np.savez(f, **feeds)
    try:
        out = subprocess.run([sys.executable, "-c", code % (f.name, model_path, threads)],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    return float(out.strip().splitlines()[-1])


def bound_kernel(kernel: Any, func: Any, arrays: list[np.ndarray], target: Any) -> Any:
    """`func` (a version of `kernel`) built for `target` and bound to `arrays`: call it to run."""
    from onnxjit.compiler.tvm_api import IRModule, as_tensor

    func = func.with_attr("global_symbol", kernel.name)
    function = target.build(IRModule({kernel.name: func}))[kernel.name]
    tensors = [as_tensor(a) for a in arrays]
    return lambda: function(*tensors)


def kernel_data(kernel: Any, compiled: Any) -> list[np.ndarray]:
    """Aligned arguments for `kernel`: the tuner's (real weights, seeded inputs, outputs)."""
    from onnxjit.compiler.pipeline import static_types
    from onnxjit.runtime.executor import aligned_copy
    from onnxjit.schedules.tuner import kernel_arguments

    types = static_types(compiled.graph)
    return [aligned_copy(a) for a in kernel_arguments(kernel, compiled.graph.constants, types, 0)]


def head_to_head(kernel: Any, points: list[dict[str, Any]], compiled: Any, target: Any,
                 rounds: int = 5) -> list[float]:
    """Seconds per call of each knob point, built here and timed alternately for `rounds` rounds
    (median of each point's fastest repeats): the exhaustive search's minimum over many noisy
    points is biased low, a head-to-head is not."""
    from onnxjit.schedules import schedule_kernel, select_template

    arrays = kernel_data(kernel, compiled)
    template = select_template(kernel, target)
    calls = [bound_kernel(kernel, schedule_kernel(kernel, target, template, knobs), arrays, target)
             for knobs in points]
    samples: list[list[float]] = [[] for _ in points]
    for _ in range(rounds):
        for i, call in enumerate(calls):
            samples[i].append(target.measure(call).fastest)
    return [sorted(s)[len(s) // 2] for s in samples]


def check(budget: float, threads: int) -> dict[str, Any]:
    from onnxjit.runtime.jit_tuning import tune_compiled
    from onnxjit.runtime.session import InferenceSession
    from onnxjit.schedules.base import knobs_key
    from onnxjit.schedules.records import RecordStore
    from onnxjit.schedules.tuner import TuneOptions

    model, feeds = mixed_model()
    with tempfile.TemporaryDirectory(prefix="onnxjit-tuner-check-") as tmp:
        path = os.path.join(tmp, "mixed.onnx")
        onnx.save(model, path)
        startup = _startup(path, feeds, threads)
        inputs = os.path.join(tmp, "inputs.npz")
        np.savez(inputs, **feeds)
        wall, log = _tune_cli(path, os.path.join(tmp, "budget.jsonl"), budget, threads, inputs)
        picked = RecordStore(os.path.join(tmp, "budget.jsonl"))
        session = InferenceSession(path, threads=threads, records=os.path.join(tmp, "all.jsonl"))
        compiled = session.compiled(feeds)
        full = tune_compiled(compiled, session.target, session.records,
                             TuneOptions(budget_s=float("inf"), retune=True), feeds=feeds)
        fingerprint = session.target.fingerprint_key()
        searched = max((t.elapsed for r in full for t in r.trials), default=0.0)
        rows = []
        for result in full:
            best = result.best
            pick = picked.best(result.workload, fingerprint)
            times = {knobs_key(t.knobs): t.seconds for t in result.trials}
            pick_s = times.get(knobs_key(pick.knobs), float("inf")) if pick else float("inf")
            kernel = next(k for k in compiled.kernels if k.name == result.kernels[0])
            pick_knobs = pick.knobs if pick else result.default_knobs
            best_knobs = best.knobs if best else result.default_knobs
            d_s, p_s, b_s = head_to_head(kernel, [result.default_knobs, pick_knobs, best_knobs],
                                         compiled, session.target)
            rows.append({"kernels": result.kernels, "template": result.template,
                         "h2h_default_ms": d_s * 1e3, "h2h_pick_ms": p_s * 1e3,
                         "h2h_best_ms": b_s * 1e3, "h2h_pick_over_best": p_s / b_s,
                         "h2h_default_over_best": d_s / b_s,
                         "space": result.space_size,
                         "failed": sum(bool(t.error) for t in result.trials),
                         "default_ms": result.default_seconds * 1e3,
                         "pick_ms": pick_s * 1e3, "best_ms": best.seconds * 1e3 if best else None,
                         "pick_over_best": pick_s / best.seconds if best else None,
                         "default_over_best": result.speedup})
    return {"budget_s": budget, "threads": threads, "tune_wall_s": wall, "startup_s": startup,
            "exhaustive_search_s": searched, "tune_log_tail": log.strip().splitlines()[-12:],
            "workloads": rows}


def _print(report: dict[str, Any]) -> None:
    print(f"`onnxjit tune --budget {report['budget_s']:g}`: {report['tune_wall_s']:.1f} s wall, of "
          f"which {report['startup_s']:.1f} s compiling the model with defaults (start-up); "
          f"exhaustive search took {report['exhaustive_search_s']:.0f} s")
    print("In the exhaustive run (each point measured once):")
    print("| kernel | template | points | failed | default ms | 30-s pick ms | exhaustive best ms "
          "| pick/best | default/best |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in report["workloads"]:
        print(f"| {', '.join(r['kernels'])} | {r['template']} | {r['space']} | {r['failed']} "
              f"| {r['default_ms']:.3f} | {r['pick_ms']:.3f} | {r['best_ms']:.3f} "
              f"| {r['pick_over_best']:.3f} | {r['default_over_best']:.3f} |")
    print("\nHead to head (default, 30-s pick and exhaustive best rebuilt, timed alternately):")
    print("| kernel | default ms | 30-s pick ms | exhaustive best ms | pick/best (goal ≤ 1.10) "
          "| default/best (goal ≤ 1.5) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in report["workloads"]:
        print(f"| {', '.join(r['kernels'])} | {r['h2h_default_ms']:.3f} | {r['h2h_pick_ms']:.3f} "
              f"| {r['h2h_best_ms']:.3f} | {r['h2h_pick_over_best']:.3f} "
              f"| {r['h2h_default_over_best']:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = check(args.budget, args.threads)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
