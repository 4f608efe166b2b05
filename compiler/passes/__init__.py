"""Graph passes run on a specialised graph before partitioning, in order.

A pass is a function Graph -> Graph. Passes that recognise a pattern (attention, sparse conv,
scans) replace the matched nodes with one fused node in the "onnxjit" domain; `rewrite.py` has the
helper that does the replacement safely.
"""
from __future__ import annotations

from collections.abc import Callable

from onnxjit.compiler.graph import Graph
from onnxjit.compiler.lower_context import LayoutHints
from onnxjit.compiler.passes.attention import fuse_attention
from onnxjit.compiler.passes.causal_conv_layout import causal_conv_channels_last
from onnxjit.compiler.passes.scan_recurrence import fuse_scan_recurrences
from onnxjit.compiler.passes.conv_rewrite import rewrite_convs
from onnxjit.compiler.passes.conv_transpose import rewrite_conv_transposes
from onnxjit.compiler.passes.inference import drop_dropout
from onnxjit.compiler.passes.sparse_linear import sparse_linear
from onnxjit.compiler.passes.split_matmul import split_matmuls
from onnxjit.compiler.passes.winograd import winograd_convs
from onnxjit.compiler.passes.expand_depthwise import fuse_expand_depthwise

GraphPass = Callable[[Graph], Graph]

# sparse_linear turns pruned MatMul/Gemm into 1x1 Convs, which rewrite_convs then packs;
# rewrite_conv_transposes turns ConvTranspose into Convs for it too
PASSES: list[GraphPass] = [drop_dropout, fuse_scan_recurrences, fuse_attention, split_matmuls,
                           causal_conv_channels_last, sparse_linear, rewrite_conv_transposes, rewrite_convs]


def _late_passes() -> list[GraphPass]:
    # Weight packing rewrites MatMul/Gemm into packed onnxjit ops: it runs after every matcher.
    from onnxjit.compiler.passes.pack_weights import pack_matmul_weights

    return [pack_matmul_weights]


def run_passes(graph: Graph, hints: LayoutHints = LayoutHints()) -> Graph:
    for graph_pass in [*PASSES, *_late_passes()]:
        graph = graph_pass(graph)
    if hints.winograd:   # after rewrite_convs: it rewrites that pass's dense onnxjit::Conv nodes
        graph = winograd_convs(graph)
    if hints.expand_depthwise:   # after rewrite_convs: it fuses that pass's onnxjit::Conv pairs
        graph = fuse_expand_depthwise(graph)
    return graph
