"""Lowering a Scan/Loop body subgraph once, into a PrimFunc for one step.

The body's nodes go through the same registry lowerings as the main graph, on placeholders of
one step's shapes; nodes computable at compile time are folded as in specialisation. The result
is a PrimFunc over (body inputs..., captured outer values..., body outputs...) whose statement
the caller embeds in a time loop (ops/scan.py).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from onnxjit.compiler.fold import evaluate, foldable
from onnxjit.compiler.graph import Graph, TensorType
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.registry import lookup
from onnxjit.compiler.specialize import context
from onnxjit.compiler.tvm_api import PrimFunc, create_prim_func, te, tirx

MAX_INLINE_CONSTANT = 1024  # elements; larger body constants would be unrolled select chains


@dataclass(frozen=True)
class BodyFunc:
    func: PrimFunc
    inputs: tuple[tirx.Buffer, ...]     # per body input, then per captured value
    outputs: tuple[tirx.Buffer, ...]    # per body output


def lower_body(ctx: LowerContext, body: Graph, in_types: Sequence[tuple[tuple[int, ...], str]],
               captures: Sequence[tuple[str, te.Tensor, np.ndarray | None]]) -> BodyFunc:
    """The body as one step's PrimFunc; `in_types` gives each body input's (shape, dtype)."""
    if len(in_types) != len(body.inputs):
        raise ctx.error(f"body has {len(body.inputs)} inputs, the op supplies {len(in_types)}")
    tensors: dict[str, te.Tensor] = {}
    args: list[te.Tensor] = []
    for i, (name, (shape, dtype)) in enumerate(zip(body.inputs, in_types)):
        tensors[name] = te.placeholder(shape, dtype, name=f"body_in{i}")
        args.append(tensors[name])
    constants: dict[str, np.ndarray] = dict(body.constants)
    for i, (name, outer, value) in enumerate(captures):
        tensors[name] = te.placeholder(tuple(outer.shape), outer.dtype, name=f"body_cap{i}")
        args.append(tensors[name])
        if value is not None:  # an outer constant (axes, shapes): the body's lowerings see it
            constants[name] = value
    types = {n: t for n, t in body.types.items()}
    for name, tensor in tensors.items():
        types[name] = TensorType(str(tensor.dtype), tuple(int(d) for d in tensor.shape))
    for node in body.nodes:
        if node.subgraphs:
            raise ctx.error(f"nested subgraph op {node.op_type} in the body is not supported")
        if foldable(node, set(constants)):
            shapes = [types[i].static_shape() if i in types and types[i].is_static else None
                      for i in node.inputs if i]
            for out, value in zip(node.outputs, evaluate(node, [constants.get(i) if i else None
                                                                for i in node.inputs], body, shapes)):
                if out:
                    constants[out] = value
                    types[out] = TensorType(str(value.dtype), tuple(value.shape))
            continue
        opdef = lookup(node.op_type, node.domain, body.opset(node.domain))
        if opdef is None:
            raise ctx.error(f"body op {node.op_type} ({node.name}) has no lowering")
        for value in node.inputs:
            if value and value not in tensors and value in constants:
                tensors[value] = _constant_tensor(ctx, value, constants[value])
        node_ctx = context(node, body.opset(node.domain), types, constants, tensors)
        for out, tensor in zip(node.outputs, opdef.lower(node_ctx)):
            if out:
                tensors[out] = tensor
                types[out] = TensorType(str(tensor.dtype), tuple(int(d) for d in tensor.shape))
    outs: list[te.Tensor] = []
    for name in body.outputs:
        if name not in tensors and name in constants:
            tensors[name] = _constant_tensor(ctx, name, constants[name])
        outs.append(_materialised(tensors[name], args, outs))
    func = create_prim_func([*args, *outs], f"{ctx.name('body')}")
    params = list(func.params)
    return BodyFunc(func, tuple(params[:len(args)]), tuple(params[len(args):]))


def _materialised(t: te.Tensor, args: list[te.Tensor], done: list[te.Tensor]) -> te.Tensor:
    """An output that is an input or repeats another output gets its own copy stage."""
    key = (t.op, int(t.value_index))
    if any(key == (o.op, int(o.value_index)) for o in [*args, *done]):
        return te.compute(t.shape, lambda *i: t(*i), name=f"{t.op.name}_copy")
    return t


def _constant_tensor(ctx: LowerContext, name: str, value: np.ndarray) -> te.Tensor:
    """A small body constant as a compute of its values (bodies cannot take weight buffers)."""
    flat = np.asarray(value).reshape(-1)
    if flat.size > MAX_INLINE_CONSTANT:
        raise ctx.error(f"body constant {name!r} has {flat.size} elements; at most "
                        f"{MAX_INLINE_CONSTANT} are supported inside a Scan/Loop body")
    dtype = str(value.dtype)
    shape = tuple(int(d) for d in value.shape)

    def body(*idx: Any) -> Any:
        lin = 0
        for i, d in zip(idx, shape):
            lin = lin * d + i
        expr = tirx.const(flat[-1].item(), dtype)
        for k in range(flat.size - 2, -1, -1):
            expr = tirx.Select(lin == k, tirx.const(flat[k].item(), dtype), expr)
        return expr

    return te.compute(shape, body, name=f"const_{len(flat)}")
