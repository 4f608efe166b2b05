"""Sparse convs that copy a padded input lay its rows out on whole cache lines (ConvGeometry.wa,
compiler/passes/conv_rewrite.row_alignment) where that widens a row by <= 1/8: the packing's
offsets and every kernel over that geometry (sparse rows / flat tiles, the dense pixel and
channel kernels tuning may pick instead) must agree with onnxruntime."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx import helper

import onnxjit
from onnxjit.compiler.conv_geometry import ConvGeometry
from onnxjit.compiler.ops._tir import read_spec
from onnxjit.compiler.passes.conv_rewrite import row_alignment
from onnxjit.schedules import select_template
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.conv import ConvTemplate
from tests.helpers import make_model, run_onnxruntime

RTOL = 1e-4

# (x shape, w shape, attrs, expected wa): 28 wide (row 30 -> 32), stride 2 (31 -> 32), dilation 2
# (44 -> 48), a 5x5 tap window on 58 columns (62 -> 64); 7 wide stays unaligned (9 -> 16: +78%)
CASES = [((1, 16, 28, 28), (32, 16, 3, 3), {"pads": [1, 1, 1, 1]}, 16),
         ((1, 8, 21, 61), (16, 8, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}, 16),
         ((2, 8, 9, 40), (32, 8, 3, 3), {"dilations": [2, 2], "pads": [2, 2, 2, 2]}, 16),
         ((1, 4, 6, 58), (16, 4, 5, 5), {"pads": [2, 2, 2, 2]}, 16),
         ((1, 16, 7, 7), (32, 16, 3, 3), {"pads": [1, 1, 1, 1]}, 1)]

POINTS: list[Knobs | None] = [
    None,                                                                   # the default (sparse rows)
    {"impl": "sparse", "v": 2, "mode": "flat", "rows": 1},                  # flat tiles, cropped stores
    {"impl": "dense", "v": 2, "ct": 4, "cu": 1, "mode": "rows", "rows": 2, "cob": 0},
    {"impl": "dense_c", "v": 4, "ct": 1, "cu": 1, "mode": "rows", "rows": 2},
]


def _choose(point: Knobs | None) -> Callable[..., tuple[ScheduleTemplate, Knobs]]:
    def choose(kernel, target):  # type: ignore[no-untyped-def]
        template = select_template(kernel, target)
        knobs = template.default(kernel, target)
        if isinstance(template, ConvTemplate) and point is not None:
            knobs = {**knobs, **point}
        return template, knobs
    return choose


@pytest.mark.parametrize("point", range(len(POINTS)))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_aligned_rows_match_onnxruntime(case: int, point: int) -> None:
    shape, wshape, attrs, wa = CASES[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(wshape).astype(np.float32) * (rng.random(wshape) >= 0.9)
    inits = {"w": w.astype(np.float32), "b": rng.standard_normal(wshape[0]).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs),
             helper.make_node("Relu", ["c"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], inits)
    want = run_onnxruntime(model, {"x": x})[0]
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1, chooser=_choose(POINTS[point]))
    compiled = session.compiled({"x": x})
    (kernel,) = compiled.kernels
    spec = read_spec(kernel.func)
    assert spec is not None and spec["impl"] == "sparse" and spec["wa"] == wa, spec
    if POINTS[point] is not None:
        assert compiled.choices[kernel.name][1]["impl"] == POINTS[point]["impl"]
    got = session.run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max())


def test_row_alignment_rule() -> None:
    """Line-aligned rows only for padded copies and only where they cost <= 1/8 more row."""
    def geometry(h: int, w: int, k: int, pad: int, stride: int = 1) -> ConvGeometry:
        return ConvGeometry(1, 8, h, w, 8, 1, k, k, stride, stride, 1, 1, pad, pad, pad, pad)

    assert row_alignment(geometry(56, 56, 1, 0)) == 1          # a plain 1x1 reads X itself
    assert row_alignment(geometry(56, 56, 3, 1)) == 16         # 58 -> 64
    assert row_alignment(geometry(14, 14, 3, 1)) == 16         # 16: already whole lines
    assert row_alignment(geometry(14, 13, 3, 1)) == 16         # 15 -> 16 is within 1/8 ...
    assert row_alignment(geometry(10, 10, 3, 1)) == 1          # ... 12 -> 16 is not
    g = ConvGeometry(1, 8, 28, 28, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, wa=16)
    assert (g.wq, g.plane % 16, g.cplane % 16) == (32, 0, 0)
