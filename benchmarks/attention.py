"""Issue 3's benchmark rows: onnxjit vs onnxruntime on ONNX Attention-23 (B=1, H=8, D=64, fp32).

    python -m benchmarks.attention [--rows nc512,nc2048,c2048,decode,c16384] [--threads 1]
                                   [--repeats 9] [--save DIR] [--memory]

Each row is one Attention-23 node with 4-D Q/K/V (decode: one query over a 4096-key cache, 32
query heads sharing 8 KV heads). Times come from runtime/compare.py (one process, interleaved at 1
thread). `--memory` runs the S=16384 causal model in a fresh process and reports how much onnxjit's
first run adds to the peak RSS (VmHWM) after compilation. `--save DIR` writes the models, so
`onnxjit bench DIR/<row>.onnx --threads N` reproduces a row.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

Model = tuple[onnx.ModelProto, dict[str, np.ndarray]]


def attention_model(sq: int, skv: int, causal: bool, q_heads: int = 8, kv_heads: int = 8,
                    d: int = 64) -> Model:
    rng = np.random.default_rng(0)
    feeds = {"q": rng.standard_normal((1, q_heads, sq, d), dtype=np.float32),
             "k": rng.standard_normal((1, kv_heads, skv, d), dtype=np.float32),
             "v": rng.standard_normal((1, kv_heads, skv, d), dtype=np.float32)}
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"], is_causal=int(causal))
    graph = helper.make_graph(
        [node], "attention",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in feeds.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, q_heads, sq, d])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    return model, feeds


ROWS = {
    "nc512": ("non-causal S=512", lambda: attention_model(512, 512, False)),
    "nc2048": ("non-causal S=2048", lambda: attention_model(2048, 2048, False)),
    "c2048": ("causal S=2048", lambda: attention_model(2048, 2048, True)),
    "decode": ("decode S_q=1, KV 4096, GQA 32/8", lambda: attention_model(1, 4096, False, 32, 8)),
    "c16384": ("causal S=16384", lambda: attention_model(16384, 16384, True)),
}


def _vm_hwm_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def memory_probe(threads: int) -> None:
    """Child process: peak RSS added by onnxjit's first run of the S=16384 causal model."""
    import onnxjit
    model, feeds = ROWS["c16384"][1]()
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=threads)
    session.executor(feeds)   # compiled and arena planned before the baseline is read
    before = _vm_hwm_mb()
    session.run(None, feeds)
    after = _vm_hwm_mb()
    print(f"onnxjit S=16384 causal: peak RSS before run {before:.0f} MB, after {after:.0f} MB, "
          f"added {after - before:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="nc512,nc2048,c2048,decode")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save", metavar="DIR", help="write the row models as DIR/<row>.onnx")
    ap.add_argument("--memory", action="store_true", help="S=16384 peak-memory probe")
    ap.add_argument("--clock", choices=("wall", "thread"), default="wall",
                    help="thread: the calling thread's CPU time (1 thread; for a shared machine)")
    ap.add_argument("--_probe", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._probe:
        memory_probe(args.threads)
        return 0
    from onnxjit.runtime.compare import compare_with_onnxruntime

    rows = [r for r in args.rows.split(",") if r]
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
        for key in rows:
            onnx.save(ROWS[key][1]()[0], str(Path(args.save) / f"{key}.onnx"))
    print(f"| row | onnxjit ms | onnxruntime ms | speedup | rel_err | threads |  "
          f"(1-min load {os.getloadavg()[0]:.1f})")
    print("|---|---|---|---|---|---|")
    for key in rows:
        title, build = ROWS[key]
        model, feeds = build()
        repeats = min(args.repeats, 3) if key == "c16384" else args.repeats
        try:
            r = compare_with_onnxruntime(model, threads=args.threads, repeats=repeats, feeds=feeds,
                                         clock=args.clock)
        except Exception as exc:  # noqa: BLE001  (a row that cannot run is reported, not fatal)
            print(f"| {title} | failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]} |")
            continue
        print(f"| {title} | {r.onnxjit_ms:.2f} | {r.onnxruntime_ms:.2f} | {r.speedup:.2f}x | "
              f"{r.rel_err:.1e} | {r.threads} |", flush=True)
    print(f"\nreproduce: python -m benchmarks.attention --rows {args.rows} --repeats {args.repeats} "
          f"--threads {args.threads} --clock {args.clock}   (load after: {os.getloadavg()[0]:.1f})")
    if args.memory:
        out = subprocess.run([sys.executable, "-m", "benchmarks.attention", "--_probe",
                              "--threads", str(args.threads)], capture_output=True, text=True)
        print(out.stdout.strip() or out.stderr.strip()[-500:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
