"""Sparsity analysis, BSR packing and the per-layer sparse/dense choice."""
from __future__ import annotations

import numpy as np
import pytest

from onnxjit.compiler.sparsity import analyse, pack


def _pruned(rows: int, cols: int, zeros: float, block: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    keep = rng.random((rows // block, cols)) >= zeros
    return (rng.standard_normal((rows, cols)) * np.repeat(keep, block, axis=0)).astype(np.float32)


def test_dense_weights_stay_dense() -> None:
    info = analyse(_pruned(64, 64, 0.0, 1))
    assert info.density == 1.0 and not info.prefer_sparse


@pytest.mark.parametrize("zeros", [0.8, 0.9, 0.95])
def test_unstructured_prefers_csr(zeros: float) -> None:
    info = analyse(_pruned(256, 256, zeros, 1))
    assert info.block == 1 and info.prefer_sparse
    assert abs(info.density - (1 - zeros)) < 0.02


def test_block_structure_found() -> None:
    info = analyse(_pruned(256, 256, 0.9, 4))
    assert info.block in (4, 8) and info.prefer_sparse
    assert analyse(_pruned(256, 256, 0.9, 8)).block == 8


def test_half_zeros_unstructured_is_not_sparse() -> None:
    assert not analyse(_pruned(128, 128, 0.5, 1)).prefer_sparse


@pytest.mark.parametrize("block", [1, 2, 4])
def test_pack_round_trips(block: int) -> None:
    w = _pruned(16, 24, 0.7, block, seed=block)
    offsets = np.arange(24) * 100
    p = pack(w, block, lambda k: offsets[k])
    dense = np.zeros_like(w)
    for ib in range(16 // block):
        for b in range(p.ptr[ib], p.ptr[ib + 1]):
            k = int(p.off[b]) // 100
            dense[ib * block:(ib + 1) * block, k] = p.val[b * block:(b + 1) * block]
    np.testing.assert_array_equal(dense, w)
    assert all(np.all(np.diff(p.off[p.ptr[i]:p.ptr[i + 1]]) > 0) for i in range(16 // block))


def test_all_zero_weights_pack_to_nonempty_buffers() -> None:
    p = pack(np.zeros((8, 8), np.float32), 1, lambda k: k)
    assert p.val.size >= 1 and p.off.size >= 1 and int(p.ptr[-1]) == 0
