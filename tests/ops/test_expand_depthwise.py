"""A sparse 1x1 conv read only by a depthwise conv runs as one onnxjit::ExpandDepthwise kernel
(compiler/passes/expand_depthwise.py, schedules/conv_expand_dw.py): against onnxruntime for both
strides, 4x1 blocks, pixel tails, batches, dilation, a dense pointwise half and epilogues on both halves (the depthwise
one with a residual), at every point of the template's space and through the plain reference
lowering; and the pairs that must stay two kernels. Rows of >= 1 vector are stored straight into
the depthwise conv's padded copy (stride 1 whole vectors, stride 2 deinterleaved pairs, halves
and lane tails; cases 0, 1 and 4), narrower ones go through a scratch (cases 2, 3)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx import helper

import onnxjit
from onnxjit.schedules import select_template
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.conv_expand_dw import ExpandDepthwiseTemplate
from tests.helpers import make_model, run_onnxruntime

RTOL = 1e-4

# (x shape, expanded channels, pointwise zeros and pattern, depthwise attrs, depthwise epilogue)
CASES = [((1, 8, 20, 20), 48, 0.7, "u", {"pads": [1, 1, 1, 1], "strides": [2, 2]}, "clip"),
         ((2, 16, 15, 37), 32, 0.9, "4x1", {"pads": [1, 1, 1, 1]}, "clip"),
         ((1, 12, 9, 9), 24, 0.8, "u", {"pads": [2, 2, 2, 2], "dilations": [2, 2]}, "relu"),
         ((1, 16, 7, 7), 64, 0.9, "u", {"pads": [1, 1, 1, 1]}, "add"),
         # a dense pointwise conv whose output (1 MB) would spill from L2: 8-row blocks, all stored
         ((1, 8, 64, 64), 64, 0.0, "u", {"pads": [1, 1, 1, 1], "strides": [2, 2]}, "clip")]


def _model(case: int) -> tuple[object, dict[str, np.ndarray]]:
    shape, m, zeros, pattern, dw_attrs, dw_post = CASES[case]
    rng = np.random.default_rng(case)
    c = shape[1]
    x = rng.standard_normal(shape).astype(np.float32)
    rows = m // 4 if pattern == "4x1" else m
    keep = rng.random((rows, c, 1, 1)) >= zeros
    keep = np.repeat(keep, 4, axis=0) if pattern == "4x1" else keep
    w1 = (rng.standard_normal((m, c, 1, 1)) * keep).astype(np.float32)
    inits = {"w1": w1, "b1": rng.standard_normal(m).astype(np.float32),
             "w2": rng.standard_normal((m, 1, 3, 3)).astype(np.float32),
             "b2": rng.standard_normal(m).astype(np.float32), "lo": np.float32(0), "hi": np.float32(6)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"]),
             helper.make_node("Clip", ["a", "lo", "hi"], ["e"]),
             helper.make_node("Conv", ["e", "w2", "b2"], ["d"], group=m, **dw_attrs)]
    if dw_post == "add":
        inits["r"] = rng.standard_normal((shape[0], m, shape[2], shape[3])).astype(np.float32)
        nodes.append(helper.make_node("Add", ["d", "r"], ["y"]))
    elif dw_post == "relu":
        nodes.append(helper.make_node("Relu", ["d"], ["y"]))
    else:
        nodes.append(helper.make_node("Clip", ["d", "lo", "hi"], ["y"]))
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


class _Plain(ScheduleTemplate):
    """The lowering's own loop nest, unscheduled (the reference the fused kernel must equal)."""

    name = "plain"

    def applicable(self, kernel, target):  # type: ignore[no-untyped-def]
        return True

    def space(self, kernel, target):  # type: ignore[no-untyped-def]
        return [{}]

    def default(self, kernel, target):  # type: ignore[no-untyped-def]
        return {}

    def apply(self, sch, kernel, knobs, target):  # type: ignore[no-untyped-def]
        pass

    def instantiate(self, kernel, knobs, target):  # type: ignore[no-untyped-def]
        return kernel.func.with_attr("global_symbol", kernel.name)


def _point(index: int | None) -> Callable[..., tuple[ScheduleTemplate, Knobs]]:
    """A chooser: point `index` of the fused template's space, or (None) the plain reference."""
    def choose(kernel, target):  # type: ignore[no-untyped-def]
        template = select_template(kernel, target)
        if not isinstance(template, ExpandDepthwiseTemplate):
            return template, template.default(kernel, target)
        if index is None:
            return _Plain(), {}
        space = template.space(kernel, target)
        return template, space[min(index, len(space) - 1)]
    return choose


@pytest.mark.parametrize("point", [0, 1, -1, None])   # -1: through the scratch (rows >= 1 vector)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_fused_pair_matches_onnxruntime(case: int, point: int | None) -> None:
    model, feeds = _model(case)
    want = run_onnxruntime(model, feeds)[0]
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1, chooser=_point(point))
    compiled = session.compiled(feeds)
    assert [k.op_types for k in compiled.kernels] == [("ExpandDepthwise",)]
    assert compiled.choices[compiled.kernels[0].name][0] == ("plain" if point is None else "expand_dw")
    got = session.run(None, feeds)[0]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max())


def _pair(pw_zeros: float, residual: bool, second_reader: bool, multiplier: int) -> tuple[object, dict]:
    rng = np.random.default_rng(7)
    c, m = 8, 16
    x = rng.standard_normal((1, c, 12, 12)).astype(np.float32)
    w1 = (rng.standard_normal((m, c, 1, 1)) * (rng.random((m, c, 1, 1)) >= pw_zeros)).astype(np.float32)
    inits = {"w1": w1, "w2": rng.standard_normal((m * multiplier, 1, 3, 3)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"])]
    first = "a"
    if residual:
        inits["r"] = rng.standard_normal((1, m, 12, 12)).astype(np.float32)
        nodes.append(helper.make_node("Add", ["a", "r"], ["s"]))
        first = "s"
    nodes.append(helper.make_node("Conv", [first, "w2"], ["y"], group=m, pads=[1, 1, 1, 1]))
    outputs = ["y", first] if second_reader else ["y"]
    return make_model(nodes, {"x": x}, outputs, inits), {"x": x}


@pytest.mark.parametrize("pw_zeros,residual,second_reader,multiplier", [
    (0.0, False, False, 1),     # dense pointwise, its output fits L2
    (0.9, True, False, 1),      # the pointwise conv adds a residual
    (0.9, False, True, 1),      # its output is also a graph output
    (0.9, False, False, 2)])    # two depthwise outputs per channel
def test_pairs_left_unfused(pw_zeros: float, residual: bool, second_reader: bool, multiplier: int) -> None:
    model, feeds = _pair(pw_zeros, residual, second_reader, multiplier)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    compiled = session.compiled(feeds)
    assert all(k.op_types != ("ExpandDepthwise",) for k in compiled.kernels)
    for got, want in zip(session.run(None, feeds), run_onnxruntime(model, feeds)):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max())
