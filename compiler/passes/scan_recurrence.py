"""Recognises linear recurrences in Scan bodies and fuses them into onnxjit scan ops.

Matched structurally (op types and data flow, never names), in the spellings exporters produce:

- LinearScan:    h_t = a_t ⊙ h_{t-1} + b_t ⊙ x_t[:, None];  y_t = ⟨h_t, c_t⟩
- SelectiveScan: h_t = exp(Δ_t[:, None] ⊙ A) ⊙ h_{t-1} + (Δ_t ⊙ x_t)[:, None] ⊙ B_t[None, :];
                 y_t = ⟨h_t, C_t⟩ (+ Dskip ⊙ x_t)          (Mamba-1's S6 step; A, Dskip outer values)

with the readout ⟨h, c⟩ spelled MatMul(h, c) or ReduceSum(Mul(h, c), axes=[-1], keepdims=0). The
Scan must be forward along axis 0 with one state (D, N) and one scan output (L, D). A Sigmoid or
Exp producing LinearScan's a (read by nothing else) is folded into the kernel as its decay
activation, as the prototype did (shared/notes/proto-scan.md §1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node
from onnxjit.compiler.importer import captured_values
from onnxjit.compiler.passes.rewrite import replace_nodes


@dataclass(frozen=True)
class _Body:
    """Lookups over a Scan body: who produces a value, which scan input or capture it is."""

    graph: Graph
    producers: dict[str, Node]

    def op(self, value: str, op_type: str) -> Node | None:
        node = self.producers.get(value)
        return node if node is not None and node.op_type == op_type else None

    def const(self, value: str) -> np.ndarray | None:
        return self.graph.constants.get(value)


def _pair(body: _Body, value: str, op_type: str) -> list[tuple[str, str]]:
    """Both operand orders of a commutative binary node producing `value`."""
    node = body.op(value, op_type)
    if node is None or len(node.inputs) != 2:
        return []
    a, b = node.inputs
    return [(a, b), (b, a)]


def _unsqueezed_last(body: _Body, value: str) -> str | None:
    """x if value = Unsqueeze(x, axes=[1] or [-1]) of a rank-1 x, else None."""
    node = body.op(value, "Unsqueeze")
    if node is None:
        return None
    axes = node.attr("axes")
    if axes is None and len(node.inputs) > 1:
        const = body.const(node.inputs[1])
        axes = None if const is None else [int(v) for v in np.asarray(const).reshape(-1)]
    return node.inputs[0] if axes is not None and list(axes) in ([1], [-1]) else None


def _readout(body: _Body, value: str) -> tuple[str, str] | None:
    """(h, c) if value = MatMul(h, c) or ReduceSum(Mul(h, c), axes=[-1|1], keepdims=0)."""
    mm = body.op(value, "MatMul")
    if mm is not None:
        return mm.inputs[0], mm.inputs[1]
    rs = body.op(value, "ReduceSum")
    if rs is None or int(rs.attr("keepdims", 1)) != 0:
        return None
    axes = rs.attr("axes")
    if axes is None and len(rs.inputs) > 1 and rs.inputs[1]:
        const = body.const(rs.inputs[1])
        axes = None if const is None else [int(v) for v in np.asarray(const).reshape(-1)]
    if axes is None or list(axes) not in ([1], [-1]):
        return None
    pairs = _pair(body, rs.inputs[0], "Mul")
    return pairs[0] if pairs else None


def _match(scan: Node) -> tuple[str, dict[str, int], list[str]] | None:
    """(fused op type, body-input role -> body input index, captured roles) or None."""
    body_graph: Graph = scan.attr("body")
    if not isinstance(body_graph, Graph) or len(body_graph.outputs) != 2:
        return None
    if len(body_graph.inputs) - int(scan.attr("num_scan_inputs", 0)) != 1:
        return None
    body = _Body(body_graph, body_graph.producers())
    h_in = body_graph.inputs[0]
    index = {name: i for i, name in enumerate(body_graph.inputs)}
    h_out, y_t = body_graph.outputs
    readout = _readout(body, y_t)
    skip: tuple[str, str] | None = None
    if readout is None:  # y = readout + Dskip * x
        for left, right in _pair(body, y_t, "Add"):
            readout = _readout(body, left)
            pairs = _pair(body, right, "Mul")
            if readout is not None and pairs:
                skip = pairs[0]
                break
    if readout is None or readout[0] != h_out or readout[1] not in index:
        return None
    for decay_term, input_term in _pair(body, h_out, "Add"):
        for a_val, h_val in _pair(body, decay_term, "Mul"):
            if h_val != h_in:
                continue
            for b_val, xu in _pair(body, input_term, "Mul"):
                x_val = _unsqueezed_last(body, xu)
                if x_val is None:
                    continue
                roles = _linear(body, index, a_val, b_val, x_val, readout[1], skip)
                if roles is not None:
                    return roles
    return None


def _linear(body: _Body, index: dict[str, int], a: str, b: str, x: str, c: str,
            skip: tuple[str, str] | None) -> tuple[str, dict[str, int], list[str]] | None:
    if skip is None and a in index and b in index and x in index:
        return "LinearScan", {"a": index[a], "b": index[b], "x": index[x], "c": index[c]}, []
    # Mamba: a = Exp(Mul(Unsqueeze(dt), A)); b = B_t (rank 1, broadcast over D); x = Mul(dt, x)
    exp = body.op(a, "Exp")
    if exp is None or b not in index:
        return None
    for dtu, big_a in _pair(body, exp.inputs[0], "Mul"):
        dt = _unsqueezed_last(body, dtu)
        if dt is None or dt not in index:
            continue
        for dt2, xt in _pair(body, x, "Mul"):
            if dt2 != dt or xt not in index:
                continue
            captures = [big_a]
            if skip is not None:
                d_skip, x_skip = skip if skip[1] == xt else (skip[1], skip[0])
                if x_skip != xt or d_skip in index:
                    return None
                captures.append(d_skip)
            return "SelectiveScan", {"dt": index[dt], "x": index[xt], "B": index[b],
                                     "C": index[c]}, captures
    return None


def _scan_ok(scan: Node, graph: Graph) -> bool:
    m = int(scan.attr("num_scan_inputs", 0))
    if any(int(a) != 0 for a in scan.attr("scan_input_axes", None) or [0] * m):
        return False
    if any(int(d) for d in scan.attr("scan_input_directions", None) or [0]):
        return False
    if any(int(a) != 0 for a in scan.attr("scan_output_axes", None) or [0]):
        return False
    if any(int(d) for d in scan.attr("scan_output_directions", None) or [0]):
        return False
    state = graph.types.get(scan.inputs[0])
    return state is not None and state.is_static and len(state.static_shape()) == 2 \
        and str(state.dtype) == "float32"


def fuse_scan_recurrences(graph: Graph) -> Graph:
    for scan in graph.nodes:
        if scan.op_type != "Scan" or scan.domain not in ("", "ai.onnx") or not _scan_ok(scan, graph):
            continue
        matched = _match(scan)
        if matched is None:
            continue
        op_type, roles, capture_roles = matched
        body: Graph = scan.attr("body")
        outer = dict(zip(body.inputs, scan.inputs))
        outer.update(zip(captured_values(body), scan.inputs[len(body.inputs):]))
        by_index = {i: scan.inputs[i] for i in range(len(body.inputs))}
        eaten: list[Node] = [scan]
        attrs: dict[str, object] = {}
        if op_type == "LinearScan":
            a_outer = by_index[roles["a"]]
            attrs["decay_act"], a_outer, producer = _decay_prologue(graph, a_outer)
            if producer is not None:
                eaten.insert(0, producer)
            inputs = (scan.inputs[0], a_outer, by_index[roles["b"]], by_index[roles["x"]],
                      by_index[roles["c"]])
        else:
            caps = [outer.get(v, "") for v in capture_roles]
            if any(not v for v in caps):
                continue
            inputs = (scan.inputs[0], by_index[roles["dt"]], by_index[roles["x"]],
                      by_index[roles["B"]], by_index[roles["C"]], caps[0],
                      caps[1] if len(caps) > 1 else "")
        if not _shapes_ok(op_type, inputs, graph):
            continue
        fused = Node(op_type, inputs, scan.outputs, name=f"{scan.name}_{op_type}",
                     domain=ONNXJIT_DOMAIN, attrs=attrs)
        try:
            return fuse_scan_recurrences(replace_nodes(graph, eaten, fused))
        except ValueError:
            continue
    return graph


def _decay_prologue(graph: Graph, value: str) -> tuple[str, str, Node | None]:
    """("sigmoid"|"exp"|"none", the kernel's input, the absorbed node) for LinearScan's a."""
    producer = graph.producers().get(value)
    readers = graph.consumers().get(value, [])
    if (producer is not None and producer.op_type in ("Sigmoid", "Exp") and len(readers) == 1
            and value not in graph.outputs and producer.domain in ("", "ai.onnx")):
        return producer.op_type.lower(), producer.inputs[0], producer
    return "none", value, None


def _shapes_ok(op_type: str, inputs: tuple[str, ...], graph: Graph) -> bool:
    """The fused kernels' shape contract (anything else keeps the generic Scan)."""
    types = [graph.types.get(v) if v else None for v in inputs]
    if any(v and (t is None or not t.is_static or t.dtype != "float32")
           for v, t in zip(inputs, types)):
        return False
    shapes = [t.static_shape() if t is not None else None for t in types]
    d, n = shapes[0] or (0, 0)
    length = (shapes[2] or (0,))[0]
    if op_type == "LinearScan":
        want = [(d, n), (length, d, n), (length, d, n), (length, d), (length, n)]
    else:
        want = [(d, n), (length, d), (length, d), (length, n), (length, n), (d, n), (d,)]
    return all(s is None or s == w for s, w in zip(shapes, want)) and length > 0
