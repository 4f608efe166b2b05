"""InterleaveTemplate: applies to transposes whose output ends in short axes right after the one
walking the input's rows (ConvTranspose's phase interleave, pixel shuffle), every space point equals
the default bit for bit, and the results are numpy's (1 and 2 threads)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from onnxjit.schedules.interleave import InterleaveTemplate
from tests.helpers import make_model, run_onnxruntime
from tests.schedules.knob_check import check_space, kernels

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,perm", [((1, 2, 2, 24, 20, 20), [0, 3, 4, 1, 5, 2]),   # 2x2 phases
                                        ((1, 3, 8, 33), [0, 2, 3, 1]),                 # 1-d, s = 3
                                        ((2, 2, 2, 5, 3, 16, 17), [0, 1, 4, 5, 2, 6, 3])])
@pytest.mark.parametrize("threads", [1, 2])
def test_space_matches_default_and_numpy(shape: tuple[int, ...], perm: list[int], threads: int) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], {"x": x}, ["y"])
    assert check_space(model, {"x": x}, InterleaveTemplate(), threads) == 3
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=threads)
    assert session.compiled({"x": x}).choices["k0_Transpose"][0] == "interleave"
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], np.transpose(x, perm))


@pytest.mark.parametrize("shape,perm", [((4, 8, 64), [1, 0, 2]),        # innermost axis stays
                                        ((2, 40, 48), [0, 2, 1]),       # a plain transpose
                                        ((2, 2, 10), [0, 2, 1])])       # long axis too short
def test_not_applicable(shape: tuple[int, ...], perm: list[int]) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], {"x": x}, ["y"])
    ks, _, _, target = kernels(model, {"x": x})
    assert not any(InterleaveTemplate().applicable(k, target) for k in ks)


@pytest.mark.parametrize("threads", [1, 2])
def test_phase_interleave_of_a_conv_transpose(threads: int) -> None:
    """torch's ConvTranspose2d(3, stride 2, pad 1, output_padding 1): one conv per phase, woven by
    onnxjit::PhaseInterleave, which this template schedules (default knobs: check_space needs kernel
inputs known up front, and these are the convs' outputs); the result is onnxruntime's."""
    x = RNG.standard_normal((1, 4, 20, 20)).astype(np.float32)
    w = (RNG.standard_normal((4, 6, 3, 3)) / 6).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1],
                            output_padding=[1, 1])
    model = make_model([node], {"x": x}, ["y"], {"w": w})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=threads)
    assert ("interleave", {"grain": 64}) in session.compiled({"x": x}).choices.values()
    np.testing.assert_allclose(session.run(None, {"x": x})[0], run_onnxruntime(model, {"x": x})[0],
                               rtol=1e-4, atol=1e-5)
