"""Ops whose computation is a hand-written TIR loop nest (recurrences: Scan, CumSum, ...).

TE cannot express a recurrence (create_prim_func rejects te.scan), so these lowerings wrap a
TVMScript PrimFunc in a TE extern op. The op's parameters travel as JSON in the extern block's
annotation `SPEC_KEY`, where a schedule template that generates a faster loop nest reads them.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.tvm_api import PrimFunc, te, tirx, top_block_annotations

SPEC_KEY = "onnxjit_spec"

# Builds the reference PrimFunc from the input buffers' shapes (tuples of the TE tensors' own
# dimension objects: te.extern requires buffer shapes to be the very same objects).
FuncBuilder = Callable[[Sequence[tuple[Any, ...]]], PrimFunc]


def tir_extern(ctx: LowerContext, inputs: Sequence[te.Tensor], build: FuncBuilder,
               spec: dict[str, Any], n_outputs: int) -> list[te.Tensor]:
    """The outputs of `build(shapes)` applied to `inputs`; params are inputs then outputs."""
    func = build([tuple(t.shape) for t in inputs])
    params = list(func.params)
    if len(params) != len(inputs) + n_outputs:
        raise ctx.error(f"internal: kernel has {len(params)} params, expected "
                        f"{len(inputs)} inputs + {n_outputs} outputs")
    ins, outs = params[:len(inputs)], params[len(inputs):]
    result = te.extern([tuple(b.shape) for b in outs], list(inputs),
                       lambda _i, _o: func.body, name=ctx.name(spec["op"].lower()),
                       in_buffers=ins, out_buffers=outs, dtype=[str(b.dtype) for b in outs],
                       attrs={SPEC_KEY: json.dumps(spec, sort_keys=True)})
    return list(result) if isinstance(result, (list, tuple)) else [result]


def read_spec(func: PrimFunc) -> dict[str, Any] | None:
    """The spec of the single extern op in `func`, or None if it holds none or several."""
    specs = top_block_annotations(func, SPEC_KEY)
    return dict(json.loads(specs[0])) if len(specs) == 1 else None


def prod(dims: Sequence[int]) -> int:
    out = 1
    for d in dims:
        out *= int(d)
    return out


def internalise_params(func: PrimFunc, keep: Sequence[bool]) -> PrimFunc:
    """`func` without the parameters whose `keep` is False: they become internal buffers.

    Hand-written kernels take every optional input; a node without some of them gets a kernel
    whose signature matches its lowering (absent inputs are never read: the contents do not
    matter).
    """
    params = list(func.params)
    dropped = [p for p, k in zip(params, keep) if not k]
    stmts = [*(tirx.AllocBuffer(p) for p in dropped), func.body]
    body = tirx.SeqStmt(stmts) if len(stmts) > 1 else func.body
    return tirx.PrimFunc([p for p, k in zip(params, keep) if k], body, attrs=func.attrs)
