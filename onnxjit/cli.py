"""The `onnxjit` command: info, run and bench on an ONNX model.

Results go to stdout, progress to stderr. Exit codes: 0 ok, 1 `info` found unsupported ops,
2 usage error or any onnxjit error (printed as one message, never a traceback).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from onnxjit import __version__
from onnxjit.compiler.errors import OnnxJitError
from onnxjit.compiler.graph import Graph, TensorType
from onnxjit.compiler.importer import import_model
from onnxjit.compiler.support import unsupported_nodes
from onnxjit.targets import target_names

EXIT_OK, EXIT_UNSUPPORTED, EXIT_ERROR = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onnxjit", description="Compile ONNX models to TVM TensorIR kernels and run them.")
    parser.add_argument("--version", action="version", version=f"onnxjit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser("info", help="inputs, outputs and op support of a model")
    info.add_argument("model", help="path to an .onnx file")
    info.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                      help="size of a symbolic input dimension for the memory plan (repeatable)")
    info.add_argument("--no-plan", action="store_true",
                      help="skip compiling for the memory plan (arena peak)")
    info.set_defaults(func=cmd_info)

    def compile_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("model", help="path to an .onnx file")
        p.add_argument("--target", default="cpu", choices=target_names(),
                       help="where kernels run (default: cpu)")
        p.add_argument("--threads", type=_positive_int, default=None,
                       help="threads (default: $ONNXJIT_THREADS or the CPUs this process may use)")
        p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
        p.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                       help="size of a symbolic input dimension (repeatable; unnamed or "
                            "unlisted ones are 1)")

    run = sub.add_parser("run", help="compile and run a model once, print an output summary")
    compile_options(run)
    run.add_argument("--inputs", metavar="FILE.npz", help="inputs by name (default: random)")
    run.add_argument("--output", metavar="FILE.npz", help="save the outputs by name")
    run.set_defaults(func=cmd_run)

    bench = sub.add_parser("bench", help="time and check onnxjit against onnxruntime")
    compile_options(bench)
    bench.add_argument("--repeats", type=_positive_int, default=9,
                       help="timed rounds per runtime; medians are reported (default 9)")
    bench.add_argument("--clock", choices=("wall", "thread"), default="wall",
                       help="thread: time both runtimes by the calling thread's CPU time, which "
                            "other processes' load does not inflate (--threads 1 only)")
    bench.add_argument("--json", action="store_true",
                       help="print one JSON object on stdout (progress stays on stderr)")
    bench.add_argument("--tune", type=float, default=0.0, metavar="SECONDS",
                       help="tune onnxjit's kernels for up to SECONDS first (default: no tuning; "
                            "records already in the cache are used either way)")
    bench.add_argument("--records", metavar="FILE.jsonl", help="tuning-record file "
                       "(default: $ONNXJIT_CACHE_DIR/tuning_records.jsonl)")
    bench.add_argument("--profile", action="store_true",
                       help="also print a per-kernel time breakdown beside onnxruntime's per-node "
                            "profile")
    bench.add_argument("--profile-runs", type=_positive_int, default=20, metavar="N",
                       help="runs averaged in the profile (default 20)")
    bench.set_defaults(func=cmd_bench)

    comp = sub.add_parser("compile", help="compile a model into an artifact directory that "
                          "InferenceSession(OUT) loads without recompiling")
    compile_options(comp)
    comp.add_argument("-o", "--output", required=True, metavar="OUT",
                      help="artifact directory to write (created if missing)")
    comp.add_argument("--tune", type=float, default=0.0, metavar="SECONDS",
                      help="tune the kernels for up to SECONDS first (default: records only)")
    comp.add_argument("--records", metavar="FILE.jsonl", help="tuning-record file "
                      "(default: $ONNXJIT_CACHE_DIR/tuning_records.jsonl)")
    comp.set_defaults(func=cmd_compile)

    tune = sub.add_parser("tune", help="tune every kernel of a model within a time budget")
    compile_options(tune)
    tune.add_argument("--inputs", metavar="FILE.npz", help="tune on these inputs, by name "
                      "(default: random; real inputs keep recurrences in range)")
    tune.add_argument("--budget", type=float, default=30.0, metavar="SECONDS",
                      help="wall-clock budget of the search (default 30)")
    tune.add_argument("--records", metavar="FILE.jsonl", help="tuning-record file "
                      "(default: $ONNXJIT_CACHE_DIR/tuning_records.jsonl)")
    tune.add_argument("--report", metavar="DIR", help="write tuning.png and speedups.md here")
    tune.add_argument("--retune", action="store_true",
                      help="measure again even kernels that already have records")
    tune.set_defaults(func=cmd_tune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except OnnxJitError as exc:
        print(f"onnxjit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("onnxjit: interrupted", file=sys.stderr)
        return 130


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- info ---------------------------------------------------------------------------------------
def _walk(graph: Graph) -> Iterator[tuple[Graph, Any]]:
    """Every node of the graph and of its subgraphs (Scan/Loop/If bodies), with its graph."""
    for node in graph.nodes:
        yield graph, node
        for value in node.attrs.values():
            subs = value if isinstance(value, tuple) else (value,)
            for sub in subs:
                if isinstance(sub, Graph):
                    yield from _walk(sub)


def _type_text(tt: TensorType | None) -> tuple[str, str]:
    if tt is None:
        return "?", "?"
    if tt.shape is None:
        return tt.dtype, "[?]"
    dims = ["?" if isinstance(d, str) and d.startswith("?") else str(d) for d in tt.shape]
    return tt.dtype, f"[{', '.join(dims)}]"


def cmd_info(args: argparse.Namespace) -> int:
    graph, name = import_model(args.model)
    print(f"model: {name}")
    print("opsets: " + ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in sorted(graph.opsets.items())))
    for title, names in (("inputs", graph.inputs), ("outputs", graph.outputs)):
        print(f"{title}:")
        for value in names:
            dtype, shape = _type_text(graph.types.get(value))
            print(f"  {value:<24} {dtype:<10} {shape}")
    params = sum(int(v.size) for v in graph.constants.values())
    nbytes = sum(int(v.nbytes) for v in graph.constants.values())
    print(f"initializers: {len(graph.constants)} tensors, {params:,} values, "
          f"{nbytes / 2**20:.2f} MiB")

    missing = unsupported_nodes(graph)
    bad = Counter((op.domain or "ai.onnx", op.op_type, op.opset) for op in missing)
    counts = Counter((node.domain or "ai.onnx", node.op_type, g.opset(node.domain))
                     for g, node in _walk(graph))
    print(f"ops: {sum(counts.values())} nodes, {len(counts)} op types")
    print(f"  {'domain':<12} {'op':<24} {'opset':>5} {'nodes':>6}  supported")
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        domain, op, opset = key
        k = bad.get(key, 0)
        status = "yes" if k == 0 else "NO" if k == count else f"partly ({k} unsupported)"
        print(f"  {domain:<12} {op:<24} {opset:>5} {count:>6}  {status}")
    if missing:
        print(f"unsupported: {len(missing)} node(s)")
        for op in missing:
            print(f"  - {op.describe()}")
        return EXIT_UNSUPPORTED
    print("all ops supported")
    if not args.no_plan:
        from onnxjit.cli_model import print_memory_plan

        print_memory_plan(args)
    return EXIT_OK


# -- run ----------------------------------------------------------------------------------------
def _feeds(args: argparse.Namespace, session: Any) -> dict[str, np.ndarray]:
    from onnxjit.runtime.feeds import check_dims_used, load_feeds, parse_dims, random_feeds

    if getattr(args, "inputs", None):
        return load_feeds(args.inputs)
    dims = parse_dims(args.dim)
    check_dims_used(session.get_inputs(), dims)
    return random_feeds(session.get_inputs(), args.seed, dims)


def _stat(value: np.ndarray, fn: Any) -> str:
    if value.size == 0:
        return "-"
    data = value.astype(np.float64) if value.dtype == np.bool_ else value
    return f"{float(fn(data)):.6g}"


def cmd_run(args: argparse.Namespace) -> int:
    from onnxjit.runtime.feeds import save_outputs
    from onnxjit.runtime.session import InferenceSession

    _progress(f"compiling {args.model} for {args.target} ...")
    start = time.perf_counter()
    session = InferenceSession(args.model, target=args.target, threads=args.threads)
    feeds = _feeds(args, session)
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(names, feeds)
    _progress(f"compiled and ran in {time.perf_counter() - start:.1f} s "
              f"({session.target.describe()})")
    print(f"{'output':<24} {'shape':<18} {'dtype':<10} {'min':>12} {'max':>12} {'mean':>12}")
    for name, value in zip(names, outputs):
        shape = "[" + ", ".join(map(str, value.shape)) + "]"
        print(f"{name:<24} {shape:<18} {value.dtype!s:<10} {_stat(value, np.min):>12} "
              f"{_stat(value, np.max):>12} {_stat(value, np.mean):>12}")
    if args.output:
        save_outputs(args.output, names, outputs)
        _progress(f"outputs saved to {args.output}")
    return EXIT_OK


# -- bench --------------------------------------------------------------------------------------
def _json_value(value: Any) -> Any:
    # JSON has no NaN/Infinity; a non-finite error (NaN from one runtime only) becomes null.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def cmd_bench(args: argparse.Namespace) -> int:
    from onnxjit.runtime.compare import compare_with_onnxruntime
    from onnxjit.runtime.feeds import parse_dims

    dims = parse_dims(args.dim)
    # Anything a library prints while compiling must not end up inside the JSON on stdout.
    with contextlib.redirect_stdout(sys.stderr):
        result = compare_with_onnxruntime(
            args.model, target=args.target, threads=args.threads, repeats=args.repeats,
            seed=args.seed, dims=dims, log=_progress, tune=args.tune, records=args.records,
            clock=args.clock)
    profile = None
    if args.profile:
        from onnxjit.cli_model import bench_profile

        profile = bench_profile(args, dims)
    if args.json:
        data = {k: _json_value(v) for k, v in result.as_dict().items()}
        if profile is not None:
            data["profile"] = {side: [vars(k) for k in getattr(profile, side)]
                               for side in ("onnxjit", "onnxruntime")}
        print(json.dumps(data))
        return EXIT_OK
    print(f"model        {args.model}")
    print(f"target       {result.target} ({result.threads} thread{'s' * (result.threads != 1)})")
    if result.clock != "wall":
        print(f"clock        {result.clock} CPU time")
    print(f"onnxjit      {result.onnxjit_ms:.3f} ms")
    print(f"onnxruntime  {result.onnxruntime_ms:.3f} ms")
    print(f"speedup      {result.speedup:.2f}x (onnxruntime time / onnxjit time)")
    print(f"max_abs_err  {result.max_abs_err:.3g}")
    print(f"rel_err      {result.rel_err:.3g}")
    if profile is not None:
        from onnxjit.runtime.profile import format_profile

        print(f"\nper-kernel profile (median ms per run over {profile.runs} runs; 'ort same': "
              "onnxruntime's time for the same graph nodes, where it kept them unfused)")
        print(format_profile(profile), end="")
    return EXIT_OK


# -- compile ------------------------------------------------------------------------------------
def cmd_compile(args: argparse.Namespace) -> int:
    from onnxjit.cli_model import compile_artifact

    return compile_artifact(args)


# -- tune ---------------------------------------------------------------------------------------
def _bar(result: Any, trial: Any) -> None:
    """One progress line per measured candidate: the kernel, a bar, the best so far."""
    done, total = len(result.trials), max(result.space_size, 1)
    filled = min(20, round(20 * done / total))
    best = result.best
    best_text = f"best {best.seconds * 1e3:.4g} ms ({result.speedup:.2f}x)" if best else "no success"
    status = f" [{trial.error[:60]}]" if trial.error else ""
    _progress(f"  {', '.join(result.kernels)[:28]:<28} [{'#' * filled}{'.' * (20 - filled)}] "
              f"{done:>2}/{total:<2} {best_text}{status}")


def cmd_tune(args: argparse.Namespace) -> int:
    from onnxjit.runtime.jit_tuning import tune_compiled
    from onnxjit.runtime.session import InferenceSession
    from onnxjit.schedules.report import speedup_table, write_report
    from onnxjit.schedules.tuner import TuneOptions

    session = InferenceSession(args.model, target=args.target, threads=args.threads,
                               records=args.records)
    feeds = _feeds(args, session)
    compiled = session.compiled(feeds)
    _progress(f"tuning {len(compiled.kernels)} kernel(s) of {args.model} for up to "
              f"{args.budget:g} s on {session.target.describe()}; records: {session.records.path}")
    start = time.perf_counter()
    options = TuneOptions(budget_s=args.budget, seed=args.seed, retune=args.retune)
    results = tune_compiled(compiled, session.target, session.records, options, progress=_bar,
                            feeds=feeds)
    workloads = len({k.workload_key for k in compiled.kernels})
    total = time.perf_counter() - start
    search = max((t.elapsed for r in results for t in r.trials), default=0.0)
    _progress(f"{len(compiled.kernels)} kernel(s), {workloads} distinct workload(s); tuned "
              f"{len(results)} in {total:.1f} s: {search:.1f} s of search after "
              f"{total - search:.1f} s starting workers (the rest had records)")
    print(speedup_table(results), end="")
    if args.report:
        for path in write_report(results, args.report):
            _progress(f"wrote {path}")
    return EXIT_OK
