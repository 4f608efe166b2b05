"""Helpers shared by the data-movement lowerings (split, slice, gather, expand, squeeze, ...)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnxjit.compiler.lower_context import LowerContext


def int_list(ctx: LowerContext, value: np.ndarray | Sequence[int] | None, what: str) -> list[int]:
    """A 1-D integer attribute or constant input as Python ints (a lone scalar counts as one)."""
    if value is None:
        return []
    array = np.asarray(value)
    if array.ndim > 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise ctx.error(f"{what} must be a 1-D integer list, got {array.dtype} {array.shape}")
    return [int(v) for v in array.reshape(-1)]


def axes_input_or_attr(ctx: LowerContext, since_input: int, index: int = 1) -> list[int] | None:
    """`axes` from the attribute before opset `since_input`, from input `index` from then on.

    None means "not given" (an omitted optional input or attribute); run-time axes are refused,
    since they decide the result's shape.
    """
    if ctx.opset < since_input:
        attr = ctx.attr("axes")
        return None if attr is None else int_list(ctx, attr, "axes")
    if ctx.optional(index) is None:
        return None
    return int_list(ctx, ctx.require_const(index, "axes"), "axes")
