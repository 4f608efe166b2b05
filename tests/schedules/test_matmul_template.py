"""MatmulTemplate: every space point equals the default bit for bit (ragged M/N, batched,
run-time and packed B, fused epilogue, 1 and 2 threads); spaces stay small; bad knobs raise."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.tvm_api import Schedule
from onnxjit.schedules.matmul import MatmulTemplate

from tests.helpers import make_model
from tests.schedules.knob_check import check_space, kernels

RNG = np.random.default_rng(0)


def _f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _constant_b_model(m: int, k: int, n: int):
    a, w, b = _f32(m, k), _f32(k, n), _f32(n)
    nodes = [helper.make_node("MatMul", ["a", "w"], ["y"]),
             helper.make_node("Add", ["y", "b"], ["z"]),
             helper.make_node("Relu", ["z"], ["out"])]
    return make_model(nodes, {"a": a}, ["out"], {"w": w, "b": b}), {"a": a}


@pytest.mark.parametrize("m,k,n", [(13, 20, 37), (5, 9, 48), (12, 24, 80)])
def test_packed_weights_all_points_equal(m: int, k: int, n: int) -> None:
    model, feeds = _constant_b_model(m, k, n)
    assert check_space(model, feeds, MatmulTemplate()) >= 3


def test_k_blocks_all_points_equal() -> None:
    model, feeds = _constant_b_model(6, 1024, 16)      # K large enough for K-blocked points
    ks, _, _, target = kernels(model, feeds)
    assert any(p.get("kc") for p in MatmulTemplate().space(ks[0], target))
    check_space(model, feeds, MatmulTemplate())


def test_runtime_batched_b_all_points_equal() -> None:
    a, b = _f32(2, 14, 12), _f32(2, 12, 16)
    model = make_model([helper.make_node("MatMul", ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"])
    assert check_space(model, {"a": a, "b": b}, MatmulTemplate()) >= 6


def test_gemm_narrow_n_two_threads() -> None:
    a, b, c = _f32(19, 8), _f32(8, 5), _f32(5)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5)
    model = make_model([node], {"a": a, "b": b}, ["y"], {"c": c})
    check_space(model, {"a": a, "b": b}, MatmulTemplate(), threads=2)


def test_two_threads_all_points_equal() -> None:
    model, feeds = _constant_b_model(30, 16, 40)
    check_space(model, feeds, MatmulTemplate(), threads=2)


def test_tile_height_must_divide_rows() -> None:
    model, feeds = _constant_b_model(13, 8, 16)     # 13 rows pad to 18: 4 does not divide
    ks, _, _, target = kernels(model, feeds)
    template = MatmulTemplate()
    assert all(18 % int(p["mi"]) == 0 for p in template.space(ks[0], target))
    knobs = {**template.default(ks[0], target), "mi": 4}
    with pytest.raises(KnobError):
        template.apply(Schedule(ks[0].func), ks[0], knobs, target)


class _Vectors:
    """A stand-in target for the tile list: its vector width and register file only."""

    def __init__(self, lanes: int, registers: int | None = None) -> None:
        self.vector_lanes = lanes
        if registers is not None:
            self.vector_registers = registers


class _Dims:
    def __init__(self, m: int, n: int) -> None:
        self.m, self.n, self.k, self.bits = m, n, 64, 32


def test_wide_tiles_only_with_four_rows() -> None:
    tiles = MatmulTemplate._tile_shapes
    # 32 zmm: 5 panels (N = 80) take 4x5 (20 accumulators) over 8x1 / 6x1.
    assert tiles(_Dims(12, 80), _Vectors(16))[0] == (4, 5, False)
    # No tile wider than 4 panels under 4 rows (B would stream from L2 at 1-2 FMAs per load).
    for m in (1, 2, 3, 6, 258):
        assert all(nt <= 4 or mi >= 4 for mi, nt, _ in tiles(_Dims(m, 160), _Vectors(16)))
    # 16 ymm and wasm's budgets keep their narrow tiles.
    assert max(nt for _, nt, _ in tiles(_Dims(12, 80), _Vectors(8))) == 1
    assert tiles(_Dims(12, 64), _Vectors(4, 14)) == [
        (4, 1, True), (2, 1, False), (3, 1, True), (2, 1, True), (1, 1, False), (1, 1, True)]
