"""Execution plans: the ordered kernel calls of a specialised model and where each value lives.

Intermediate values share one arena: a value's bytes are reused once its last reader has run
(first-fit over lifetimes). Views (reshape, squeeze, ...) alias their source's bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALIGN = 64  # TVM requires 64-byte aligned buffers


@dataclass(frozen=True)
class KernelCall:
    kernel: str                       # function name in the built module
    args: tuple[str, ...]             # values, inputs then outputs
    nodes: tuple[str, ...]            # graph nodes it computes (for profiles and errors)


@dataclass(frozen=True)
class AliasStep:
    source: str
    target: str


@dataclass(frozen=True)
class BufferSlot:
    shape: tuple[int, ...]
    dtype: str
    offset: int                       # byte offset in the arena
    alias_of: str = ""                # for views: the value whose bytes these are


@dataclass(frozen=True)
class Plan:
    steps: tuple[KernelCall | AliasStep, ...]
    slots: dict[str, BufferSlot]      # every run-time value (inputs, intermediates, outputs)
    arena_bytes: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    constants: tuple[str, ...]        # values bound once from the compiled model's weights

    @property
    def kernel_calls(self) -> list[KernelCall]:
        return [s for s in self.steps if isinstance(s, KernelCall)]


def nbytes(shape: tuple[int, ...], dtype: str) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def make_plan(steps: list[KernelCall | AliasStep], types: dict[str, tuple[tuple[int, ...], str]],
              inputs: tuple[str, ...], outputs: tuple[str, ...], constants: set[str]) -> Plan:
    root = _alias_roots(steps)
    first: dict[str, int] = {name: -1 for name in inputs}
    last: dict[str, int] = {}
    for index, step in enumerate(steps):
        values = step.args if isinstance(step, KernelCall) else (step.source, step.target)
        for value in values:
            owner = root.get(value, value)
            if owner in constants:
                continue
            first.setdefault(owner, index)
            last[owner] = index
    for value in (*inputs, *outputs):
        owner = root.get(value, value)
        if owner not in constants:
            first.setdefault(owner, -1)
            last[owner] = len(steps)
    offsets, arena = _first_fit(first, last, types)
    slots: dict[str, BufferSlot] = {}
    for value, (shape, dtype) in types.items():
        owner = root.get(value, value)
        if owner in constants or owner not in offsets:
            continue
        slots[value] = BufferSlot(shape, dtype, offsets[owner], owner if owner != value else "")
    used_constants = tuple(sorted(c for c in constants if any(
        c in (s.args if isinstance(s, KernelCall) else (s.source,)) for s in steps)))
    return Plan(tuple(steps), slots, arena, inputs, outputs, used_constants)


def _alias_roots(steps: list[KernelCall | AliasStep]) -> dict[str, str]:
    root: dict[str, str] = {}
    for step in steps:
        if isinstance(step, AliasStep):
            root[step.target] = root.get(step.source, step.source)
    return root


def _first_fit(first: dict[str, int], last: dict[str, int],
               types: dict[str, tuple[tuple[int, ...], str]]) -> tuple[dict[str, int], int]:
    placed: list[tuple[int, int, int, int]] = []   # (offset, size, first, last)
    offsets: dict[str, int] = {}
    order = sorted(first, key=lambda v: (-_aligned(nbytes(*types[v])), first[v], v))
    for value in order:
        size = _aligned(nbytes(*types[value]))
        lo, hi = first[value], last.get(value, first[value])
        busy = sorted((o, s) for o, s, f, l in placed if not (l < lo or f > hi))
        offset = 0
        for o, s in busy:
            if offset + size <= o:
                break
            offset = max(offset, o + s)
        placed.append((offset, size, lo, hi))
        offsets[value] = offset
    arena = max((o + s for o, s, _, _ in placed), default=0)
    return offsets, arena


def _aligned(n: int) -> int:
    return max(ALIGN, (n + ALIGN - 1) // ALIGN * ALIGN)
