"""Just-in-time tuning for a session: serve the default kernels now, switch to tuned ones later.

Tuning runs in a background thread (its candidates build and run in worker processes), so `run`
keeps answering with the current kernels meanwhile; measurements then share the machine with
the caller's inference, which the budget and medians absorb. When tuning ends, the specialisation
is recompiled from the records and swapped in atomically. Next time, the records are found in the
cache and nothing is measured again.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from onnxjit.compiler.pipeline import CompiledModel
from onnxjit.schedules.records import RecordStore
from onnxjit.schedules.tuner import TuneOptions, Tuner, WorkloadResult
from onnxjit.targets.base import Target


@dataclass
class TuningJob:
    thread: threading.Thread
    results: list[WorkloadResult]
    error: BaseException | None = None


def start_tuning(compiled: CompiledModel, target: Target, store: RecordStore, budget_s: float,
                 on_done: Callable[[], None]) -> TuningJob:
    job = TuningJob(threading.Thread(name="onnxjit-tuner", daemon=True), [])

    def work() -> None:
        try:
            job.results.extend(tune_compiled(compiled, target, store, TuneOptions(budget_s=budget_s)))
            on_done()
        except BaseException as exc:  # noqa: BLE001  (reported by wait_for_tuning, never lost)
            job.error = exc

    job.thread.run = work  # type: ignore[method-assign]
    job.thread.start()
    return job


def tune_compiled(compiled: CompiledModel, target: Target, store: RecordStore,
                  options: TuneOptions, progress: Callable[..., None] | None = None,
                  ) -> list[WorkloadResult]:
    """Tunes every kernel of one compiled specialisation into `store`."""
    types = {n: (t.static_shape(), t.dtype) for n, t in compiled.graph.types.items() if t.is_static}
    tuner = Tuner(target, store, options, progress)
    return tuner.tune(compiled.kernels, compiled.graph.constants, types)
