"""Partitioning a specialised graph into kernels: each kernel is an anchor op plus the elementwise
ops that consume its result and nothing else (epilogue fusion), so their loops share one pass
over memory. A one-pass reduction also absorbs the elementwise ops that only feed it (prologue
fusion: x*x -> ReduceSum reads x once, and the squares are never stored). View ops (reshape,
squeeze, ...) become aliases and cost nothing at run time.
"""
from __future__ import annotations

from dataclasses import dataclass

from onnxjit.compiler.graph import Graph, Node
from onnxjit.compiler.registry import OpKind, lookup


# Ops lowered to vectorisable polynomial trees that read their input ~40 times (ops/_math.py):
# two in one kernel nest one tree in the other (Tanh(Tanh(x)): 27 s to compile, Exp -> Softplus
# with a polynomial exp: minutes), so a kernel takes at most one of them.
TRANSCENDENTAL = frozenset({"Sigmoid", "Tanh", "Softplus", "Mish", "Elu", "Selu", "Gelu",
                            "Erf"})
MS_TRANSCENDENTAL = frozenset({"FastGelu"})      # the same, in the com.microsoft domain


def _transcendental(node: Node) -> bool:
    if node.domain in ("", "ai.onnx"):
        return node.op_type in TRANSCENDENTAL
    return node.domain == "com.microsoft" and node.op_type in MS_TRANSCENDENTAL


@dataclass(frozen=True)
class KernelGroup:
    nodes: tuple[Node, ...]
    kind: OpKind                      # the anchor's kind (a reduction's, past its prologue)

    @property
    def output(self) -> tuple[str, ...]:
        return tuple(o for o in self.nodes[-1].outputs if o)


@dataclass(frozen=True)
class Alias:
    node: Node                        # a VIEW node: its output reinterprets its first input


Step = KernelGroup | Alias


def partition(graph: Graph, fuse: bool = True) -> list[Step]:
    """Steps in a valid execution order (a group runs where its last node stood)."""
    consumers = graph.consumers()
    graph_outputs = set(graph.outputs)
    groups: list[list[Node]] = []
    kinds: list[OpKind] = []
    open_group: dict[str, int] = {}   # value -> index of the group whose sole result it is
    order: list[tuple[int, int]] = []  # (position of last member, group index) or aliases
    aliases: dict[int, Alias] = {}
    heavy: set[int] = set()           # groups holding a TRANSCENDENTAL op
    for position, node in enumerate(graph.nodes):
        kind = _kind(node, graph)
        if kind is OpKind.VIEW:
            aliases[position] = Alias(node)
            continue
        target = None
        if fuse:
            target = _fusion_target(node, kind, graph, consumers, graph_outputs, open_group, kinds)
            if target in heavy and _transcendental(node):
                target = None
            if target is None:
                target = _prologue_target(node, consumers, graph_outputs, open_group, kinds)
        if target is None:
            groups.append([node])
            kinds.append(kind)
            target = len(groups) - 1
        else:
            groups[target].append(node)
            if kind is OpKind.REDUCTION:
                kinds[target] = kind
        if _transcendental(node):
            heavy.add(target)
        for value in node.inputs:
            open_group.pop(value, None)
        if len(node.outputs) == 1 and node.outputs[0]:
            open_group[node.outputs[0]] = target
        order.append((position, target))
    last_position = {g: p for p, g in order}
    steps: list[tuple[int, Step]] = [(p, a) for p, a in aliases.items()]
    steps += [(last_position[g], KernelGroup(tuple(nodes), kinds[g])) for g, nodes in enumerate(groups)]
    return [step for _, step in sorted(steps, key=lambda ps: ps[0])]


def _kind(node: Node, graph: Graph) -> OpKind:
    opdef = lookup(node.op_type, node.domain, graph.opset(node.domain))
    return opdef.kind if opdef is not None else OpKind.OPAQUE


def _fusion_target(node: Node, kind: OpKind, graph: Graph, consumers: dict[str, list[Node]],
                   graph_outputs: set[str], open_group: dict[str, int],
                   kinds: list[OpKind]) -> int | None:
    """The group this elementwise node extends as an epilogue, if any. Never an opaque op's:
    those kernels (hand-written TIR: convs, attention, scans) are scheduled by templates that take
    the op alone; their own epilogues are fused by the passes that build them (conv_rewrite's
    relu/clip/add), and anything else after them runs as its own elementwise kernel."""
    if kind is not OpKind.ELEMENTWISE or len(node.outputs) != 1:
        return None
    out_type = graph.types.get(node.outputs[0])
    for value in node.inputs:
        if value not in open_group or value in graph_outputs:
            continue
        if kinds[open_group[value]] is OpKind.OPAQUE:
            continue
        if len(consumers.get(value, [])) != 1:
            continue
        in_type = graph.types.get(value)
        # An epilogue keeps the anchor's iteration space: no broadcasting its result wider.
        if out_type is not None and in_type is not None and out_type.shape == in_type.shape:
            return open_group[value]
    return None


# Reductions that read their input once: an inlined producer is computed once per element.
ONE_PASS_REDUCTIONS = frozenset({"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                                 "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare"})


def _prologue_target(node: Node, consumers: dict[str, list[Node]], graph_outputs: set[str],
                     open_group: dict[str, int], kinds: list[OpKind]) -> int | None:
    """The all-elementwise group whose only result only this one-pass reduction reads."""
    if node.op_type not in ONE_PASS_REDUCTIONS or node.domain not in ("", "ai.onnx"):
        return None
    value = node.inputs[0] if node.inputs else ""
    group = open_group.get(value)
    if (group is None or kinds[group] is not OpKind.ELEMENTWISE or value in graph_outputs
            or len(consumers.get(value, [])) != 1 or len(node.outputs) != 1):
        return None
    return group
