"""The exporter spelling of attention, recognised by structure (never by node names):

    MatMul(Q, KT) -> [Div(c) | Mul(c)] -> [Add(mask) | Where(keep, ., fill)] -> Softmax(-1) -> MatMul(., V)

KT is Transpose(K) swapping the last two axes, or Transpose(Reshape(k, [B, S, H, D]), [0, 2, 3, 1]).
Q/V given as Transpose(Reshape(x, [B, S, H, D]), [0, 2, 1, 3]) and an output read back through
Transpose([0, 2, 1, 3]) -> Reshape([B, S, H*D]) are absorbed as the 3-D "bsh" layout, so the head
transposes around multi-head projections cost nothing. 3-D scores [B, S, T] are one head.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node
from onnxjit.compiler.passes.rewrite import replace_nodes

HEADS_PERM = (0, 2, 1, 3)


@dataclass(frozen=True)
class _Operand:
    value: str                  # the tensor the kernel reads
    layout: str                 # "bhsd" | "bsh"
    heads: int
    absorbed: tuple[Node, ...]  # layout nodes that die with the match


class _Matcher:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.prod = graph.producers()
        self.cons = graph.consumers()

    def sole(self, value: str) -> bool:
        return len(self.cons.get(value, [])) == 1 and value not in self.g.outputs

    def shape(self, value: str) -> tuple[int, ...]:
        return self.g.types[value].static_shape()

    def scalar(self, value: str) -> float | None:
        c = self.g.constants.get(value)
        return float(np.asarray(c).reshape(-1)[0]) if c is not None and np.asarray(c).size == 1 else None

    def op(self, value: str, op_type: str) -> Node | None:
        node = self.prod.get(value)
        return node if node is not None and node.op_type == op_type and node.domain in ("", "ai.onnx") else None

    def heads_view(self, value: str, perm: tuple[int, ...]) -> _Operand | None:
        """value = Transpose(Reshape(x [B, S, H*D], [B, S, H, D]), perm) -> x read as "bsh"."""
        t = self.op(value, "Transpose")
        if t is None or tuple(t.attr("perm", ())) != perm:
            return None
        r = self.op(t.inputs[0], "Reshape")
        if r is None or len(self.shape(r.inputs[0])) != 3 or len(self.shape(t.inputs[0])) != 4:
            return None
        b, s, h, _ = self.shape(t.inputs[0])
        if self.shape(r.inputs[0])[:2] != (b, s):
            return None
        absorbed = tuple(n for n, v in ((t, value), (r, t.inputs[0])) if self.sole(v))
        absorbed = absorbed if t in absorbed else ()
        return _Operand(r.inputs[0], "bsh", h, absorbed)

    def operand(self, value: str) -> _Operand:
        view = self.heads_view(value, HEADS_PERM)
        if view is not None:
            return view
        shape = self.shape(value)
        return _Operand(value, "bhsd", shape[1], ()) if len(shape) == 4 else _Operand(value, "bsh", 1, ())

    def key(self, kt: str) -> _Operand | None:
        rank = len(self.shape(kt))
        view = self.heads_view(kt, (0, 2, 3, 1)) if rank == 4 else None
        if view is not None:
            return view
        t = self.op(kt, "Transpose")
        swap = tuple(range(rank - 2)) + (rank - 1, rank - 2)
        if t is None or tuple(t.attr("perm", ())) != swap:
            return None
        inner = self.operand(t.inputs[0])
        dead = (t,) if self.sole(kt) else ()
        return _Operand(inner.value, inner.layout, inner.heads, inner.absorbed + dead if dead else ())


def match_exporter_attention(graph: Graph) -> Graph:
    for node in graph.nodes:
        if node.op_type == "Softmax" and node.domain in ("", "ai.onnx"):
            fused = _match_at(graph, node)
            if fused is not None:
                matched, new = fused
                try:
                    return match_exporter_attention(replace_nodes(graph, matched, new))
                except ValueError:
                    continue  # an intermediate is read elsewhere: leave this one alone
    return graph


def _match_at(graph: Graph, softmax: Node) -> tuple[list[Node], Node] | None:
    m = _Matcher(graph)
    x = softmax.inputs[0]
    rank = len(m.shape(x))
    # Before opset 13 Softmax flattens from `axis` (default 1): the last axis alone is the same.
    axis = int(softmax.attr("axis", -1 if graph.opset("") >= 13 else 1))
    if rank not in (3, 4) or axis not in (-1, rank - 1):
        return None
    if graph.types[x].dtype != "float32":
        return None
    matched = [softmax]
    mask, mask_kind, mask_const = "", "none", None
    node = m.prod.get(x)
    if node is not None and node.op_type == "Add" and m.sole(x):
        for i in (0, 1):
            if m.op(node.inputs[i], "MatMul") or m.op(node.inputs[i], "Div") or m.op(node.inputs[i], "Mul"):
                mask, x = node.inputs[1 - i], node.inputs[i]
                break
        else:
            return None
        mask_kind = "add"
        matched.append(node)
    elif node is not None and node.op_type == "Where" and m.sole(x):
        fill = m.scalar(node.inputs[2])
        if fill is None or fill > -1e9:
            return None
        mask, x, mask_kind = node.inputs[0], node.inputs[1], "bool"
        matched.append(node)
    scale = 1.0
    node = m.prod.get(x)
    if node is not None and node.op_type in ("Div", "Mul") and m.sole(x):
        c = m.scalar(node.inputs[1])
        if c is None or c == 0:
            return None
        scale = 1.0 / c if node.op_type == "Div" else c
        x = node.inputs[0]
        matched.append(node)
    qk = m.op(x, "MatMul")
    if qk is None or not m.sole(x):
        return None
    matched.append(qk)
    q, k = m.operand(qk.inputs[0]), m.key(qk.inputs[1])
    readers = m.cons.get(softmax.outputs[0], [])
    if k is None or len(readers) != 1 or readers[0].op_type != "MatMul" or readers[0].inputs[0] != softmax.outputs[0]:
        return None
    pv = readers[0]
    v = m.operand(pv.inputs[1])
    matched.append(pv)
    out, o_layout, out_nodes = pv.outputs[0], ("bhsd" if rank == 4 else "bsh"), []
    if rank == 4 and m.sole(out):
        t = m.cons[out][0]
        if t.op_type == "Transpose" and tuple(t.attr("perm", ())) == HEADS_PERM and m.sole(t.outputs[0]):
            r = m.cons[t.outputs[0]][0]
            if r.op_type == "Reshape" and len(m.shape(r.outputs[0])) == 3:
                out, o_layout, out_nodes = r.outputs[0], "bsh", [t, r]
    if len({q.heads, k.heads, v.heads}) != 1 and not (q.heads % k.heads == 0 and k.heads == v.heads):
        return None
    scores = m.shape(softmax.inputs[0])
    sq, skv = scores[-2], scores[-1]
    causal, offset = 0, 0
    if mask:
        from onnxjit.compiler.passes.attention import causal_offset_of

        mask_const = graph.constants.get(mask)
        if mask_const is not None:
            off = causal_offset_of(np.asarray(mask_const), sq, skv)
            if off is not None:
                mask, causal, offset = "", 1, off
    if mask:
        mshape = m.shape(mask)
        if len(mshape) > rank or (mask_kind == "bool") != (graph.types[mask].dtype == "bool"):
            return None
        axes = (0, 1, 2, 3)[4 - len(mshape):] if rank == 4 else (0, 2, 3)[3 - len(mshape):]
    attrs = {"q_layout": q.layout, "k_layout": k.layout, "v_layout": v.layout, "o_layout": o_layout,
             "q_heads": q.heads, "kv_heads": k.heads, "scale": scale * 1.0, "causal": causal,
             "causal_offset": offset}
    if mask:
        attrs["mask_axes"] = list(axes)
    inputs = (q.value, k.value, v.value, mask) if mask else (q.value, k.value, v.value)
    fused = Node("Attention", inputs, (out,), name=f"{softmax.name or 'softmax'}_attention",
                 domain=ONNXJIT_DOMAIN, attrs=attrs)
    return [*matched, *q.absorbed, *k.absorbed, *v.absorbed, *out_nodes], fused
