"""A graph pass can replace a matched subgraph with one fused op whose kernel spans several nodes."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from onnx import helper

import onnxjit
from onnxjit.compiler import passes
from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import elementwise
from onnxjit.compiler.passes.rewrite import replace_nodes
from onnxjit.compiler.registry import OpKind, lookup, register
from onnxjit.compiler.tvm_api import te
from tests.helpers import make_model, run_onnxruntime

if lookup("TestMulAdd", ONNXJIT_DOMAIN, 1) is None:
    @register("TestMulAdd", kind=OpKind.ELEMENTWISE, domain=ONNXJIT_DOMAIN)
    def _lower_mul_add(ctx: LowerContext) -> list[te.Tensor]:
        return [elementwise(ctx, [ctx.input(0), ctx.input(1), ctx.input(2)],
                            lambda a, b, c: a * b + c)]


def fuse_mul_add(graph: Graph) -> Graph:
    """Mul(a, b) -> Add(., c) with no other reader of the product becomes TestMulAdd."""
    consumers = graph.consumers()
    for mul in graph.nodes:
        readers = consumers.get(mul.outputs[0], [])
        if mul.op_type == "Mul" and len(readers) == 1 and readers[0].op_type == "Add":
            add = readers[0]
            other = next(i for i in add.inputs if i != mul.outputs[0])
            fused = Node("TestMulAdd", (*mul.inputs, other), add.outputs, name=f"{mul.name}+{add.name}",
                         domain=ONNXJIT_DOMAIN)
            return fuse_mul_add(replace_nodes(graph, [mul, add], fused))
    return graph


@pytest.fixture
def with_pass() -> Iterator[None]:
    passes.PASSES.append(fuse_mul_add)
    yield
    passes.PASSES.remove(fuse_mul_add)


def test_fused_op_replaces_the_pattern_and_matches_onnxruntime(with_pass: None) -> None:
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal((3, 5)).astype(np.float32) for _ in range(3))
    nodes = [helper.make_node("Mul", ["a", "b"], ["p"], name="mul"),
             helper.make_node("Add", ["p", "c"], ["out"], name="add")]
    model = make_model(nodes, {"a": a, "b": b, "c": c}, ["out"])
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    compiled = session.compiled({"a": a, "b": b, "c": c})
    assert [k.op_types for k in compiled.kernels] == [("TestMulAdd",)]
    got = session.run(None, {"a": a, "b": b, "c": c})[0]
    np.testing.assert_allclose(got, run_onnxruntime(model, {"a": a, "b": b, "c": c})[0],
                               rtol=1e-6, atol=1e-6)
