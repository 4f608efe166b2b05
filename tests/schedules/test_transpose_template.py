"""TransposeTemplate: applies to kernels that bring an inner input axis outward, every space point
equals the default bit for bit, and the results are numpy's (odd sizes, 2 threads, epilogues)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from onnxjit.schedules.transpose import TransposeTemplate
from tests.helpers import assert_matches, make_model
from tests.schedules.knob_check import check_space, kernels

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,perm", [((1, 48, 64), [0, 2, 1]), ((37, 53), [1, 0]),
                                        ((2, 32, 3, 40), [0, 3, 2, 1]), ((16, 17, 18), [2, 0, 1])])
@pytest.mark.parametrize("threads", [1, 2])
def test_space_matches_default_and_numpy(shape: tuple[int, ...], perm: list[int],
                                         threads: int) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], {"x": x}, ["y"])
    assert check_space(model, {"x": x}, TransposeTemplate(), threads) == 3
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=threads)
    assert session.compiled({"x": x}).choices["k0_Transpose"][0] == "transpose"
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], np.transpose(x, perm))


@pytest.mark.parametrize("shape,perm", [((4, 8, 64), [1, 0, 2]),   # innermost axis stays
                                        ((1, 4, 8), [0, 2, 1])])   # too small to pay
def test_not_applicable(shape: tuple[int, ...], perm: list[int]) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    model = make_model([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], {"x": x}, ["y"])
    ks, _, _, target = kernels(model, {"x": x})
    assert not any(TransposeTemplate().applicable(k, target) for k in ks)


def test_int64_and_a_fused_reader() -> None:
    # Transpose feeding an elementwise op: a two-block kernel the template declines or handles;
    # either way the result is right.
    x = RNG.integers(-9, 9, (24, 40)).astype(np.int64)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0]),
             helper.make_node("Neg", ["t"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"])
    assert_matches(model, {"x": x}, rtol=0, atol=0)
