"""Shared pieces of op lowerings: numpy broadcasting over TE indices, dtype constants."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.tvm_api import te, tirx

Expr = Any


def broadcast_shape(ctx: LowerContext, shapes: Sequence[Sequence[int]]) -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out: list[int] = []
    for axis in range(rank):
        dims = {int(s[len(s) - rank + axis]) for s in shapes if len(s) - rank + axis >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ctx.error(f"shapes {[tuple(s) for s in shapes]} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def broadcast_index(shape: Sequence[Any], index: Sequence[Expr]) -> list[Expr]:
    """The index into a tensor of `shape` read at output `index` under numpy broadcasting."""
    shape = [int(d) for d in shape]
    offset = len(index) - len(shape)
    return [0 if dim == 1 else index[offset + i] for i, dim in enumerate(shape)]


def elementwise(ctx: LowerContext, inputs: Sequence[te.Tensor],
                fn: Callable[..., Expr], name: str = "") -> te.Tensor:
    """te.compute of fn over the broadcast of `inputs` (values passed in input order)."""
    shape = broadcast_shape(ctx, [[int(d) for d in t.shape] for t in inputs])

    def body(*index: Expr) -> Expr:
        return fn(*(t(*broadcast_index(t.shape, index)) for t in inputs))

    return te.compute(shape, body, name=ctx.name(name))


def const(value: float | int, dtype: str) -> Expr:
    return tirx.const(value, dtype)


def is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))
