"""Einsum (opset 12): a sum of products over labelled axes, as one TE reduction.

Handles explicit (`->`) and implicit outputs, `...` (broadcast, right-aligned across operands),
repeated labels inside one operand (diagonals) and size-1 broadcasting. Every label not in the
output is a reduction axis. The kernel is a direct loop nest (scheduled by the generic template);
exporters spell matmuls as MatMul, so Einsum is rarely the hot spot.
"""
from __future__ import annotations

import functools
import operator
import string
from collections import Counter

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

_ELLIPSIS_LABELS = string.digits  # stand-in labels of the axes `...` covers (never letters)


def _expand(term: str, rank: int, ell: list[str], ctx: LowerContext) -> list[str]:
    """The labels of one operand, `...` replaced by the trailing len-n ellipsis labels."""
    if "..." not in term:
        labels = list(term)
    else:
        head, tail = term.split("...")
        covered = rank - len(head) - len(tail)
        if covered < 0 or covered > len(ell):
            raise ctx.error(f"term {term!r} does not fit an operand of rank {rank}")
        labels = [*head, *ell[len(ell) - covered:], *tail]
    if len(labels) != rank or any(not (c.isalpha() or c in _ELLIPSIS_LABELS) for c in labels):
        raise ctx.error(f"term {term!r} does not match an operand of rank {rank}")
    return labels


def parse(equation: str, ranks: list[int], ctx: LowerContext) -> tuple[list[list[str]], list[str]]:
    """(labels of each operand, output labels)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ctx.error(f"equation {equation!r} has {len(terms)} operands, node has {len(ranks)}")
    ell_rank = max((r - len(t.replace("...", "")) for t, r in zip(terms, ranks) if "..." in t),
                   default=0)
    ell = list(_ELLIPSIS_LABELS[:ell_rank])
    operands = [_expand(t, r, ell, ctx) for t, r in zip(terms, ranks)]
    if arrow:
        rank = len(rhs.replace("...", "")) + (ell_rank if "..." in rhs else 0)
        out = _expand(rhs, rank, ell, ctx)
    else:
        counts = Counter(c for t in terms for c in t.replace("...", ""))
        out = ell + sorted(c for c, n in counts.items() if n == 1)
    if len(set(out)) != len(out):
        raise ctx.error(f"output labels of {equation!r} repeat")
    return operands, out


@register("Einsum", kind=OpKind.OPAQUE, since=12)
def lower_einsum(ctx: LowerContext) -> list[te.Tensor]:
    tensors = [ctx.input(i) for i in range(len(ctx.node.inputs))]
    shapes = [ctx.shape(i) for i in range(len(tensors))]
    operands, out = parse(str(ctx.attr("equation")), [len(s) for s in shapes], ctx)
    sizes: dict[str, int] = {}
    for labels, shape in zip(operands, shapes):
        for c, d in zip(labels, shape):
            if sizes.get(c, 1) not in (1, d) and d != 1:
                raise ctx.error(f"label {c!r} has sizes {sizes[c]} and {d}")
            sizes[c] = max(sizes.get(c, d), d)
    missing = [c for c in out if c not in sizes]
    if missing:
        raise ctx.error(f"output labels {missing} appear in no operand")
    reduced = [c for c in sizes if c not in out]
    axes = {c: te.reduce_axis((0, sizes[c]), name=f"r{c}") for c in reduced}
    dtype = str(tensors[0].dtype)

    def body(*index: Expr) -> Expr:
        where = {c: i for c, i in zip(out, index)} | axes

        def read(t: te.Tensor, labels: list[str], shape: tuple[int, ...]) -> Expr:
            return t(*(0 if d == 1 and sizes[c] != 1 else where[c]
                       for c, d in zip(labels, shape)))

        product = functools.reduce(operator.mul, (
            read(t, labels, shape) for t, labels, shape in zip(tensors, operands, shapes)))
        if not reduced:
            return product
        return te.sum(product, axis=[axes[c] for c in reduced])

    if any(sizes[c] == 0 for c in reduced):  # an empty sum is zero (a loop that never runs)
        return [te.compute([sizes[c] for c in out], lambda *_: tirx.const(0, dtype),
                           name=ctx.name())]
    return [te.compute([sizes[c] for c in out], body, name=ctx.name())]
