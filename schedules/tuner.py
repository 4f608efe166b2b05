"""The small-space tuner: dozens of candidates per kernel, measured on the device within a budget.

Per distinct workload (identical kernels across the model are tuned once) the template's default
point is built and measured first: its outputs are the reference every other candidate must match,
and its time is the baseline. The other points, best-first by the template's analytic estimate
(ties in a seeded order), are then taken round-robin across workloads so every kernel gets its most
promising candidates before the budget runs out. Each round builds a batch in parallel, then
measures it alone. Every result, failures included, is appended to the record store.
"""
from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnxjit.compiler.kernel import Kernel
from onnxjit.compiler.tvm_api import save_json
from onnxjit.schedules import select_template
from onnxjit.schedules.base import Knobs, ScheduleTemplate, knobs_key
from onnxjit.schedules.measure import KernelSpec, Outcome, TargetSpec, Worker, template_ref
from onnxjit.schedules.records import RecordStore, TuningRecord
from onnxjit.targets.base import Target


@dataclass(frozen=True)
class Trial:
    elapsed: float                     # seconds since tuning started, when this result came
    knobs: dict[str, Any]
    seconds: float                     # inf when failed
    error: str = ""
    artifact: str = field(default="", compare=False)   # the built library (during tuning)


@dataclass
class WorkloadResult:
    workload: str
    kernels: list[str]
    template: str
    default_knobs: dict[str, Any]
    space_size: int
    trials: list[Trial] = field(default_factory=list)

    def points(self) -> dict[str, Trial]:
        """Per knob point, its latest trial carrying the mean time of all its measurements;
        a point that failed any measurement counts as failed."""
        seen: dict[str, list[Trial]] = {}
        for t in self.trials:
            seen.setdefault(knobs_key(t.knobs), []).append(t)
        merged = {}
        for key, ts in seen.items():
            failed = next((t for t in ts if t.error), None)
            mean = sum(t.seconds for t in ts) / len(ts) if failed is None else float("inf")
            merged[key] = Trial(ts[-1].elapsed, ts[-1].knobs, mean,
                                failed.error if failed else "", ts[-1].artifact)
        return merged

    @property
    def default_seconds(self) -> float:
        point = self.points().get(knobs_key(self.default_knobs))
        return point.seconds if point is not None else float("inf")

    @property
    def best(self) -> Trial | None:
        ok = [t for t in self.points().values() if not t.error]
        return min(ok, key=lambda t: t.seconds, default=None)

    @property
    def speedup(self) -> float:
        best = self.best
        return self.default_seconds / best.seconds if best and best.seconds > 0 else float("nan")


@dataclass(frozen=True)
class TuneOptions:
    budget_s: float = 30.0
    seed: int = 0
    build_workers: int = 2
    build_timeout_s: float = 60.0
    run_timeout_s: float = 20.0
    rtol: float = 1e-4
    atol: float = 1e-5
    retune: bool = False               # measure again even where records exist
    confirm_share: float = 0.1         # of the budget, kept to re-measure each leader vs default


Progress = Callable[[WorkloadResult, Trial], None]


def kernel_arguments(kernel: Kernel, constants: Mapping[str, np.ndarray],
                     types: Mapping[str, tuple[tuple[int, ...], str]], seed: int) -> list[np.ndarray]:
    """Real weights for constant inputs (sparse kernels depend on them) and for inputs observed on
    real feeds (both in `constants`), seeded random data otherwise.

    Run-time integer inputs are zeros: always in range when they index (Gather, Slice).
    """
    rng = np.random.default_rng(seed)
    arrays: list[np.ndarray] = []
    for name in (*kernel.inputs, *kernel.outputs):
        if name in constants and name in kernel.inputs:
            arrays.append(np.array(constants[name], order="C"))  # (ascontiguousarray makes 0-d 1-d)
            continue
        shape, dtype = types[name]
        if np.dtype(dtype).kind == "f":
            arrays.append(rng.standard_normal(shape).astype(dtype))
        else:
            arrays.append(np.zeros(shape, dtype))
    return arrays


def spec_of(kernel: Kernel) -> KernelSpec:
    return KernelSpec(kernel.name, save_json(kernel.func), kernel.kind.value, kernel.inputs,
                      kernel.outputs, kernel.nodes, kernel.op_types)


