"""Issue 5's templates (CumSum, LinearScan, SelectiveScan, CausalConvWithState, LinearAttention):
every space point computes what the default point computes; bad knobs raise KnobError.

Points may sum in different orders (readout trees, vector widths), so they are compared with a
tight tolerance; CumSum points only re-tile and must be bit-identical.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from benchmarks.scan import causal_conv, linear_attention, scan_linear, scan_mamba
from onnxjit.compiler.errors import KnobError
from onnxjit.schedules.base import ScheduleTemplate
from onnxjit.schedules.causal_conv import CausalConvTemplate
from onnxjit.schedules.cumsum import CumSumTemplate
from onnxjit.schedules.linear_attention import LinearAttentionTemplate
from onnxjit.schedules.scan import LinearScanTemplate, SelectiveScanTemplate
from tests.helpers import make_model
from tests.schedules.knob_check import _run_points, kernels


def _check(model: object, feeds: dict[str, np.ndarray], template: ScheduleTemplate,
           exact: bool, threads: int = 1) -> None:
    ks, values, types, target = kernels(model, feeds, threads)  # type: ignore[arg-type]
    mine = [k for k in ks if template.applicable(k, target)]
    assert mine, "the template applied to no kernel"
    for kernel in mine:
        space, default = template.space(kernel, target), template.default(kernel, target)
        assert 1 <= len(space) <= 64 and default in space
        results = _run_points(kernel, [default, *space], template, values, types, target)
        for knobs, outs in zip(space, results[1:]):
            for got, want in zip(outs, results[0]):
                if exact:
                    np.testing.assert_array_equal(got, want, err_msg=str(knobs))
                else:
                    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6 * np.abs(want).max(),
                                               err_msg=str(knobs))
        with pytest.raises(KnobError):
            template.instantiate(kernel, {"bogus": 3}, target)


@pytest.mark.parametrize("threads,cols", [(1, 45), (2, 45), (1, 64), (2, 128)])
def test_cumsum(threads: int, cols: int) -> None:
    # 64/128 columns: rows of whole vectors also get the non-temporal-store point
    x = np.random.default_rng(0).standard_normal((7, cols)).astype(np.float32)
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], reverse=1)
    # (a 1-element axis: knob_check passes constants through np.ascontiguousarray, 0-d -> 1-d)
    model = make_model([node], {"x": x}, ["y"], {"axis": np.array([0], np.int64)})
    _check(model, {"x": x}, CumSumTemplate(), exact=True, threads=threads)


def test_linear_scan() -> None:
    # (both readout spellings become the same LinearScan kernel: tests/ops/test_scan.py)
    _check(*scan_linear("rs", length=6, d=32, n=16), LinearScanTemplate(), exact=False)


def test_linear_scan_two_threads_odd_length() -> None:
    # channel halves per thread; 7 steps in time chunks with a tail; prefetch past the end
    _check(*scan_linear("matmul", length=7, d=32, n=16), LinearScanTemplate(), exact=False,
           threads=2)


def test_selective_scan_two_threads() -> None:
    _check(*scan_mamba("matmul", length=6, d=32, n=16), SelectiveScanTemplate(), exact=False,
           threads=2)


def test_selective_scan_odd_sizes_two_threads() -> None:
    # 3 channel blocks over 2 threads, N = 12 in groups, 37 steps in chunks with a tail
    _check(*scan_mamba("rs", length=37, d=48, n=12), SelectiveScanTemplate(), exact=False,
           threads=2)


def test_causal_conv() -> None:
    _check(*causal_conv(channels=6, k=4, t=45), CausalConvTemplate(), exact=False)


@pytest.mark.parametrize("rule", ["linear", "gated_delta"])
def test_linear_attention(rule: str) -> None:
    # (sweep and register-tile points sum the readout in different orders)
    _check(*linear_attention(rule, t=37, heads=2, dk=32), LinearAttentionTemplate(), exact=False)
