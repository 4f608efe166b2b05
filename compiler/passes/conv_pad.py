"""An explicit zero Pad in front of a Conv, as tf2onnx and some torch exports spell 'SAME' padding
(often asymmetric, for stride 2), folded into the conv's own padding by conv_rewrite.

Separate, the Pad is a kernel that writes the whole padded copy, which the conv then reads (the
conv kernels pad internally for free): C64 56x56 3x3 stride 2 ran at 0.76x of onnxruntime.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onnxjit.compiler.graph import Graph, Node


@dataclass(frozen=True)
class PadFold:
    node: Node                  # the Pad, to be removed with the conv's match
    source: str                 # its (unpadded) input, the conv's new input
    begin: tuple[int, ...]      # spatial pads to add to the conv's, per spatial axis
    end: tuple[int, ...]


def absorbable_pad(graph: Graph, conv: Node) -> PadFold | None:
    """The zero constant Pad of spatial axes only whose sole reader is `conv` (explicit pads,
    no auto_pad), or None."""
    value = conv.inputs[0]
    pad = next((n for n in graph.nodes if value in n.outputs), None)
    readers = graph.consumers().get(value, [])
    auto_pad = conv.attr("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if (pad is None or pad.op_type != "Pad" or pad.domain not in ("", "ai.onnx") or len(readers) != 1
            or value in graph.outputs or auto_pad != "NOTSET"):
        return None
    mode = pad.attr("mode", "constant")
    if (mode.decode() if isinstance(mode, bytes) else str(mode)) != "constant":
        return None
    if graph.opset("") < 11:
        pads, fill = pad.attr("pads", pad.attr("paddings")), float(pad.attr("value", 0.0))
    else:
        if len(pad.inputs) > 3 and pad.inputs[3]:
            return None   # an axes input: rare, not worth the mapping
        pads = graph.constants.get(pad.inputs[1]) if len(pad.inputs) > 1 else None
        fill_name = pad.inputs[2] if len(pad.inputs) > 2 else ""
        fill_value = graph.constants.get(fill_name) if fill_name else np.zeros(1)
        if fill_value is None or np.asarray(fill_value).size != 1:
            return None
        fill = float(np.asarray(fill_value).reshape(-1)[0])
    if pads is None or fill != 0.0:
        return None
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    rank = len(pads) // 2
    if (rank < 3 or len(pads) != 2 * rank or any(p < 0 for p in pads)
            or any(pads[i] or pads[rank + i] for i in (0, 1))):
        return None
    return PadFold(pad, pad.inputs[0], tuple(pads[2:rank]), tuple(pads[rank + 2:]))
