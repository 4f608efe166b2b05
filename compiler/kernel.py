"""Kernel construction: a KernelGroup of graph nodes -> one TensorIR PrimFunc."""
from __future__ import annotations

from dataclasses import dataclass

from onnxjit.compiler.errors import LoweringError
from onnxjit.compiler.graph import Graph
from onnxjit.compiler.lower_context import LayoutHints
from onnxjit.compiler.partition import KernelGroup
from onnxjit.compiler.registry import OpKind, lookup
from onnxjit.compiler.specialize import context, placeholder
from onnxjit.compiler.tvm_api import PrimFunc, create_prim_func, structural_key, te


@dataclass(frozen=True)
class Kernel:
    name: str                         # global symbol in the built module
    func: PrimFunc                    # unscheduled TensorIR
    kind: OpKind
    inputs: tuple[str, ...]           # graph values passed as arguments, in order
    outputs: tuple[str, ...]
    nodes: tuple[str, ...]            # names of the graph nodes it computes
    op_types: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"{n or '<unnamed>'} ({o})" for n, o in zip(self.nodes, self.op_types))

    @property
    def workload_key(self) -> str:
        """Identical computations share this key (and so their tuning records)."""
        return f"{self.kind.value}-{structural_key(self.func)}"


def build_kernel(group: KernelGroup, graph: Graph, name: str,
                 hints: LayoutHints = LayoutHints()) -> Kernel:
    tensors: dict[str, te.Tensor] = {}
    args: dict[str, te.Tensor] = {}
    for node in group.nodes:
        for value in node.inputs:
            if value and value not in tensors:
                tensors[value] = args[value] = placeholder(value, graph.types[value])
        opdef = lookup(node.op_type, node.domain, graph.opset(node.domain))
        if opdef is None:
            raise LoweringError(node.name, node.op_type, "no lowering (unsupported op)")
        ctx = context(node, graph.opset(node.domain), graph.types, graph.constants, tensors,
                      hints)
        for value, tensor in zip(node.outputs, opdef.lower(ctx)):
            if value:
                tensors[value] = tensor
    # Empty outputs need no computing (and zero-extent loops trip the scheduler): they stay
    # plain, unwritten buffers.
    outputs = [o for o in group.output if all(int(d) for d in tensors[o].shape)]
    out_tensors = _materialised([tensors[o] for o in outputs], {_key(t) for t in args.values()})
    used = _reachable(out_tensors)
    inputs = [v for v, t in args.items() if _key(t) in used]
    func = create_prim_func([*(args[v] for v in inputs), *out_tensors], name)
    return Kernel(name, func, group.kind, tuple(inputs), tuple(outputs),
                  tuple(n.name for n in group.nodes),
                  tuple(n.op_type for n in group.nodes))


def _key(t: te.Tensor) -> tuple[object, int]:
    # te.Tensor's == builds an expression (and raises for rank-0 tensors): compare by identity.
    return (t.op, int(t.value_index))


def _materialised(outs: list[te.Tensor], placeholders: set[tuple[object, int]]) -> list[te.Tensor]:
    """An output that is an input (Identity, a no-op Cast) or repeats another gets a copy stage."""
    result: list[te.Tensor] = []
    for t in outs:
        if _key(t) in placeholders or any(_key(t) == _key(r) for r in result):
            t = _copy(t)
        result.append(t)
    return result


def _copy(src: te.Tensor) -> te.Tensor:
    # A closure, not a `src=t` default: te.compute rejects fcompute keyword arguments.
    return te.compute(src.shape, lambda *i: src(*i), name=f"{src.op.name}_copy")


def _reachable(outs: list[te.Tensor]) -> set[tuple[object, int]]:
    seen: set[tuple[object, int]] = set()
    stack = list(outs)
    while stack:
        t = stack.pop()
        if _key(t) in seen:
            continue
        seen.add(_key(t))
        stack.extend(t.op.input_tensors)
    return seen
