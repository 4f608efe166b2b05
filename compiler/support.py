"""The supported-op check that runs before compiling: every unsupported node, reported at once."""
from __future__ import annotations

from onnxjit.compiler.errors import UnsupportedOp, UnsupportedOpsError
from onnxjit.compiler.fold import SHAPE_OPS, foldable
from onnxjit.compiler.graph import Graph, Node
from onnxjit.compiler.registry import lookup


def compile_time_values(graph: Graph) -> set[str]:
    """Values known once input shapes are bound: constants and what derives only from shapes."""
    known = set(graph.constants)
    for node in graph.nodes:
        if foldable(node, known):
            known.update(o for o in node.outputs if o)
    return known


def unsupported_nodes(graph: Graph) -> list[UnsupportedOp]:
    found: list[UnsupportedOp] = []
    _collect(graph, found, "main")
    return found


def _collect(graph: Graph, found: list[UnsupportedOp], where: str) -> None:
    known = compile_time_values(graph)
    for node in graph.nodes:
        opset = graph.opset(node.domain)
        folds = node.op_type in SHAPE_OPS or (foldable(node, known) and not node.subgraphs)
        if not folds and lookup(node.op_type, node.domain, opset) is None:
            found.append(UnsupportedOp(node.op_type, node.domain, opset, node.name, where))
        for key, sub in _subgraphs(node):
            _collect(sub, found, f"{node.name or node.op_type}.{key}")


def _subgraphs(node: Node) -> list[tuple[str, Graph]]:
    pairs: list[tuple[str, Graph]] = []
    for key, value in node.attrs.items():
        if isinstance(value, Graph):
            pairs.append((key, value))
        elif isinstance(value, tuple) and value and all(isinstance(v, Graph) for v in value):
            pairs.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
    return pairs


def check_supported(graph: Graph, model_name: str) -> None:
    ops = unsupported_nodes(graph)
    if ops:
        raise UnsupportedOpsError(model_name, ops)
