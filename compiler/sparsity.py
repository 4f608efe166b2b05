"""Compile-time analysis of constant weights: sparsity, block structure, packing, cost estimate.

Weights are viewed as rows (output channels) x K (input channel, tap) columns. A BR x 1 block is
BR consecutive output channels at one column: they share each input-row load in the kernel
(XNNPACK's NR), which is what makes output-channel blocks fast. The cost model counts work in
units of one dense multiply-accumulate; its constants come from the prototype's measurements
(shared/notes/proto-conv.md: CSR ~2.2 units per nonzero, 4x1 BSR ~4.1 per block).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BLOCK_ROWS = (8, 4, 2, 1)     # candidate BR, largest first
STEP_COST = 1.3               # per stored block: index load, loop step, input-row loads
ROW_COST = 0.9                # per row of a block: broadcast + FMAs (a full block costs > dense)
SPARSE_MARGIN = 0.85          # sparse must beat dense by this factor ("never slower than dense")


@dataclass(frozen=True)
class Sparsity:
    rows: int
    cols: int
    nnz: int
    block: int                # best BR
    blocks: int               # stored BR x 1 blocks at that BR

    @property
    def density(self) -> float:
        return self.nnz / max(1, self.rows * self.cols)

    @property
    def stored(self) -> int:
        return self.blocks * self.block

    def sparse_cost(self) -> float:
        return self.blocks * (STEP_COST + ROW_COST * self.block)

    def dense_cost(self) -> float:
        return float(self.rows * self.cols)

    @property
    def prefer_sparse(self) -> bool:
        return self.nnz > 0 and self.sparse_cost() < SPARSE_MARGIN * self.dense_cost()


def analyse(w2d: np.ndarray) -> Sparsity:
    """Sparsity of a (rows, cols) weight matrix and the block height that costs least."""
    rows, cols = (int(d) for d in w2d.shape)
    nz = w2d != 0
    best: Sparsity | None = None
    for br in BLOCK_ROWS:
        if rows % br:
            continue
        blocks = int(nz.reshape(rows // br, br, cols).any(axis=1).sum())
        cand = Sparsity(rows, cols, int(nz.sum()), br, blocks)
        if best is None or cand.sparse_cost() < best.sparse_cost():
            best = cand
    assert best is not None
    return best


@dataclass(frozen=True)
class Packed:
    """BSR (BR x 1 blocks; CSR when BR = 1): block b of row-block i is b in ptr[i]:ptr[i+1];
    its BR values are val[b*BR:(b+1)*BR] and it reads input offset off[b]."""

    val: np.ndarray           # float32 [blocks * BR]
    off: np.ndarray           # int32 [blocks]
    ptr: np.ndarray           # int32 [rows / BR + 1]
    block: int


def pack(w2d: np.ndarray, block: int, col_offset: Callable[[np.ndarray], np.ndarray]) -> Packed:
    """Packs (rows, cols) weights; `col_offset` maps column indices to input element offsets.
    Blocks of a row-block are sorted by offset (sequential input reads)."""
    rows, cols = w2d.shape
    mb = rows // block
    blocks = w2d.reshape(mb, block, cols)
    ib, k = np.nonzero((blocks != 0).any(axis=1))
    off = col_offset(k).astype(np.int64)
    order = np.lexsort((off, ib))
    ib, k, off = ib[order], k[order], off[order]
    val = blocks[ib, :, k].reshape(-1).astype(np.float32)
    ptr = np.zeros(mb + 1, np.int64)
    np.add.at(ptr, ib + 1, 1)
    ptr = np.cumsum(ptr)
    if len(off) == 0:  # all-zero weights: keep buffers non-empty
        val, off = np.zeros(block, np.float32), np.zeros(1, np.int64)
    if off.max(initial=0) >= 2**31:
        raise ValueError("input too large for 32-bit offsets")
    return Packed(np.ascontiguousarray(val), off.astype(np.int32), ptr.astype(np.int32), block)
