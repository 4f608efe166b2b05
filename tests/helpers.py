"""Test helpers: build one-node models and compare onnxjit with independent references."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import onnxjit

DEFAULT_OPSET = 21


def make_model(nodes: Sequence[onnx.NodeProto], inputs: Mapping[str, np.ndarray],
               outputs: Sequence[str], initializers: Mapping[str, np.ndarray] | None = None,
               opset: int = DEFAULT_OPSET, extra_opsets: Mapping[str, int] | None = None,
               ) -> onnx.ModelProto:
    """A model over `nodes` whose input types come from example arrays; output types inferred."""
    graph_inputs = [helper.make_tensor_value_info(
        name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)
        for name, value in inputs.items()]
    graph_outputs = [helper.make_value_info(name, onnx.TypeProto()) for name in outputs]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()]
    graph = helper.make_graph(list(nodes), "test", graph_inputs, graph_outputs, inits)
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = min(model.ir_version, 10)  # onnxruntime's highest supported IR version
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    del model.graph.output[:]
    model.graph.output.extend(inferred.graph.output)
    return model


def run_onnxjit(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray],
                threads: int = 1) -> list[np.ndarray]:
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=threads)
    return session.run(None, dict(feeds))


def run_reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[Any]:
    return list(ReferenceEvaluator(model).run(None, dict(feeds)))


def run_onnxruntime(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[Any]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, dict(feeds))


def assert_matches(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], *,
                   rtol: float = 1e-5, atol: float = 1e-5, onnxruntime: bool = True) -> None:
    """onnxjit's outputs equal onnx's reference evaluator's (and onnxruntime's) within tolerance."""
    ours = run_onnxjit(model, feeds)
    references = [("reference", run_reference(model, feeds))]
    if onnxruntime:
        references.append(("onnxruntime", run_onnxruntime(model, feeds)))
    for label, expected in references:
        assert len(ours) == len(expected), label
        for i, (got, want) in enumerate(zip(ours, expected)):
            want = np.asarray(want)
            assert got.shape == want.shape, f"{label} output {i}: shape {got.shape} vs {want.shape}"
            assert got.dtype == want.dtype, f"{label} output {i}: dtype {got.dtype} vs {want.dtype}"
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                       err_msg=f"output {i} differs from {label}")


def offset_copy(value: np.ndarray, misalign: int) -> np.ndarray:
    """`value` copied to an address `misalign` bytes past a 64-byte boundary."""
    raw = np.empty(value.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + misalign
    out = raw[start:start + value.nbytes].view(value.dtype).reshape(value.shape)
    out[...] = value
    return out
