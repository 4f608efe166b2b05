"""What a lowering function sees: its node, its inputs as TE tensors, and constant input values."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from onnxjit.compiler.errors import LoweringError
from onnxjit.compiler.graph import Node
from onnxjit.compiler.tvm_api import te


@dataclass(frozen=True)
class LayoutHints:
    """What lowerings and passes may ask of the target kernels are compiled for: layout (padding
    that register tiles divide) and algorithm choices that compute the same function (within
    float32 rounding), never anything results depend on."""

    # M of a panel-packed MatMul is padded to a multiple of this, so register tile heights divide
    # it: 6 (CPU: 6-row tiles, 6x4 on AVX-512), a target's `matmul_row_grain` otherwise.
    matmul_row_grain: int = 6
    # dense 3x3 convs as Winograd F(2x2, 3x3) (compiler/passes/winograd.py): targets whose
    # template set runs onnxjit::WinogradConv fast (the CPU) say so with `winograd_convs`
    winograd: bool = False
    # a sparse 1x1 conv and the depthwise conv reading it as one kernel (compiler/passes/
    # expand_depthwise.py): targets with its template (the CPU) set `expand_depthwise`
    expand_depthwise: bool = False

    @staticmethod
    def of(target: Any) -> LayoutHints:
        return LayoutHints(int(getattr(target, "matmul_row_grain", 6)),
                           bool(getattr(target, "winograd_convs", False)),
                           bool(getattr(target, "expand_depthwise", False)))


@dataclass(frozen=True)
class LowerContext:
    node: Node
    opset: int
    inputs: tuple[te.Tensor | None, ...]            # None for an omitted optional input
    constants: tuple[np.ndarray | None, ...]        # the value of each input known at compile time
    hints: LayoutHints = LayoutHints()

    def attr(self, key: str, default: Any = None) -> Any:
        return self.node.attrs.get(key, default)

    def input(self, i: int) -> te.Tensor:
        tensor = self.inputs[i] if i < len(self.inputs) else None
        if tensor is None:
            raise self.error(f"input {i} is required")
        return tensor

    def optional(self, i: int) -> te.Tensor | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def const(self, i: int) -> np.ndarray | None:
        """The compile-time value of input i, or None if it is only known at run time."""
        return self.constants[i] if i < len(self.constants) else None

    def require_const(self, i: int, what: str) -> np.ndarray:
        value = self.const(i)
        if value is None:
            raise self.error(f"{what} (input {i}) must be known at compile time")
        return value

    def shape(self, i: int) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input(i).shape)

    def dtype(self, i: int) -> str:
        return str(self.input(i).dtype)

    def name(self, suffix: str = "") -> str:
        """A TE op name unique to this node, so blocks of one fused kernel never collide."""
        base = "".join(c if c.isalnum() else "_" for c in (self.node.name or self.node.op_type))
        return f"{base}_{suffix}" if suffix else base

    def error(self, message: str) -> LoweringError:
        return LoweringError(self.node.name, self.node.op_type, message)


def normalize_axis(axis: int, rank: int, ctx: LowerContext) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ctx.error(f"axis {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(axes: Sequence[int], rank: int, ctx: LowerContext) -> list[int]:
    return sorted({normalize_axis(int(a), rank, ctx) for a in axes})
