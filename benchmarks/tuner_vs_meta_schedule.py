"""onnxjit's tuner against TVM's meta_schedule on the same kernels, for about the same wall time.

Both start from the same lowered kernels of `benchmarks.tuner_check.mixed_model` (one attention,
one sparse 1x1 conv, one scan, two matmuls). onnxjit tunes with `--budget`; meta_schedule tunes
each kernel's TensorIR (the unscheduled function onnxjit's templates start from) with the fewest
trials it accepts, one kernel after another, until it has used the same wall time; its time is
reported, and it always gets at least one search round per kernel even when that overruns. Then
each kernel's two versions are built, checked against each other, and timed side by side.

    pip install -e ".[metaschedule]"   # psutil and cloudpickle, which meta_schedule needs
    python -m benchmarks.tuner_vs_meta_schedule [--budget 30] [--threads 1] [--trials 4]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np
import onnx

from benchmarks.tuner_check import bound_kernel, kernel_data, mixed_model


def _timed(func: Any, kernel: Any, arrays: list[np.ndarray], target: Any) -> tuple[float, list]:
    """Median seconds per call of `func` (a version of `kernel`) on its own copy of `arrays`,
    and the outputs it computed."""
    from onnxjit.runtime.executor import aligned_copy

    copies = [aligned_copy(a) for a in arrays]
    call = bound_kernel(kernel, func, copies, target)
    call()
    outputs = [np.array(a) for a in copies[len(kernel.inputs):]]
    return target.measure(call, repeats=9).median, outputs


def compare(budget: float, threads: int, trials: int) -> list[dict[str, Any]]:
    from onnxjit.compiler.tvm_api import meta_schedule_tune
    from onnxjit.runtime.jit_tuning import tune_compiled
    from onnxjit.runtime.session import InferenceSession
    from onnxjit.schedules import schedule_kernel
    from onnxjit.schedules.choice import record_chooser
    from onnxjit.schedules.tuner import TuneOptions

    model, feeds = mixed_model()
    rows = []
    with tempfile.TemporaryDirectory(prefix="onnxjit-vs-ms-") as tmp:
        path = os.path.join(tmp, "mixed.onnx")
        onnx.save(model, path)
        session = InferenceSession(path, threads=threads, records=os.path.join(tmp, "r.jsonl"))
        compiled = session.compiled(feeds)
        target = session.target
        start = time.perf_counter()
        tune_compiled(compiled, target, session.records, TuneOptions(budget_s=budget, retune=True),
                      feeds=feeds)
        ours_wall = time.perf_counter() - start
        choose = record_chooser(session.records, target)
        distinct = {k.workload_key: k for k in compiled.kernels}.values()
        ms_wall = 0.0
        for kernel in distinct:
            arrays = kernel_data(kernel, compiled)
            template, knobs = choose(kernel, target)
            ours_s, ours_out = _timed(schedule_kernel(kernel, target, template, knobs), kernel,
                                      arrays, target)
            began, error = time.perf_counter(), ""
            try:  # meta_schedule works on the kernel's plain TensorIR
                tuned = meta_schedule_tune(kernel.func, target.tvm_target(), trials,
                                           os.path.join(tmp, kernel.name))
            except Exception as exc:  # noqa: BLE001  (reported; the untuned function is timed)
                tuned, error = kernel.func, f"{type(exc).__name__}: {str(exc)[:80]}"
            spent = time.perf_counter() - began
            ms_wall += spent
            ms_s, ms_out = _timed(tuned, kernel, arrays, target)
            agree = all(np.allclose(a, b, rtol=1e-3, atol=1e-4) for a, b in zip(ours_out, ms_out))
            rows.append({"kernel": kernel.name, "onnxjit_ms": ours_s * 1e3, "ms_ms": ms_s * 1e3,
                         "ms_tune_s": spent, "agree": agree, "ms_error": error})
        rows.append({"kernel": "total", "onnxjit_ms": sum(r["onnxjit_ms"] for r in rows),
                     "ms_ms": sum(r["ms_ms"] for r in rows), "ms_tune_s": ms_wall,
                     "onnxjit_tune_s": ours_wall, "agree": all(r["agree"] for r in rows),
                     "ms_error": ""})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--trials", type=int, default=4, help="meta_schedule trials per kernel")
    args = parser.parse_args(argv)
    rows = compare(args.budget, args.threads, args.trials)
    total = rows[-1]
    print(f"onnxjit tuned for {total['onnxjit_tune_s']:.1f} s; meta_schedule for "
          f"{total['ms_tune_s']:.1f} s ({args.trials} trials per kernel); {args.threads} thread(s)")
    print("| kernel | onnxjit tuned ms | meta_schedule ms | meta_schedule tuning s | outputs agree |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        note = f" ({r['ms_error']})" if r["ms_error"] else ""
        print(f"| {r['kernel']} | {r['onnxjit_ms']:.3f} | {r['ms_ms']:.3f}{note} "
              f"| {r['ms_tune_s']:.1f} | {r['agree']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
