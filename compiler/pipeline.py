"""The compile pipeline: graph + input signature + target -> built kernels and an execution plan."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnxjit.compiler.errors import BuildError, LoweringError, OnnxJitError
from onnxjit.compiler.graph import Graph
from onnxjit.compiler.kernel import Kernel, build_kernel
from onnxjit.compiler.lower_context import LayoutHints
from onnxjit.compiler.partition import Alias, KernelGroup, partition
from onnxjit.compiler.passes import run_passes
from onnxjit.compiler.specialize import InputSignature, specialize
from onnxjit.compiler.tvm_api import IRModule
from onnxjit.runtime.plan import AliasStep, KernelCall, Plan, make_plan
from onnxjit.schedules import ScheduleTemplate, schedule_kernel, select_template
from onnxjit.schedules.base import Knobs
from onnxjit.targets.base import Target

# Chooses (template, knobs) for a kernel; the default is the template's default point.
Chooser = Callable[[Kernel, Target], "tuple[ScheduleTemplate, Knobs]"]


def default_choice(kernel: Kernel, target: Target) -> tuple[ScheduleTemplate, Knobs]:
    template = select_template(kernel, target)
    return template, template.default(kernel, target)


@dataclass(frozen=True)
class CompiledModel:
    graph: Graph                                  # the specialised graph
    signature: InputSignature
    kernels: tuple[Kernel, ...]
    choices: dict[str, tuple[str, dict[str, Any]]]  # kernel name -> (template, knobs)
    plan: Plan
    module: Any = field(repr=False)               # the built module holding every kernel
    constants: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    # kernel inputs loaded as vectors more than once (ScheduleTemplate.rereads); None: unknown, all
    rereads: frozenset[str] | None = None


def lower_graph(graph: Graph, sig: InputSignature, hints: LayoutHints = LayoutHints()
                ) -> tuple[Graph, list[Kernel], list[Any]]:
    """Specialises, runs the passes, partitions and lowers (with the target's layout `hints`);
    returns kernels and the step list."""
    spec = run_passes(specialize(graph, sig), hints)
    kernels: list[Kernel] = []
    steps: list[Any] = []
    for step in partition(spec):
        if isinstance(step, Alias):
            steps.append(AliasStep(step.node.inputs[0], step.node.outputs[0]))
            continue
        assert isinstance(step, KernelGroup)
        if all(_is_empty(spec.types[o].static_shape()) for o in step.output):
            continue  # nothing to compute: the (empty) outputs exist as buffers all the same
        kernel = build_kernel(step, spec, f"k{len(kernels)}_{_slug(step.nodes[0].op_type)}",
                              hints)
        kernels.append(kernel)
        steps.append(KernelCall(kernel.name, kernel.inputs + kernel.outputs, kernel.labels))
    return spec, kernels, steps


def compile_graph(graph: Graph, sig: InputSignature, target: Target,
                  choose: Chooser = default_choice) -> CompiledModel:
    spec, kernels, steps = lower_graph(graph, sig, LayoutHints.of(target))
    funcs: dict[str, Any] = {}
    choices: dict[str, tuple[str, dict[str, Any]]] = {}
    rereads: set[str] = set()
    for kernel in kernels:
        template, knobs = choose(kernel, target)
        rereads |= template.rereads(kernel, knobs)
        try:
            funcs[kernel.name] = schedule_kernel(kernel, target, template, knobs)
        except OnnxJitError:
            raise
        except Exception as exc:  # noqa: BLE001  (a TVM schedule error names no node: add it)
            raise LoweringError(kernel.nodes[0], kernel.op_types[0],
                                f"scheduling with {template.name} {dict(knobs)} failed: {exc}") from exc
        choices[kernel.name] = (template.name, dict(knobs))
    module = None
    if funcs:
        try:
            module = target.build(IRModule(funcs))
        except Exception as exc:  # noqa: BLE001
            raise BuildError(f"building {len(funcs)} kernels for {target.describe()} failed: {exc}") from exc
    types = static_types(spec)
    plan = make_plan(steps, types, spec.inputs, spec.outputs, set(spec.constants))
    constants = {c: spec.constants[c] for c in plan.constants}
    return CompiledModel(spec, sig, tuple(kernels), choices, plan, module, constants,
                         frozenset(rereads))


def static_types(graph: Graph) -> dict[str, tuple[tuple[int, ...], str]]:
    """Shape and dtype of every value of `graph` whose type is static."""
    return {n: (t.static_shape(), t.dtype) for n, t in graph.types.items() if t.is_static}


def _is_empty(shape: tuple[int, ...]) -> bool:
    return any(d == 0 for d in shape)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)
