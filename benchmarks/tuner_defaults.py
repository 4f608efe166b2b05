"""How good are the untuned defaults? Each benchmark kernel's default against its whole space.

For every row of the attention, conv and scan benchmarks (or those named with --rows), compiles
the model, searches every distinct kernel's whole schedule space (no budget; each point measured
in the same run, 1-thread points by CPU time) and prints default/best per kernel. Issue 6's goal:
default within 1.5x of the tuned result on every benchmark kernel.

    python -m benchmarks.tuner_defaults [--rows attention:nc512,conv:...,scan:cumsum] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx

from benchmarks import attention, conv, scan

ModelMaker = Callable[[], "tuple[onnx.ModelProto, dict[str, np.ndarray] | None]"]


def benchmark_rows() -> dict[str, ModelMaker]:
    rows: dict[str, ModelMaker] = {}
    for key, (_, make) in attention.ROWS.items():
        if key != "c16384":  # minutes per point: the c2048 row has the same kernel shape class
            rows[f"attention:{key}"] = make
    for key, (make_model, _) in conv.ROWS.items():
        rows[f"conv:{key}"] = (lambda m=make_model: (m(), None))
    for key, (_, make) in scan.ROWS.items():
        rows[f"scan:{key}"] = make
    return rows


def defaults_vs_best(model: onnx.ModelProto, feeds: dict[str, np.ndarray] | None,
                     threads: int) -> list[dict[str, Any]]:
    from onnxjit.runtime.feeds import random_feeds
    from onnxjit.runtime.jit_tuning import tune_compiled
    from onnxjit.runtime.session import InferenceSession
    from onnxjit.schedules.tuner import TuneOptions

    with tempfile.TemporaryDirectory(prefix="onnxjit-defaults-") as tmp:
        session = InferenceSession(model, threads=threads, records=os.path.join(tmp, "r.jsonl"))
        feeds = feeds if feeds is not None else random_feeds(session.get_inputs())
        compiled = session.compiled(feeds)
        results = tune_compiled(compiled, session.target, session.records,
                                TuneOptions(budget_s=float("inf"), retune=True), feeds=feeds)
    return [{"kernels": ", ".join(r.kernels), "template": r.template, "space": r.space_size,
             "failed": sum(bool(t.error) for t in r.trials),
             "default_ms": r.default_seconds * 1e3,
             "best_ms": r.best.seconds * 1e3 if r.best else float("nan"),
             "default_over_best": r.speedup} for r in results]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="", help="comma-separated row keys (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    rows = benchmark_rows()
    wanted = [r for r in args.rows.split(",") if r] or list(rows)
    unknown = [r for r in wanted if r not in rows]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {sorted(rows)}")
    print("| row | kernel | template | points | failed | default ms | best ms | default/best (goal ≤ 1.5) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    worst = 1.0
    for key in wanted:
        model, feeds = rows[key]()
        for r in defaults_vs_best(model, feeds, args.threads):
            worst = max(worst, r["default_over_best"])
            print(f"| {key} | {r['kernels'][:40]} | {r['template']} | {r['space']} | {r['failed']} "
                  f"| {r['default_ms']:.3f} | {r['best_ms']:.3f} | {r['default_over_best']:.3f} |",
                  flush=True)
    print(f"\nworst default/best: {worst:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