def ordered_space(template: ScheduleTemplate, kernel: Kernel, target: Target,
                  seed: int) -> list[Knobs]:
    """The space without the default, best-first; ties keep a seeded, reproducible order."""
    default = knobs_key(template.default(kernel, target))
    rng = random.Random(f"{seed}:{kernel.workload_key}")
    points = [k for k in template.space(kernel, target) if knobs_key(k) != default]
    keyed = [(template.estimate(kernel, k, target), rng.random(), i) for i, k in enumerate(points)]
    return [points[i] for _, _, i in sorted(keyed)]


class Tuner:
    def __init__(self, target: Target, store: RecordStore, options: TuneOptions = TuneOptions(),
                 progress: Progress | None = None,
                 select: Callable[[Kernel, Target], ScheduleTemplate] = select_template) -> None:
        self.select = select
        self.target = target
        self.store = store
        self.options = options
        self.progress = progress
        self._arguments: dict[str, list[np.ndarray]] = {}
        self._reference: dict[str, tuple[np.ndarray, ...]] = {}
        self._registered: dict[str, int] = {}      # kernel -> measurer generation it was sent to
        self._batch_costs: dict[str, list[float]] = {}  # workload -> seconds each batch took

    def tune(self, kernels: Sequence[Kernel], constants: Mapping[str, np.ndarray],
             types: Mapping[str, tuple[tuple[int, ...], str]]) -> list[WorkloadResult]:
        groups: dict[str, list[Kernel]] = {}
        for kernel in kernels:
            groups.setdefault(kernel.workload_key, []).append(kernel)
        known = self.store.load() if not self.options.retune else []
        fingerprint = self.target.fingerprint_key()
        todo = {w: ks for w, ks in groups.items()
                if self.options.retune or self.store.best(w, fingerprint, known) is None}
        spec = TargetSpec(self.target.name, self.target.threads)
        measurer = Worker(spec)
        builders = [Worker(spec) for _ in range(max(1, self.options.build_workers))]
        results: list[WorkloadResult] = []
        queues: dict[str, list[Knobs]] = {}
        if todo:  # the budget counts search time, not the workers' interpreter start-up
            _parallel_call([measurer, *builders], ("ping",), self.options.build_timeout_s)
        start = time.monotonic()
        try:
            with tempfile.TemporaryDirectory(prefix="onnxjit-tune-") as out_dir:
                for workload, ks in todo.items():
                    kernel = ks[0]
                    template = self.select(kernel, self.target)
                    default = dict(template.default(kernel, self.target))
                    result = WorkloadResult(workload, [k.name for k in ks], template.name, default,
                                            len(template.space(kernel, self.target)))
                    results.append(result)
                    self._arguments[kernel.name] = kernel_arguments(
                        kernel, constants, types, self.options.seed)
                    self._run_batch(result, kernel, template, [default], builders, measurer,
                                    out_dir, start, reference=True)
                    queues[workload] = ordered_space(template, kernel, self.target,
                                                     self.options.seed)
                self._round_robin(results, todo, queues, builders, measurer, out_dir, start)
                self._confirm(results, todo, measurer, start)
        finally:
            for worker in (measurer, *builders):
                worker.close()
        return results

    def _round_robin(self, results: list[WorkloadResult], todo: dict[str, list[Kernel]],
                     queues: dict[str, list[Knobs]], builders: list[Worker], measurer: Worker,
                     out_dir: str, start: float) -> None:
        by_workload = {r.workload: r for r in results}
        while True:
            # A batch is only started if it should end within the budget, so tuning ends on
            # time rather than a batch late.
            search_end = self.options.budget_s * (1.0 - self.options.confirm_share)
            ready = [w for w, q in queues.items()
                     if q and not self._out_of_time(start, self._expected_batch(w), search_end)]
            if not ready:
                return
            for workload in ready:
                queue = queues[workload]
                if self._out_of_time(start, self._expected_batch(workload), search_end):
                    continue
                batch = [dict(queue.pop(0)) for _ in range(min(len(builders), len(queue)))]
                kernel = todo[workload][0]
                template = self.select(kernel, self.target)
                self._run_batch(by_workload[workload], kernel, template, batch, builders,
                                measurer, out_dir, start, reference=False)

    def _run_batch(self, result: WorkloadResult, kernel: Kernel, template: ScheduleTemplate,
                   batch: list[dict[str, Any]], builders: list[Worker], measurer: Worker,
                   out_dir: str, start: float, reference: bool) -> None:
        began = time.monotonic()
        spec, ref = spec_of(kernel), template_ref(template)
        built = _parallel_build(builders, spec, ref, batch, out_dir, self.options.build_timeout_s)
        records: list[TuningRecord] = []
        built_paths = {knobs_key(k): o.artifact for k, o in zip(batch, built)}
        for knobs, outcome in zip(batch, built):
            if not outcome.error:
                outcome = self._register(measurer, kernel) or measurer.call(
                    ("measure", kernel.name, outcome.artifact, reference, self.options.rtol,
                     self.options.atol), self.options.run_timeout_s)
                if reference and not outcome.error:
                    self._reference[kernel.name] = outcome.outputs
            trial = Trial(time.monotonic() - start, knobs, outcome.fastest, outcome.error,
                          "" if outcome.error else built_paths[knobs_key(knobs)])
            result.trials.append(trial)
            records.append(TuningRecord(result.workload, self.target.fingerprint_key(),
                                        template.name, knobs, outcome.fastest, outcome.error,
                                        time.time()))
            if self.progress is not None:
                self.progress(result, trial)
        self.store.append(records)
        self._batch_costs.setdefault(result.workload, []).append(time.monotonic() - began)

    def _confirm(self, results: list[WorkloadResult], todo: dict[str, list[Kernel]],
                 measurer: Worker, start: float) -> None:
        """Measures each workload's leader and its default again, alternately, and records both.

        One noisy fast sample (another process paused mid-measurement) must not crown a point:
        a session takes the point with the best mean over its records, so a leader that was
        only lucky falls back behind the default. Runs in what the search left of the budget."""
        rounds = 2
        for result in results:
            leader, default = result.best, next(
                (t for t in result.trials if t.knobs == result.default_knobs and not t.error), None)
            if leader is None or default is None or leader.knobs == default.knobs:
                continue
            kernel = todo[result.workload][0]
            for _ in range(rounds):
                for trial in (leader, default):
                    if self._out_of_time(start):
                        return
                    outcome = self._register(measurer, kernel) or measurer.call(
                        ("measure", kernel.name, trial.artifact, False, self.options.rtol,
                         self.options.atol), self.options.run_timeout_s)
                    again = Trial(time.monotonic() - start, trial.knobs, outcome.fastest,
                                  outcome.error, trial.artifact)
                    result.trials.append(again)
                    self.store.append([TuningRecord(
                        result.workload, self.target.fingerprint_key(), result.template,
                        trial.knobs, outcome.fastest, outcome.error, time.time())])

    def _register(self, measurer: Worker, kernel: Kernel) -> Outcome | None:
        """(Re)sends a kernel's arguments and reference outputs to a fresh measurer process;
        None when done, else the failure (the candidate is then recorded as failed)."""
        error = measurer.ensure_started()
        if error:
            return Outcome(error=error)
        if self._registered.get(kernel.name) == measurer.generation:
            return None
        sent = measurer.call(("register", spec_of(kernel), self._arguments[kernel.name],
                              self._reference.get(kernel.name, ())), self.options.run_timeout_s)
        if sent.error:
            return Outcome(error=f"registering the kernel with the measurer failed: {sent.error}")
        self._registered[kernel.name] = measurer.generation
        return None

    def _expected_batch(self, workload: str) -> float:
        """The median time of this workload's batches so far (a hung candidate is one outlier)."""
        costs = sorted(self._batch_costs.get(workload, [0.0]))
        return costs[len(costs) // 2]

    def _out_of_time(self, start: float, ahead: float = 0.0, end: float | None = None) -> bool:
        return time.monotonic() - start + ahead >= (self.options.budget_s if end is None else end)


def _parallel_call(workers: list[Worker], request: tuple[Any, ...], timeout: float) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        list(pool.map(lambda w: w.call(request, timeout), workers))


def _parallel_build(builders: list[Worker], spec: KernelSpec, ref: str,
                    batch: list[dict[str, Any]], out_dir: str, timeout: float) -> list[Outcome]:
    """Builds each candidate of the batch in its own builder process, concurrently."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(builders)) as pool:
        futures = [pool.submit(builders[i % len(builders)].call,
                               ("build", spec, ref, knobs, out_dir), timeout)
                   for i, knobs in enumerate(batch)]
        return [f.result() for f in futures]
