"""onnxjit against onnxruntime on one model: same seeded inputs, same thread count, one process.

Timing follows the project's method for a noisy 2-core VM (shared/notes/baselines.md "Method"):
both runtimes are warmed up; with one thread they run in interleaved rounds (rotating order, a
discarded re-warm call before each block), so drift of the host hits both alike, and the speedup
is the median of the rounds' ratios. Wall clock: an idle gap before each block, the sample is the
block's median call. Thread clock (the calling thread's CPU time, which time spent descheduled by
other processes does not inflate): the sample is a ~30 ms block's CPU time per call, read once
per block (a per-call read would add its own cost to every call). Multi-threaded runtimes disturb
each other (spinning helper threads), so with more threads each one is timed alone after a
settle, and the speedup is the ratio of the median times. Reported times are medians of the
rounds' samples.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.compiler.importer import ModelSource
from onnxjit.runtime.feeds import check_dims_used, random_feeds
from onnxjit.runtime.session import InferenceSession, NodeArg

BLOCK_SECONDS = 0.01      # one sample: ~10 ms of back-to-back calls
IDLE_GAP_SECONDS = 0.02   # before each block, so a round starts from the same (idle) state
SETTLE_SECONDS = 0.3      # before timing a multi-threaded runtime alone
MAX_BLOCK_CALLS = 200
THREAD_BLOCK_SECONDS = 0.03   # thread clock: one sample is ~30 ms of CPU time of back-to-back calls

Log = Callable[[str], None]


@dataclass(frozen=True)
class Comparison:
    """What `onnxjit bench` reports; `as_dict` is its JSON object."""

    onnxjit_ms: float         # median per-call time of InferenceSession.run
    onnxruntime_ms: float     # the same for onnxruntime's CPUExecutionProvider
    speedup: float            # onnxruntime_ms / onnxjit_ms (> 1: onnxjit is faster)
    max_abs_err: float        # max |onnxjit - onnxruntime| over every element of every output
    rel_err: float            # max_abs_err / max |onnxruntime output|
    threads: int
    target: str
    clock: str = "wall"       # "thread": both timed by the calling thread's CPU time

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_with_onnxruntime(model: ModelSource, *, target: str = "cpu",
                             threads: int | None = None, repeats: int = 9, seed: int = 0,
                             dims: Mapping[str, int] | None = None,
                             feeds: Mapping[str, np.ndarray] | None = None,
                             log: Log | None = None, tune: float = 0.0,
                             records: str | None = None, clock: str = "wall") -> Comparison:
    """Compiles and runs `model` with onnxjit and onnxruntime and compares outputs and times.

    `tune` > 0 first tunes onnxjit's kernels for that many seconds (records reused when present).
    `clock="thread"` (1 thread only: both runtimes then run on the calling thread) times calls by
    that thread's CPU time, which time spent descheduled by other processes does not inflate.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    if clock not in ("wall", "thread"):
        raise ValueError(f"clock must be 'wall' or 'thread', not {clock!r}")
    say = log or (lambda _: None)
    say("compiling with onnxjit ...")
    start = time.perf_counter()
    session = InferenceSession(model, target=target, threads=threads, tune=tune or None,
                               records=records)
    if feeds is None:
        check_dims_used(session.get_inputs(), dims or {})
        feeds = random_feeds(session.get_inputs(), seed, dims)
    feeds = dict(feeds)
    ours = session.run(None, feeds)  # compiles a dynamic-shape model's specialisation, too
    say(f"compiled in {time.perf_counter() - start:.1f} s")
    if tune > 0:
        say(f"tuning for up to {tune:g} s ...")
        session.wait_for_tuning()
        ours = session.run(None, feeds)
        say(f"tuned in {time.perf_counter() - start:.1f} s")
    n_threads = session.target.threads
    if clock == "thread" and n_threads != 1:
        raise OnnxJitError(f"the thread clock times one thread; this session runs {n_threads}")
    ort_run = _onnxruntime_runner(model, n_threads)
    try:
        theirs = ort_run(feeds)
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own, unrelated types)
        raise OnnxJitError(f"onnxruntime failed to run the model: {exc}") from None
    max_abs, rel = output_error(session.get_outputs(), ours, theirs)

    contenders: dict[str, Callable[[], object]] = {
        "onnxjit": lambda: session.run(None, feeds),
        "onnxruntime": lambda: ort_run(feeds),
    }
    say(f"timing {repeats} round(s), {n_threads} thread(s) ...")
    if n_threads == 1:
        samples = _interleaved(contenders, repeats, _thread_block if clock == "thread" else _wall_block)
        speedup = _median([o / j for j, o in zip(samples["onnxjit"], samples["onnxruntime"])])
    else:
        samples = {name: _alone(call, repeats) for name, call in contenders.items()}
        speedup = _median(samples["onnxruntime"]) / _median(samples["onnxjit"])
    jit_ms, ort_ms = (1e3 * _median(samples[k]) for k in ("onnxjit", "onnxruntime"))
    return Comparison(onnxjit_ms=jit_ms, onnxruntime_ms=ort_ms, speedup=speedup,
                      max_abs_err=max_abs, rel_err=rel, threads=n_threads,
                      target=session.target.name, clock=clock)


