"""Graph IR, the lowering registry and the subgraph-replacement helper."""
from __future__ import annotations

import numpy as np
import pytest

from onnxjit.compiler.graph import Graph, Node, TensorType
from onnxjit.compiler.passes.rewrite import replace_nodes
from onnxjit.compiler.registry import OpKind, lookup, register


def _graph(nodes: list[Node], outputs: tuple[str, ...] = ("z",)) -> Graph:
    return Graph(name="g", nodes=tuple(nodes), inputs=("x",), outputs=outputs,
                 types={"x": TensorType("float32", (4,))}, constants={"c": np.ones(4, np.float32)},
                 opsets={"": 21})


def test_verify_accepts_ssa_in_topological_order() -> None:
    _graph([Node("Add", ("x", "c"), ("y",)), Node("Relu", ("y",), ("z",))]).verify()


def test_verify_names_the_node_reading_an_undefined_value() -> None:
    graph = _graph([Node("Relu", ("y",), ("z",), name="late"), Node("Add", ("x", "c"), ("y",))])
    with pytest.raises(ValueError, match="late"):
        graph.verify()


def test_verify_rejects_redefinition() -> None:
    graph = _graph([Node("Relu", ("x",), ("z",)), Node("Neg", ("x",), ("z",), name="again")])
    with pytest.raises(ValueError, match="again"):
        graph.verify()


def test_nodes_and_graphs_are_immutable() -> None:
    node = Node("Relu", ("x",), ("y",), attrs={"a": 1})
    with pytest.raises(AttributeError):
        node.op_type = "Neg"  # type: ignore[misc]
    with pytest.raises(TypeError):
        node.attrs["a"] = 2  # type: ignore[index]


def test_lookup_picks_newest_version_not_above_the_opset() -> None:
    calls: list[int] = []
    register("TestOnlyOp", kind=OpKind.OPAQUE, since=5, domain="test.domain")(
        lambda ctx: calls.append(5) or [])
    register("TestOnlyOp", kind=OpKind.OPAQUE, since=9, domain="test.domain")(
        lambda ctx: calls.append(9) or [])
    assert lookup("TestOnlyOp", "test.domain", 4) is None
    assert lookup("TestOnlyOp", "test.domain", 5).since == 5  # type: ignore[union-attr]
    assert lookup("TestOnlyOp", "test.domain", 8).since == 5  # type: ignore[union-attr]
    assert lookup("TestOnlyOp", "test.domain", 30).since == 9  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="registered twice"):
        register("TestOnlyOp", kind=OpKind.OPAQUE, since=9, domain="test.domain")(lambda ctx: [])


def test_ai_onnx_domain_is_the_default_domain() -> None:
    assert lookup("MatMul", "ai.onnx", 13) is lookup("MatMul", "", 13)


def test_replace_nodes_puts_the_fused_node_where_the_match_ended() -> None:
    a = Node("Add", ("x", "c"), ("y",), name="a")
    b = Node("Relu", ("y",), ("z",), name="b")
    fused = Node("AddRelu", ("x", "c"), ("z",), name="fused", domain="onnxjit")
    out = replace_nodes(_graph([a, b]), [a, b], fused)
    assert [n.name for n in out.nodes] == ["fused"]
    out.verify()


def test_replace_nodes_refuses_when_an_intermediate_escapes() -> None:
    a = Node("Add", ("x", "c"), ("y",), name="a")
    b = Node("Relu", ("y",), ("z",), name="b")
    reader = Node("Neg", ("y",), ("w",), name="reader")
    graph = _graph([a, b, reader], outputs=("z", "w"))
    with pytest.raises(ValueError, match="'y'"):
        replace_nodes(graph, [a, b], Node("AddRelu", ("x", "c"), ("z",), domain="onnxjit"))
