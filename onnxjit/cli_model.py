"""`onnxjit` subcommand bodies for whole models: `info`'s memory plan, `bench --profile`, and
`compile` (artifacts). Kept apart from cli.py's parser and the basic commands."""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

from onnxjit.cli import EXIT_OK, _feeds, _progress


def print_memory_plan(args: argparse.Namespace) -> None:
    """Compiles for the given (or unit) dims and reports the arena the executor allocates."""
    from onnxjit.runtime.feeds import check_dims_used, parse_dims, random_feeds
    from onnxjit.runtime.profile import memory_summary
    from onnxjit.runtime.session import InferenceSession

    dims = parse_dims(args.dim)
    with contextlib.redirect_stdout(sys.stderr):
        session = InferenceSession(args.model, threads=1)
        check_dims_used(session.get_inputs(), dims)
        compiled = session.compiled(random_feeds(session.get_inputs(), 0, dims))
    mem = memory_summary(compiled.plan, compiled.constants)
    shapes = ", ".join(f"{n}={list(s)}" for n, s, _ in compiled.signature)
    print(f"memory plan ({shapes}): arena peak {_mib(mem.arena_bytes)} for {mem.values} values "
          f"({_mib(mem.unshared_bytes)} without buffer reuse), weights {_mib(mem.constant_bytes)}, "
          f"{len(compiled.kernels)} kernels")


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


def bench_profile(args: argparse.Namespace, dims: dict[str, int]) -> Any:
    from onnxjit.runtime.feeds import random_feeds
    from onnxjit.runtime.profile import profile_model
    from onnxjit.runtime.session import InferenceSession

    _progress(f"profiling {args.profile_runs} run(s) per runtime ...")
    with contextlib.redirect_stdout(sys.stderr):
        session = InferenceSession(args.model, target=args.target, threads=args.threads,
                                   records=args.records)
        feeds = random_feeds(session.get_inputs(), args.seed, dims)
        return profile_model(args.model, session, feeds, args.profile_runs)


def compile_artifact(args: argparse.Namespace) -> int:
    from onnxjit.runtime.artifact_session import compile_to_artifact
    from onnxjit.runtime.jit_tuning import tune_compiled
    from onnxjit.runtime.session import InferenceSession
    from onnxjit.schedules.tuner import TuneOptions

    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        session = InferenceSession(args.model, target=args.target, threads=args.threads,
                                   records=args.records)
        feeds = _feeds(args, session)
        if args.tune > 0:
            _progress(f"tuning for up to {args.tune:g} s ...")
            tune_compiled(session.compiled(feeds), session.target, session.records,
                          TuneOptions(budget_s=args.tune, seed=args.seed), feeds=feeds)
        out = compile_to_artifact(args.model, args.output, feeds, target=args.target,
                                  threads=session.target.threads, records=args.records)
    shapes = ", ".join(f"{n}: {v.dtype}{list(v.shape)}" for n, v in feeds.items())
    print(f"wrote {out} ({session.target.describe()}, inputs {shapes}) in "
          f"{time.perf_counter() - start:.1f} s")
    return EXIT_OK
