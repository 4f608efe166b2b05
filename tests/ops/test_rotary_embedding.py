"""RotaryEmbedding (opset 23): 4-D and 3-D inputs, interleaved or halves, partial rotary dim,
with and without position ids."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

B, H, S, D = 2, 3, 5, 8


def _caches(rows: int, half: int) -> dict[str, np.ndarray]:
    angles = np.random.default_rng(1).uniform(0, 6.3, (rows, half))
    return {"cos": np.cos(angles).astype(np.float32), "sin": np.sin(angles).astype(np.float32)}


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rotary_dim", [0, 4])
@pytest.mark.parametrize("rank", [3, 4])
def test_with_position_ids(interleaved: int, rotary_dim: int, rank: int) -> None:
    rng = np.random.default_rng(0)
    shape = (B, H, S, D) if rank == 4 else (B, S, H * D)
    feeds = {"x": rng.standard_normal(shape).astype(np.float32),
             "pos": rng.integers(0, 16, (B, S)).astype(np.int64)}
    half = (rotary_dim or D) // 2
    attrs = {"interleaved": interleaved, "rotary_embedding_dim": rotary_dim}
    if rank == 3:
        attrs["num_heads"] = H
    node = helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"], **attrs)
    model = make_model([node], feeds, ["y"], initializers=_caches(16, half), opset=23)
    assert_matches(model, feeds, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("interleaved", [0, 1])
def test_without_position_ids(interleaved: int) -> None:
    rng = np.random.default_rng(2)
    angles = rng.uniform(0, 6.3, (B, S, D // 2))
    feeds = {"x": rng.standard_normal((B, H, S, D)).astype(np.float32),
             "cos": np.cos(angles).astype(np.float32), "sin": np.sin(angles).astype(np.float32)}
    node = helper.make_node("RotaryEmbedding", ["x", "cos", "sin"], ["y"], interleaved=interleaved)
    assert_matches(make_model([node], feeds, ["y"], opset=23), feeds, rtol=1e-5, atol=1e-6)
