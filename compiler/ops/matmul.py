"""MatMul: numpy matmul semantics (1-D promotion, batched, broadcast batch dims).

The contraction is computed on a padded domain over a panel-packed B, so that CPU register tiles
never need bounds checks in their inner loop:
  * B is read as panels Bp[..., N/16, K, 16] (16 columns contiguous for each k, zero padded). A
    constant B is packed once at compile time (compiler/passes/pack_weights.py turns the node into
    onnxjit::MatMul); a run-time B is packed by a stage of the kernel itself ("pack_b"),
    which the schedule may keep (large M) or inline (small M).
  * M is padded to a multiple of 6 (above 6 rows; the target's LayoutHints.matmul_row_grain: 4 on
    wasm), so tile heights 1/2/3/6 divide it; padding rows read A's last row (a clamped index:
    finite values, no copy of A) and are never stored.
  * The result stage reads the valid [M, N] corner; elementwise epilogues fuse onto it.
Packing only permutes and zero-pads, and every tiling sums k in order: numerics are unchanged.
Narrow products (N < 8, e.g. matrix x vector) keep the plain layout.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import broadcast_index, broadcast_shape
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

Expr = Any
PANEL = 16          # columns of B per packed panel: two AVX2 / one AVX-512 fp32 vectors
MIN_PANEL_N = 8     # narrower products are not worth padding to a panel
ROW_GRAIN = 6       # M is padded to a multiple of this (the default register-tile height)
ACC_SUFFIX = "matmul"    # name suffix of the contraction block (schedules look for it)
PACK_SUFFIX = "pack_b"   # name suffix of the in-kernel B packing stage


def round_up(n: int, m: int) -> int:
    return (n + m - 1) // m * m


def padded_rows(m: int, grain: int = ROW_GRAIN) -> int:
    return m if m <= grain else round_up(m, grain)


def use_panels(n: int) -> bool:
    return n >= MIN_PANEL_N


def pack_panels(b: np.ndarray, trans: bool = False) -> np.ndarray:
    """[..., K, N] (or [..., N, K] if trans) -> [..., ceil(N/16), K, 16], zero padded."""
    if trans:
        b = np.swapaxes(b, -1, -2)
    *batch, k, n = b.shape
    panels = round_up(n, PANEL) // PANEL
    padded = np.zeros((*batch, k, panels * PANEL), dtype=b.dtype)
    padded[..., :n] = b
    packed = padded.reshape(*batch, k, panels, PANEL)
    return np.ascontiguousarray(np.moveaxis(packed, -2, -3))


@dataclass(frozen=True)
class Contraction:
    """acc[*batch, Mp, Np] = A x B on the padded domain; `at` reads logical element (i, j)."""

    acc: te.Tensor
    batch: tuple[int, ...]
    m: int
    n: int

    def at(self, bidx: list[Expr], i: Expr, j: Expr) -> Expr:
        return self.acc(*bidx, i, j)


def contraction(ctx: LowerContext, a: te.Tensor, b: te.Tensor, *, trans_a: bool = False,
                trans_b: bool = False, packed_n: int | None = None,
                name: str = "") -> tuple[Contraction, bool, bool]:
    """The contraction of A and B (numpy rules), and whether A / B were 1-D.

    `packed_n` marks b as already panel-packed ([*, N/16, K, 16]) for a logical width N.
    """
    a_shape, b_shape = [int(d) for d in a.shape], [int(d) for d in b.shape]
    if not a_shape or not b_shape:
        raise ctx.error("MatMul inputs must have rank >= 1")
    a_vec = len(a_shape) == 1
    m, k = (1, a_shape[0]) if a_vec else (a_shape[-2], a_shape[-1])
    if trans_a and not a_vec:
        m, k = k, m
    a_batch = [] if a_vec else a_shape[:-2]
    if packed_n is not None:
        b_vec, n, k2, b_batch = False, packed_n, b_shape[-2], b_shape[:-3]
    else:
        b_vec = len(b_shape) == 1
        k2, n = (b_shape[0], 1) if b_vec else (b_shape[-2], b_shape[-1])
        if trans_b and not b_vec:
            k2, n = n, k2
        b_batch = [] if b_vec else b_shape[:-2]
    if k != k2:
        raise ctx.error(f"inner dimensions differ: {a_shape} x {b_shape}")
    batch = broadcast_shape(ctx, [a_batch, b_batch])
    nb = len(batch)
    prefix = f"{name}_" if name else ""

    def read_a(bidx: list[Expr], i: Expr, r: Expr) -> Expr:
        if a_vec:
            return a(r)
        ab = broadcast_index(a_batch, bidx)
        return a(*ab, r, i) if trans_a else a(*ab, i, r)

    panels = packed_n is not None or use_panels(n)
    mp = padded_rows(m, ctx.hints.matmul_row_grain) if panels else m
    np_ = round_up(n, PANEL) if panels else n
    read_b: Callable[[list[Expr], Expr, Expr], Expr]
    if packed_n is not None:
        def read_b(bidx: list[Expr], j: Expr, r: Expr) -> Expr:
            return b(*broadcast_index(b_batch, bidx), j // PANEL, r, j % PANEL)
    elif panels:
        bp = _pack_stage(ctx, b, b_batch, k, n, trans_b, f"{prefix}{PACK_SUFFIX}")

        def read_b(bidx: list[Expr], j: Expr, r: Expr) -> Expr:
            return bp(*broadcast_index(b_batch, bidx), j // PANEL, r, j % PANEL)
    else:
        def read_b(bidx: list[Expr], j: Expr, r: Expr) -> Expr:
            if b_vec:
                return b(r)
            bb = broadcast_index(b_batch, bidx)
            return b(*bb, j, r) if trans_b else b(*bb, r, j)

    if k == 0:
        # A sum of nothing: TVM would run the reduction's init inside an empty k loop (never).
        zero = tirx.const(0, str(a.dtype))
        acc = te.compute((*batch, mp, np_), lambda *i: zero, name=ctx.name(f"{prefix}zeros"))
        return Contraction(acc, tuple(batch), m, n), a_vec, b_vec
    red = te.reduce_axis((0, k), name="k")

    def body(*index: Expr) -> Expr:
        bidx, i, j = list(index[:nb]), index[nb], index[nb + 1]
        # Padding rows (i >= M) recompute row M-1: finite, in bounds, never stored.
        row = tirx.min(i, m - 1) if mp > m else i
        return te.sum(read_a(bidx, row, red) * read_b(bidx, j, red), axis=red)

    acc = te.compute((*batch, mp, np_), body, name=ctx.name(f"{prefix}{ACC_SUFFIX}"))
    return Contraction(acc, tuple(batch), m, n), a_vec, b_vec


def _pack_stage(ctx: LowerContext, b: te.Tensor, b_batch: list[int], k: int, n: int,
                trans_b: bool, name: str) -> te.Tensor:
    panels = round_up(n, PANEL) // PANEL
    zero = tirx.const(0, str(b.dtype))

    def body(*index: Expr) -> Expr:
        *bidx, p, r, c = index
        j = p * PANEL + c
        value = b(*bidx, j, r) if trans_b else b(*bidx, r, j)
        return value if n % PANEL == 0 else tirx.if_then_else(j < n, value, zero)

    return te.compute((*b_batch, panels, k, PANEL), body, name=ctx.name(name))


def matmul(ctx: LowerContext, a: te.Tensor, b: te.Tensor, name: str = "",
           packed_n: int | None = None) -> te.Tensor:
    """numpy.matmul(a, b) as a TE tensor (1-D operands promoted and squeezed)."""
    c, a_vec, b_vec = contraction(ctx, a, b, packed_n=packed_n, name=name)
    nb = len(c.batch)
    final = [*c.batch] + ([] if a_vec else [c.m]) + ([] if b_vec else [c.n])

    def body(*idx: Expr) -> Expr:
        rest = list(idx[nb:])
        i = 0 if a_vec else rest.pop(0)
        j = 0 if b_vec else rest.pop(0)
        return c.at(list(idx[:nb]), i, j)

    return te.compute(tuple(final), body, name=ctx.name(f"{name}_out" if name else "matmul_out"))


@register("MatMul", kind=OpKind.MATMUL, since=1)
def lower_matmul(ctx: LowerContext) -> list[te.Tensor]:
    return [matmul(ctx, ctx.input(0), ctx.input(1))]


@register("MatMul", kind=OpKind.MATMUL, since=1, domain="onnxjit")
def lower_matmul_panels(ctx: LowerContext) -> list[te.Tensor]:
    """MatMul whose B input was panel-packed at compile time; attribute n = B's logical width."""
    return [matmul(ctx, ctx.input(0), ctx.input(1), packed_n=int(ctx.attr("n")))]
