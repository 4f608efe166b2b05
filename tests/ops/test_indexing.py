"""Tile, Trilu, GatherElements, Range: index-mapping ops (one TE compute each)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

X = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)


@pytest.mark.parametrize("repeats", [[1, 1, 1], [2, 1, 3], [1, 4, 1], [3, 2, 2]])
def test_tile(repeats: list[int]) -> None:
    model = make_model([helper.make_node("Tile", ["x", "r"], ["y"])], {"x": X}, ["y"],
                       initializers={"r": np.array(repeats, np.int64)})
    assert_matches(model, {"x": X}, rtol=0, atol=0)


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, -2, 0, 1, 5])
@pytest.mark.parametrize("runtime_k", [False, True])
def test_trilu(upper: int, k: int | None, runtime_k: bool) -> None:
    feeds = {"x": X}
    inputs, inits = ["x"], {}
    if k is not None:
        inputs.append("k")
        (feeds if runtime_k else inits)["k"] = np.array(k, np.int64)
    model = make_model([helper.make_node("Trilu", inputs, ["y"], upper=upper)], feeds, ["y"],
                       initializers=inits)
    assert_matches(model, feeds, rtol=0, atol=0)


@pytest.mark.parametrize("axis", [0, 1, 2])  # (the reference evaluator mishandles axis=-1)
def test_gather_elements(axis: int) -> None:
    rng = np.random.default_rng(1)
    dim = X.shape[axis]
    shape = list(X.shape)
    shape[axis] = 5
    idx = rng.integers(-dim, dim, shape).astype(np.int64)
    model = make_model([helper.make_node("GatherElements", ["x", "i"], ["y"], axis=axis)],
                       {"x": X, "i": idx}, ["y"])
    assert_matches(model, {"x": X, "i": idx}, rtol=0, atol=0)


@pytest.mark.parametrize("start,limit,delta,dtype", [
    (1.0, 7.5, 0.5, "float32"), (10, 2, -3, "int64"), (0, 0, 1, "int32"), (5, 1, 1, "int32")])
def test_range_feeding_a_kernel(start: float, limit: float, delta: float, dtype: str) -> None:
    # Range's inputs are constants (as exporters emit them); the result feeds a run-time Add.
    z = np.array(1, dtype)
    inits = {n: np.array(v, dtype) for n, v in (("s", start), ("l", limit), ("d", delta))}
    nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"]),
             helper.make_node("Add", ["r", "z"], ["y"])]
    model = make_model(nodes, {"z": z}, ["y"], initializers=inits)
    assert_matches(model, {"z": z}, rtol=0, atol=0)
