"""ReductionTemplate: every space point equals the default bit for bit (softmax, LayerNorm,
reductions over inner and outer axes, lengths not divisible by the vector width, 2 threads)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from onnxjit.schedules.reduction import ReductionTemplate

from tests.helpers import make_model
from tests.schedules.knob_check import check_space

RNG = np.random.default_rng(0)


def _f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("op", ["LayerNormalization", "Softmax"])
def test_softmax_and_layer_norm(op: str) -> None:
    x = _f32(6, 96)
    inputs, inits = (["x", "g", "b"], {"g": _f32(96), "b": _f32(96)}) if op != "Softmax" \
        else (["x"], {})
    model = make_model([helper.make_node(op, inputs, ["y"])], {"x": x}, ["y"], inits)
    assert check_space(model, {"x": x}, ReductionTemplate()) >= 8


@pytest.mark.parametrize("shape,axes", [((5, 37), [1]), ((4, 6, 40), [0]), ((4, 6, 40), [1]),
                                        ((3, 4, 64), [1, 2])])
def test_reduce_mean(shape: tuple[int, ...], axes: list[int]) -> None:
    x = _f32(*shape)
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)
    model = make_model([node], {"x": x}, ["y"], {"axes": np.array(axes, np.int64)}, opset=18)
    check_space(model, {"x": x}, ReductionTemplate())


def test_rms_norm_two_threads() -> None:
    x = _f32(9, 48)
    node = helper.make_node("RMSNormalization", ["x", "s"], ["y"])
    model = make_model([node], {"x": x}, ["y"], {"s": _f32(48)}, opset=23)
    check_space(model, {"x": x}, ReductionTemplate(), threads=2)


def test_softmax_batched_rows() -> None:
    x = _f32(2, 3, 64)
    model = make_model([helper.make_node("Softmax", ["x"], ["y"])], {"x": x}, ["y"])
    check_space(model, {"x": x}, ReductionTemplate())


def test_softmax_middle_axis() -> None:
    x = _f32(3, 20, 16)
    model = make_model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": x}, ["y"])
    check_space(model, {"x": x}, ReductionTemplate())
