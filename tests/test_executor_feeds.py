"""Large feeds are passed to the kernels in place when they can be: 64-byte aligned ones always,
ones with numpy's 16-byte alignment unless a kernel loads them as vectors more than once
(ScheduleTemplate.rereads: those get a 64-byte aligned copy, cheaper than cache-line-split loads;
kernels are compiled for 16-byte aligned parameters). Every way gives onnxruntime's results;
misaligned feeds are copied."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxjit
from onnxjit.runtime.executor import ZERO_COPY_BYTES
from tests.helpers import make_model, offset_copy, run_onnxruntime

RTOL = 1e-4


def _attention(rng: np.random.Generator) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    q, k, v = (rng.standard_normal((1, 256, 128), dtype=np.float32) for _ in range(3))
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"], q_num_heads=2, kv_num_heads=2,
                            is_causal=1)
    return make_model([node], {"q": q, "k": k, "v": v}, ["y"], opset=23), {"q": q, "k": k, "v": v}


def _decode(rng: np.random.Generator) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    q = rng.standard_normal((1, 1, 128), dtype=np.float32)
    k, v = (rng.standard_normal((1, 512, 128), dtype=np.float32) for _ in range(2))
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"], q_num_heads=2, kv_num_heads=2)
    return make_model([node], {"q": q, "k": k, "v": v}, ["y"], opset=23), {"q": q, "k": k, "v": v}


def _matmul(rng: np.random.Generator) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    a = rng.standard_normal((192, 256), dtype=np.float32)
    w = rng.standard_normal((256, 96), dtype=np.float32)
    return make_model([helper.make_node("MatMul", ["a", "w"], ["y"])], {"a": a}, ["y"],
                      initializers={"w": w}), {"a": a}


def _pruned_conv(rng: np.random.Generator) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    x = rng.standard_normal((1, 64, 24, 24), dtype=np.float32)
    w = rng.standard_normal((64, 64, 1, 1), dtype=np.float32)
    w[rng.random(w.shape) < 0.9] = 0  # sparse enough for the sparse kernel
    return make_model([helper.make_node("Conv", ["x", "w"], ["y"])], {"x": x}, ["y"],
                      initializers={"w": w}), {"x": x}


def _elementwise(rng: np.random.Generator) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    x, y = (rng.standard_normal((128, 256), dtype=np.float32) for _ in range(2))
    nodes = [helper.make_node("Mul", ["x", "y"], ["t"]),
             helper.make_node("Add", ["t", "x"], ["y2"]), helper.make_node("Sigmoid", ["y2"], ["z"])]
    return make_model(nodes, {"x": x, "y": y}, ["z"]), {"x": x, "y": y}


def _cumsum(rng: np.random.Generator) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    x = rng.standard_normal((64, 512), dtype=np.float32)
    axis = np.array(1, np.int64)
    return make_model([helper.make_node("CumSum", ["x", "axis"], ["y"])], {"x": x}, ["y"],
                      initializers={"axis": axis}), {"x": x}


Case = Callable[[np.random.Generator], tuple[onnx.ModelProto, dict[str, np.ndarray]]]
# case -> (model builder, the feeds that stay in place at 16 bytes)
CASES: dict[str, tuple[Case, set[str]]] = {
    "elementwise": (_elementwise, {"x", "y"}), "cumsum": (_cumsum, {"x"}),
    "attention": (_attention, {"q", "k"}),  # V rows are vector loads, re-read per query block
    "decode": (_decode, {"k", "v"}),  # one query block reads V once (q is small: copied)
    "matmul": (_matmul, {"a"}),  # A is read as broadcast scalars
    # an unpacked sparse 1x1 (packing does not pay at 64 channels: test_sparse_conv_packed.py)
    "pruned_conv": (_pruned_conv, set())}


@pytest.mark.parametrize("case", sorted(CASES))
def test_aligned_feeds_run_in_place(case: str) -> None:
    """At every 16-byte offset: in place unless re-read (at 64 bytes: all), else copied."""
    build, streamed = CASES[case]
    model, feeds = build(np.random.default_rng(7))
    expected = run_onnxruntime(model, feeds)
    session = onnxjit.InferenceSession(model.SerializeToString())
    for misalign in (16, 32, 48, 0):
        shifted = {name: offset_copy(value, misalign) for name, value in feeds.items()}
        got = session.run(None, shifted)
        large = {n for n, v in feeds.items() if v.nbytes >= ZERO_COPY_BYTES}  # others: copied
        in_place = large if misalign == 0 else streamed
        assert session.executor(shifted).last_in_place == in_place, misalign
        np.testing.assert_allclose(got[0], expected[0], rtol=RTOL, atol=RTOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_feeds_that_cannot_be_bound_are_copied(case: str) -> None:
    model, feeds = CASES[case][0](np.random.default_rng(8))
    expected = run_onnxruntime(model, feeds)
    session = onnxjit.InferenceSession(model.SerializeToString())
    misaligned = {name: offset_copy(value, 4) for name, value in feeds.items()}
    got = session.run(None, misaligned)
    assert session.executor(misaligned).last_in_place == frozenset()
    np.testing.assert_allclose(got[0], expected[0], rtol=RTOL, atol=RTOL)


def test_outputs_held_by_the_caller_are_never_overwritten() -> None:
    """Large outputs are fresh arrays, recycled (with their cached kernel views) only once the
    caller has dropped them and every view of them."""
    model, feeds = _matmul(np.random.default_rng(9))
    other = {"a": feeds["a"] * 2}
    session = onnxjit.InferenceSession(model.SerializeToString())
    first = session.run(None, feeds)[0]
    kept = first.copy()
    second = session.run(None, other)[0]
    np.testing.assert_array_equal(first, kept)  # held array
    corner = second[:2, :3]
    corner_kept = corner.copy()
    address = second.ctypes.data
    del second
    session.run(None, feeds)
    np.testing.assert_array_equal(corner, corner_kept)  # held view of a dropped array
    del corner
    third = session.run(None, other)[0]
    address = third.ctypes.data
    del third
    fourth = session.run(None, feeds)[0]
    assert fourth.ctypes.data == address  # dropped: recycled
    np.testing.assert_allclose(fourth, run_onnxruntime(model, feeds)[0], rtol=RTOL, atol=RTOL)
