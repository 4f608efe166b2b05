"""Softmax and LogSoftmax (opset 13 semantics along one axis; opsets 1-12 flatten from `axis`)."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._math import fast_exp
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, topi


def _softmax(ctx: LowerContext, log: bool) -> te.Tensor:
    x = ctx.input(0)
    shape = ctx.shape(0)
    if ctx.opset < 13:
        # Old semantics: coerce to 2-D [prod(shape[:axis]), prod(shape[axis:])], softmax rows.
        axis = normalize_axis(int(ctx.attr("axis", 1)), len(shape), ctx)
        rows = _prod(shape[:axis])
        flat = topi.reshape(x, (rows, _prod(shape[axis:])))
        y = _along(ctx, flat, 1, log)
        return topi.reshape(y, shape)
    axis = normalize_axis(int(ctx.attr("axis", -1)), len(shape), ctx)
    return _along(ctx, x, axis, log)


def _prod(dims: tuple[int, ...]) -> int:
    out = 1
    for d in dims:
        out *= d
    return out


def _along(ctx: LowerContext, x: te.Tensor, axis: int, log: bool) -> te.Tensor:
    shape = [int(d) for d in x.shape]
    r1 = te.reduce_axis((0, shape[axis]), name="r")

    def at(index: tuple, r: te.Var) -> list:
        return [*index[:axis], r, *index[axis:]]

    reduced = shape[:axis] + shape[axis + 1:]
    mx = te.compute(reduced, lambda *i: te.max(x(*at(i, r1)), axis=r1), name=ctx.name("max"))

    def shifted(*i: te.Var) -> te.Tensor:
        return x(*i) - mx(*i[:axis], *i[axis + 1:])

    ex = te.compute(shape, lambda *i: fast_exp(shifted(*i), str(x.dtype)), name=ctx.name("exp"))
    r2 = te.reduce_axis((0, shape[axis]), name="r")
    total = te.compute(reduced, lambda *i: te.sum(ex(*at(i, r2)), axis=r2), name=ctx.name("sum"))
    if log:
        # log(sum) once per row, as its own per-row stage: inside the elementwise stage it was
        # one libm logf call per element (LLVM does not hoist the call out of the row loop).
        log_total = te.compute(reduced, lambda *i: te.log(total(*i)), name=ctx.name("log_sum"))
        return te.compute(shape, lambda *i: shifted(*i) - log_total(*i[:axis], *i[axis + 1:]),
                          name=ctx.name("logsoftmax"))
    # Times the row's reciprocal, as onnxruntime's MLAS does: one division per row, which LLVM
    # hoists out of the row loop, instead of one per element (a vector divide issues every 3+
    # cycles on x86, 16 on AVX-512 zmm: 20% of a wasm 256x256 softmax). Two roundings instead
    # of one: <= 1 ulp more.
    one = te.const(1, str(x.dtype))
    return te.compute(shape, lambda *i: ex(*i) * (one / total(*i[:axis], *i[axis + 1:])),
                      name=ctx.name("softmax"))


@register("Softmax", kind=OpKind.REDUCTION, since=1)
def lower_softmax(ctx: LowerContext) -> list[te.Tensor]:
    return [_softmax(ctx, log=False)]


@register("LogSoftmax", kind=OpKind.REDUCTION, since=1)
def lower_log_softmax(ctx: LowerContext) -> list[te.Tensor]:
    return [_softmax(ctx, log=True)]
