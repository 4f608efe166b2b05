"""Kernel partitioning (epilogue fusion, views) and the execution plan (buffer reuse)."""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.graph import Graph, Node, TensorType
from onnxjit.compiler.partition import Alias, KernelGroup, partition
from onnxjit.runtime.plan import AliasStep, KernelCall, make_plan, nbytes


def _graph(nodes: list[Node], types: dict[str, tuple[int, ...]], outputs: tuple[str, ...]) -> Graph:
    return Graph(name="g", nodes=tuple(nodes), inputs=("x",), outputs=outputs,
                 types={k: TensorType("float32", v) for k, v in types.items()},
                 constants={"w": np.ones((4, 4), np.float32)}, opsets={"": 21})


def _kernels(steps: list) -> list[list[str]]:
    return [[n.name for n in s.nodes] for s in steps if isinstance(s, KernelGroup)]


def test_elementwise_consumers_fuse_into_their_producer() -> None:
    nodes = [Node("MatMul", ("x", "w"), ("y",), name="mm"), Node("Mul", ("y", "y"), ("z",), name="r"),
             Node("Add", ("z", "z"), ("o",), name="n")]
    graph = _graph(nodes, {"x": (4, 4), "y": (4, 4), "z": (4, 4), "o": (4, 4)}, ("o",))
    assert _kernels(partition(graph)) == [["mm", "r", "n"]]


def test_a_value_with_two_readers_ends_its_kernel() -> None:
    nodes = [Node("MatMul", ("x", "w"), ("y",), name="mm"), Node("Mul", ("y", "y"), ("z",), name="r"),
             Node("Add", ("y", "y"), ("o",), name="n")]
    graph = _graph(nodes, {"x": (4, 4), "y": (4, 4), "z": (4, 4), "o": (4, 4)}, ("z", "o"))
    assert _kernels(partition(graph)) == [["mm"], ["r"], ["n"]]


def test_a_one_pass_reduction_absorbs_the_elementwise_ops_that_only_feed_it() -> None:
    """x*x -> ReduceSum -> Sqrt is one reduction kernel (an L2 norm); not so past a matmul
    anchor, a second reader, or into a reduction that reads its input more than once."""
    nodes = [Node("Mul", ("x", "x"), ("sq",), name="sq"),
             Node("ReduceSum", ("sq",), ("s",), name="sum", attrs={"keepdims": 1}),
             Node("Sqrt", ("s",), ("n",), name="sqrt")]
    graph = _graph(nodes, {"x": (4, 4), "sq": (4, 4), "s": (1, 1), "n": (1, 1)}, ("n",))
    steps = partition(graph)
    assert _kernels(steps) == [["sq", "sum", "sqrt"]]
    assert [s.kind.name for s in steps if isinstance(s, KernelGroup)] == ["REDUCTION"]
    after_matmul = [Node("MatMul", ("x", "w"), ("y",), name="mm"),
                    Node("ReduceSum", ("y",), ("s",), name="sum", attrs={"keepdims": 1})]
    graph = _graph(after_matmul, {"x": (4, 4), "y": (4, 4), "s": (1, 1)}, ("s",))
    assert _kernels(partition(graph)) == [["mm"], ["sum"]]
    softmax = [Node("Mul", ("x", "x"), ("sq",), name="sq"),
               Node("Softmax", ("sq",), ("p",), name="sm")]
    graph = _graph(softmax, {"x": (4, 4), "sq": (4, 4), "p": (4, 4)}, ("p",))
    assert _kernels(partition(graph)) == [["sq"], ["sm"]]


def test_an_absorbed_prologue_computes_what_onnxruntime_does() -> None:
    from onnx import helper

    from tests.helpers import assert_matches, make_model

    x = np.random.default_rng(3).standard_normal((6, 40, 64)).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"]),
             helper.make_node("ReduceSum", ["sq", "axes"], ["s"], keepdims=1),
             helper.make_node("Add", ["s", "eps"], ["se"]), helper.make_node("Sqrt", ["se"], ["n"]),
             helper.make_node("Div", ["x", "n"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"axes": np.array([-1], np.int64),
                                                "eps": np.array(1e-6, np.float32)})
    assert_matches(model, {"x": x}, rtol=1e-5, atol=1e-5)


