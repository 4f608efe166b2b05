"""Choosing each kernel's schedule: the best tuning record for this target, else the default."""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.schedules import select_template, template_by_name
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.records import RecordStore

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.pipeline import Chooser
    from onnxjit.targets.base import Target


def record_chooser(store: RecordStore, target: Target) -> Chooser:
    """A chooser reading the store once: records of other fingerprints are never applied."""
    records = store.load()
    fingerprint = target.fingerprint_key()

    def choose(kernel: Kernel, target: Target) -> tuple[ScheduleTemplate, Knobs]:
        best = store.best(kernel.workload_key, fingerprint, records)
        if best is not None:
            template = template_by_name(best.template)
            if template is not None and template.applicable(kernel, target):
                return template, best.knobs
        template = select_template(kernel, target)
        return template, template.default(kernel, target)

    return choose