def output_error(outputs: Sequence[NodeArg], ours: Sequence[np.ndarray],
                 theirs: Sequence[Any]) -> tuple[float, float]:
    """(max |ours - theirs|, that / max |theirs|) over all outputs; NaN in both places is equal."""
    max_abs, max_ref = 0.0, 0.0
    for arg, got, want in zip(outputs, ours, theirs):
        want = np.asarray(want)
        if got.shape != want.shape:
            raise OnnxJitError(f"output {arg.name!r}: onnxjit gives shape {got.shape}, "
                               f"onnxruntime {want.shape}")
        if got.size == 0:
            continue
        a, b = got.astype(np.float64), want.astype(np.float64)
        diff = np.abs(a - b)
        diff[np.isnan(a) & np.isnan(b)] = 0.0
        diff[np.isnan(diff)] = math.inf
        diff[(a == b)] = 0.0  # equal infinities
        max_abs = max(max_abs, float(diff.max()))
        finite = np.abs(b[np.isfinite(b)])
        if finite.size:
            max_ref = max(max_ref, float(finite.max()))
    return max_abs, (max_abs / max_ref if max_ref > 0 else max_abs)


def _onnxruntime_runner(model: ModelSource, threads: int) -> Callable[[Mapping[str, Any]], list]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    source: Any = model
    if isinstance(model, onnx.ModelProto):
        source = model.SerializeToString()
    elif isinstance(model, bytearray):
        source = bytes(model)
    elif not isinstance(model, bytes):
        source = str(Path(model))
    try:
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001
        raise OnnxJitError(f"onnxruntime could not load the model: {exc}") from None
    return lambda feeds: session.run(None, dict(feeds))


def _block_size(call: Callable[[], object]) -> int:
    """Warm-up calls, then how many calls fill one ~BLOCK_SECONDS sample."""
    for _ in range(2):
        call()
    start = time.perf_counter()
    call()
    once = time.perf_counter() - start
    return max(1, min(MAX_BLOCK_CALLS, int(BLOCK_SECONDS / max(once, 1e-6))))


def _wall_block(call: Callable[[], object], count: int) -> float:
    """The median wall seconds of one call in a block of `count` back-to-back calls."""
    time.sleep(IDLE_GAP_SECONDS)
    call()  # re-warm caches and wake the thread pool after the gap; not timed
    times = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return _median(times)


def _thread_block(call: Callable[[], object], count: int) -> float:
    """This thread's CPU seconds per call over a block of >= THREAD_BLOCK_SECONDS (`count` is
    not used: the block runs until its CPU time is spent)."""
    call()  # re-warm caches after the other runtime; not timed
    start, calls = time.thread_time(), 0
    while (spent := time.thread_time() - start) < THREAD_BLOCK_SECONDS:
        call()
        calls += 1
    return spent / calls


def _interleaved(contenders: Mapping[str, Callable[[], object]], repeats: int,
                 block: Callable[[Callable[[], object], int], float]) -> dict[str, list[float]]:
    sizes = {name: _block_size(call) for name, call in contenders.items()}
    order = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in order}
    for round_ in range(repeats):
        shift = round_ % len(order)  # rotate who goes first
        for name in order[shift:] + order[:shift]:
            samples[name].append(block(contenders[name], sizes[name]))
    return samples


def _alone(call: Callable[[], object], repeats: int) -> list[float]:
    time.sleep(SETTLE_SECONDS)  # let the other runtime's spinning threads go to sleep
    size = _block_size(call)
    return [_wall_block(call, size) for _ in range(repeats)]


def _median(values: list[float]) -> float:
    return float(np.median(values))
