"""ReductionTemplate: every space point equals the default bit for bit (softmax, LayerNorm,
reductions over inner and outer axes, lengths not divisible by the vector width, 2 threads)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnxjit.schedules import schedule_kernel
from onnxjit.schedules.reduction import ReductionTemplate
from onnxjit.targets import get_target
from onnxjit.targets.cpu import vector_lanes

import onnxjit
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


def _vector_loops(model: object, x: np.ndarray) -> list[int]:
    """Extents of the vectorised loops in the default schedule of the model's one kernel."""
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)  # type: ignore[attr-defined]
    kernel = session.compiled({"x": x}).kernels[0]
    target = get_target("cpu", threads=1)
    text = schedule_kernel(kernel, target, ReductionTemplate()).script()
    return [int(n) for n in re.findall(r"T\.vectorized\((\d+)\)", text)]


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GroupNormalization"])
def test_spatial_statistics_sum_whole_vectors(op: str) -> None:
    """A GlobalAveragePool over 28x28 and a GroupNorm's statistics (8 channels of 12x12 per
    group) sum their contiguous run in vector lanes (rfactor over the fused reduce loops), not
    row by row or in gathers across channels or groups (which ran 3x slower; a 320-lane gather
    across GroupNorm channels took LLVM minutes to compile). Same numbers at every knob point."""
    if op == "GlobalAveragePool":
        x = _f32(1, 24, 28, 28)
        model = make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"])
    else:
        x = _f32(1, 32, 12, 12)
        node = helper.make_node(op, ["x", "s", "b"], ["y"], num_groups=4)
        model = make_model([node], {"x": x}, ["y"], {"s": _f32(32), "b": _f32(32)}, opset=21)
        model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, x.shape))
    lanes = vector_lanes(32)
    widths = _vector_loops(model, x)
    # the rfactor lanes: a multiple of the vector width; never the 24 channels or 4 groups
    assert widths and all(w % lanes == 0 for w in widths[:1]), widths
    assert 24 not in widths and 4 not in widths, widths
    check_space(model, {"x": x}, ReductionTemplate())
