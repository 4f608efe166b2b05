"""Issue 9's whole-model rows: every example model (examples/models.py, bench size) through onnxjit
and onnxruntime side by side in one process (fp32, same seeded feeds), after tuning each model's
kernels for up to `--tune` seconds, with the issue's speedup goal beside each row:

    python -m benchmarks.models [--models bert,mamba1,...] [--tune 30] [--repeats 9]
                                [--threads 1] [--records FILE] [--profile]

`--profile` also prints each model's per-kernel breakdown (`onnxjit bench --profile`'s table).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from models import EXAMPLES, build  # noqa: E402


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=False,
                              capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main(argv: list[str] | None = None) -> int:
    from onnxjit.runtime.compare import compare_with_onnxruntime

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(EXAMPLES))
    ap.add_argument("--tune", type=float, default=30.0, help="tuning seconds per model")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--records", default=None, help="tuning-record file (default: the cache's)")
    ap.add_argument("--profile", action="store_true", help="print per-kernel breakdowns")
    ap.add_argument("--clock", choices=("wall", "thread"), default="wall",
                    help="thread: the calling thread's CPU time (1 thread; for a shared machine)")
    args = ap.parse_args(argv)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{stamp}, commit {_commit()}, {_cpu()}, {os.cpu_count()} CPUs, 1-min load "
          f"{os.getloadavg()[0]:.1f}, {args.threads} thread(s), --tune {args.tune:g}, {args.clock} clock")
    print("| model | onnxjit ms | onnxruntime ms | speedup | goal | rel_err |")
    print("|---|---|---|---|---|---|")
    profiles = []
    for name in args.models.split(","):
        example = EXAMPLES[name]
        model, feeds = build(name, "bench")
        try:
            r = compare_with_onnxruntime(model, threads=args.threads, repeats=args.repeats,
                                         feeds=feeds, tune=args.tune, records=args.records,
                                         clock=args.clock, log=lambda m: print(f"  [{name}] {m}", file=sys.stderr))
        except Exception as exc:  # noqa: BLE001  (a row that cannot run is reported, not fatal)
            print(f"| {example.title} | failed: {type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:120]} | | | {example.goal:.1f} | |", flush=True)
            continue
        met = "" if r.speedup >= example.goal else " (below)"
        print(f"| {example.title} | {r.onnxjit_ms:.3f} | {r.onnxruntime_ms:.3f} | "
              f"{r.speedup:.2f}x{met} | ≥{example.goal:g} | {r.rel_err:.1e} |", flush=True)
        if args.profile:
            profiles.append((name, _profile(model, feeds, args)))
    for name, table in profiles:
        print(f"\n### {name}\n\n```\n{table}```")
    print(f"\nreproduce: python -m benchmarks.models --models {args.models} --tune {args.tune:g} "
          f"--repeats {args.repeats} --threads {args.threads} --clock {args.clock}"
          f"{' --profile' * args.profile}   "
          f"(load after: {os.getloadavg()[0]:.1f})")
    return 0


def _profile(model: object, feeds: dict, args: argparse.Namespace) -> str:
    from onnxjit.runtime.profile import format_profile, profile_model
    from onnxjit.runtime.session import InferenceSession

    data = model.SerializeToString()  # type: ignore[attr-defined]
    session = InferenceSession(data, threads=args.threads, records=args.records)
    return format_profile(profile_model(model, session, feeds, runs=10), top=12)


if __name__ == "__main__":
    sys.exit(main())
