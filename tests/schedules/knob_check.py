"""Every knob point of a template computes the same numbers as its default point.

All points of one kernel are built into one module (one LLVM run) and called on the same inputs;
results must be bit-identical, since templates only re-tile loops whose summation order they fix.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnxjit.compiler.kernel import Kernel
from onnxjit.compiler.tvm_api import IRModule, as_tensor
from onnxjit.runtime.executor import aligned_copy, aligned_empty
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.targets.base import Target

import onnxjit


def kernels(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], threads: int = 1
            ) -> tuple[list[Kernel], dict[str, np.ndarray], dict[str, tuple], Target]:
    """The compiled kernels of `model`, known values (feeds and constants), value types, target."""
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=threads)
    compiled = session.compiled(feeds)
    values = {**{k: np.asarray(v) for k, v in compiled.constants.items()}, **feeds}
    types = {n: (t.static_shape(), t.dtype) for n, t in compiled.graph.types.items()
             if t.is_static}
    return list(compiled.kernels), values, types, session.target


def check_space(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray],
                template: ScheduleTemplate, threads: int = 1) -> int:
    """Asserts every space point of every kernel `template` applies to equals the default.

    Returns the number of points checked.
    """
    ks, values, types, target = kernels(model, feeds, threads)
    checked = 0
    for kernel in ks:
        if not template.applicable(kernel, target):
            continue
        space = template.space(kernel, target)
        default = template.default(kernel, target)
        assert 1 <= len(space) <= 64, f"{kernel.name}: {len(space)} points"
        assert default in space, f"{kernel.name}: default {default} not in space"
        results = _run_points(kernel, [default, *space], template, values, types, target)
        for knobs, outs in zip(space, results[1:]):
            for got, want, name in zip(outs, results[0], kernel.outputs):
                np.testing.assert_array_equal(got, want, err_msg=f"{kernel.name} {name} {knobs}")
        checked += len(space)
    assert checked, "the template applied to no kernel"
    return checked


def _run_points(kernel: Kernel, points: list[Knobs], template: ScheduleTemplate,
                values: Mapping[str, np.ndarray], types: Mapping[str, tuple],
                target: Target) -> list[list[np.ndarray]]:
    funcs = {}
    for i, knobs in enumerate(points):
        func = template.instantiate(kernel, knobs, target)
        funcs[f"{kernel.name}_p{i}"] = func.with_attr("global_symbol", f"{kernel.name}_p{i}")
    module = target.build(IRModule(funcs))
    inputs = [as_tensor(aligned_copy(np.ascontiguousarray(values[v]))) for v in kernel.inputs]
    results = []
    for i in range(len(points)):
        outs = [aligned_empty(*types[o]) for o in kernel.outputs]
        for out in outs:
            out.fill(np.nan if out.dtype.kind == "f" else 0)
        module[f"{kernel.name}_p{i}"](*inputs, *(as_tensor(o) for o in outs))
        results.append([np.array(o) for o in outs])
    return results
