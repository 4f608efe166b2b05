"""Just-in-time tuning for a session: serve the default kernels now, switch to tuned ones later.

Tuning runs in a background thread (its candidates build and run in worker processes), so `run`
keeps answering with the current kernels meanwhile; measurements then share the machine with
the caller's inference, which the budget and medians absorb. When tuning ends, the specialisation
is recompiled from the records and swapped in atomically. Next time, the records are found in the
cache and nothing is measured again.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from onnxjit.compiler.pipeline import CompiledModel, static_types
from onnxjit.schedules.records import RecordStore
from onnxjit.schedules.tuner import TuneOptions, Tuner, WorkloadResult
from onnxjit.targets.base import Target


@dataclass
class TuningJob:
    thread: threading.Thread
    results: list[WorkloadResult]
    error: BaseException | None = None


def start_tuning(compiled: CompiledModel, target: Target, store: RecordStore, budget_s: float,
                 on_done: Callable[[], None],
                 values: Mapping[str, np.ndarray] | None = None) -> TuningJob:
    """Tunes in a background thread; `values`: kernel inputs observed on real feeds, if any."""
    job = TuningJob(threading.Thread(name="onnxjit-tuner", daemon=True), [])

    def work() -> None:
        try:
            job.results.extend(tune_compiled(compiled, target, store, TuneOptions(budget_s=budget_s),
                                             values=values))
            on_done()
        except BaseException as exc:  # noqa: BLE001  (reported by wait_for_tuning, never lost)
            job.error = exc

    job.thread.run = work  # type: ignore[method-assign]
    job.thread.start()
    return job


def tune_compiled(compiled: CompiledModel, target: Target, store: RecordStore,
                  options: TuneOptions, progress: Callable[..., None] | None = None,
                  feeds: Mapping[str, np.ndarray] | None = None,
                  values: Mapping[str, np.ndarray] | None = None) -> list[WorkloadResult]:
    """Tunes every kernel of one compiled specialisation into `store`.

    With `feeds`, each kernel is tuned on the values it really receives from them (a recurrence
    fed random numbers may overflow, and then every candidate looks "wrong"); without, on seeded
    random data."""
    types = static_types(compiled.graph)
    if values is None:
        values = observe_for_tuning(compiled, target, feeds) if feeds is not None else {}
    tuner = Tuner(target, store, options, progress)
    return tuner.tune(compiled.kernels, {**values, **compiled.graph.constants}, types)


def observe_for_tuning(compiled: CompiledModel, target: Target,
                       feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Kernel inputs on these feeds, where this process can run the kernels (the CPU)."""
    return observed_inputs(compiled, feeds) if target.name == "cpu" else {}


def observed_inputs(compiled: CompiledModel, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every kernel input as one run of the (default-scheduled) model on `feeds` produces it."""
    from onnxjit.runtime.executor import Executor

    executor = Executor(compiled)
    for name in compiled.plan.inputs:
        np.copyto(executor.arrays[name], feeds[name], casting="no")
    constants = compiled.graph.constants
    inputs_of = {k.name: {i for i in k.inputs if i not in constants} for k in compiled.kernels}
    seen: dict[str, np.ndarray] = {}
    for function, args, step in executor.calls:
        for value in step.args:
            if value in inputs_of[step.kernel] and value not in seen and value in executor.arrays:
                seen[value] = np.array(executor.arrays[value])
        function(*args)
    return seen