def test_an_opaque_op_takes_no_epilogue() -> None:
    """Opaque kernels (hand-written TIR: convs, pools, scans) are scheduled by templates that take
    the op alone: an elementwise op after one is its own kernel, not a fused kernel that only
    the generic fallback could schedule (a conv + LeakyRelu ran 20x slower that way)."""
    nodes = [Node("MaxPool", ("x",), ("y",), name="pool", attrs={"kernel_shape": [1, 1]}),
             Node("LeakyRelu", ("y",), ("z",), name="act")]
    graph = _graph(nodes, {"x": (1, 1, 4, 4), "y": (1, 1, 4, 4), "z": (1, 1, 4, 4)}, ("z",))
    assert _kernels(partition(graph)) == [["pool"], ["act"]]


def test_graph_outputs_are_not_fused_away() -> None:
    nodes = [Node("MatMul", ("x", "w"), ("y",), name="mm"), Node("Mul", ("y", "y"), ("z",), name="r")]
    graph = _graph(nodes, {"x": (4, 4), "y": (4, 4), "z": (4, 4)}, ("y", "z"))
    assert _kernels(partition(graph)) == [["mm"], ["r"]]


def test_broadcasting_wider_is_not_an_epilogue() -> None:
    nodes = [Node("MatMul", ("x", "w"), ("y",), name="mm"),
             Node("Add", ("y", "big"), ("z",), name="widen")]
    graph = _graph(nodes, {"x": (4, 4), "y": (4, 4), "big": (3, 4, 4), "z": (3, 4, 4)}, ("z",))
    assert _kernels(partition(graph)) == [["mm"], ["widen"]]


def test_views_become_aliases_in_order() -> None:
    nodes = [Node("Mul", ("x", "x"), ("y",), name="r"),
             Node("Reshape", ("y", "s"), ("v",), name="view"),
             Node("Add", ("v", "v"), ("o",), name="n")]
    graph = _graph(nodes, {"x": (4, 4), "y": (4, 4), "v": (16,), "o": (16,)}, ("o",))
    steps = partition(graph)
    assert [type(s).__name__ for s in steps] == ["KernelGroup", "Alias", "KernelGroup"]
    assert isinstance(steps[1], Alias) and steps[1].node.name == "view"


def test_plan_reuses_memory_of_dead_values_and_never_overlaps_live_ones() -> None:
    shape = (256,)
    types = {n: (shape, "float32") for n in ("x", "a", "b", "c", "d")}
    steps = [KernelCall("k0", ("x", "a"), ()), KernelCall("k1", ("a", "b"), ()),
             KernelCall("k2", ("b", "c"), ()), KernelCall("k3", ("c", "d"), ())]
    plan = make_plan(steps, types, ("x",), ("d",), set())
    size = nbytes(shape, "float32")
    assert plan.arena_bytes < 5 * size          # a and c (or b and d) share bytes
    live = {"x": (-1, 4), "a": (0, 1), "b": (1, 2), "c": (2, 3), "d": (3, 4)}
    for p, (p0, p1) in live.items():
        for q, (q0, q1) in live.items():
            if p < q and not (p1 < q0 or q1 < p0):
                sp, sq = plan.slots[p], plan.slots[q]
                assert sp.offset + size <= sq.offset or sq.offset + size <= sp.offset, (p, q)


def test_plan_alias_shares_its_source_bytes_and_lifetime() -> None:
    types = {"x": ((4, 4), "float32"), "y": ((4, 4), "float32"), "v": ((16,), "float32"),
             "o": ((16,), "float32")}
    steps = [KernelCall("k0", ("x", "y"), ()), AliasStep("y", "v"), KernelCall("k1", ("v", "o"), ())]
    plan = make_plan(steps, types, ("x",), ("o",), set())
    assert plan.slots["v"].offset == plan.slots["y"].offset
    assert plan.slots["v"].alias_of == "y"
    assert plan.slots["o"].offset != plan.slots["y"].offset
