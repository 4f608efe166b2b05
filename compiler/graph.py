"""onnxjit's graph IR: immutable values, nodes and graphs.

A graph is in SSA form like ONNX: every value has one producer (a node, a graph input or a constant).
Passes never mutate; they build a new Graph with `replace`. A node may come from several ONNX nodes
(a fused op in the "onnxjit" domain), so a kernel can span a matched subgraph.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Union

import numpy as np

Dim = Union[int, str]  # a str is a symbolic (dynamic) dimension, e.g. "batch"
ONNXJIT_DOMAIN = "onnxjit"


@dataclass(frozen=True)
class TensorType:
    dtype: str                            # numpy dtype name: "float32", "int64", "bool", ...
    shape: tuple[Dim, ...] | None         # None when even the rank is unknown

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def static_shape(self) -> tuple[int, ...]:
        assert self.is_static, f"shape {self.shape} is not static"
        return tuple(int(d) for d in self.shape or ())

    def __str__(self) -> str:
        dims = "?" if self.shape is None else "x".join(str(d) for d in self.shape) or "scalar"
        return f"{self.dtype}[{dims}]"


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class Node:
    op_type: str
    inputs: tuple[str, ...]               # "" marks an omitted optional input
    outputs: tuple[str, ...]
    name: str = ""
    domain: str = ""                      # "" is the default ONNX domain
    attrs: Mapping[str, Any] = field(default_factory=dict)  # subgraphs are Graph values

    def __post_init__(self) -> None:
        object.__setattr__(self, "attrs", _frozen(self.attrs))

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    @property
    def subgraphs(self) -> dict[str, Graph]:
        return {k: v for k, v in self.attrs.items() if isinstance(v, Graph)}

    @property
    def label(self) -> str:
        return f"{self.name or '<unnamed>'} ({self.op_type})"


@dataclass(frozen=True, eq=False)
class Graph:
    name: str
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]               # runtime inputs (initializers excluded)
    outputs: tuple[str, ...]
    types: Mapping[str, TensorType]       # every known value's type
    constants: Mapping[str, np.ndarray]   # initializers and folded values
    opsets: Mapping[str, int]             # domain -> version ("" is ai.onnx)
    # Values visible from an enclosing graph (subgraphs of Scan/Loop/If may read them).
    outer_scope: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", _frozen(self.types))
        object.__setattr__(self, "constants", _frozen(self.constants))
        object.__setattr__(self, "opsets", _frozen(self.opsets))

    def replace(self, **changes: Any) -> Graph:
        return replace(self, **changes)

    def opset(self, domain: str) -> int:
        if domain == ONNXJIT_DOMAIN:  # our fused ops are versioned with onnxjit, not the model
            return 1
        return int(self.opsets.get(domain, self.opsets.get("ai.onnx", 0) if domain == "" else 0))

    def producers(self) -> dict[str, Node]:
        return {out: node for node in self.nodes for out in node.outputs if out}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in set(node.inputs):
                if name:
                    users.setdefault(name, []).append(node)
        return users

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def walk(self) -> Iterable[tuple[Graph, Node]]:
        """Every node of this graph and of its subgraphs, depth first."""
        for node in self.nodes:
            yield self, node
            for sub in node.subgraphs.values():
                yield from sub.walk()

    def verify(self) -> None:
        """Checks SSA form and topological order; raises ValueError naming the offending node."""
        defined = set(self.inputs) | set(self.constants) | set(self.outer_scope)
        for node in self.nodes:
            missing = [i for i in node.inputs if i and i not in defined]
            if missing:
                raise ValueError(f"node {node.label} reads undefined value(s) {missing}")
            for out in node.outputs:
                if out and out in defined:
                    raise ValueError(f"node {node.label} redefines value {out!r}")
                defined.add(out)
        missing_out = [o for o in self.outputs if o not in defined]
        if missing_out:
            raise ValueError(f"graph {self.name!r} outputs undefined value(s) {missing_out}")


def unique_name(base: str, taken: set[str]) -> str:
    """A value/node name based on `base` not in `taken` (and records it)."""
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name
