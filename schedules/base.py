"""The ScheduleTemplate interface: a kernel family's search space, default point and how to apply one.

Knobs are plain data (a JSON-able mapping), so a tuning record is just the template name and its knobs,
and replaying a record is `apply(kernel, knobs)`.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Union

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import PrimFunc, Schedule
    from onnxjit.targets.base import Target

KnobValue = Union[int, str, bool]
Knobs = Mapping[str, KnobValue]


def knobs_key(knobs: Knobs) -> str:
    """Canonical text of a knob point (sorted JSON): equal knobs, equal keys."""
    return json.dumps(dict(knobs), sort_keys=True, separators=(",", ":"))


def inputs_by_param(kernel: Kernel) -> dict[str, str]:
    """Parameter name of the kernel's function -> the graph value passed to it (inputs only)."""
    return {str(p.name): value for p, value in zip(kernel.func.params, kernel.inputs)}


class ScheduleTemplate(ABC):
    """One family of schedules. `applicable` says no by returning False, never by raising."""

    name: ClassVar[str]
    # Whether the kernels load each input vector about once (the default of `rereads`).
    streams_inputs: ClassVar[bool] = False

    @abstractmethod
    def applicable(self, kernel: Kernel, target: Target) -> bool: ...

    @abstractmethod
    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        """A small (at most 64 points), deterministic list of candidate knob points."""

    @abstractmethod
    def default(self, kernel: Kernel, target: Target) -> Knobs:
        """A good untuned point; always in `space`."""

    def rereads(self, kernel: Kernel, knobs: Knobs) -> frozenset[str]:
        """The inputs of `kernel` that its loops load as vectors more than once. A feed bound to
        one of these is copied to 64-byte alignment first (runtime/executor.py): cache-line-split
        loads in re-read tiles cost more than the copy (a 56x56 sparse conv: 1.14 vs 0.70 ms);
        other inputs take numpy's 16-byte aligned arrays in place."""
        return frozenset() if self.streams_inputs else frozenset(kernel.inputs)

    def estimate(self, kernel: Kernel, knobs: Knobs, target: Target) -> float:
        """A cheap analytic cost (lower is better) that orders candidates best-first when tuning.

        The default ranks all points equal, so the tuner keeps `space()` order.
        """
        return 1.0

    @abstractmethod
    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        """Schedules `sch` (holding the kernel's function) in place; KnobError if knobs do not fit."""

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        """The kernel's function at this knob point, named `kernel.name`.

        The default schedules the lowered TE function with `apply`. Templates that generate their
        loop nest directly (register-tiled TVMScript, where a schedule cannot express the tile)
        override this instead and must compute exactly what `kernel.func` computes.
        """
        from onnxjit.compiler.tvm_api import Schedule

        sch = Schedule(kernel.func)
        self.apply(sch, kernel, knobs, target)
        return sch.mod["main"].with_attr("global_symbol", kernel.name)
