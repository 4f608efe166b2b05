"""ONNX importer: a model path, bytes or ModelProto -> onnxjit Graph.

Loading is defensive: a truncated or malformed file, or external data whose path leaves the model's
folder, raises ModelLoadError before anything is read from disk outside that folder.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from onnxjit.compiler.errors import ModelLoadError
from onnxjit.compiler.graph import Dim, Graph, Node, TensorType

ModelSource = Union[str, os.PathLike, bytes, onnx.ModelProto]


def load_model(source: ModelSource) -> tuple[onnx.ModelProto, str]:
    """Reads and validates a model; returns it with a display name for error messages."""
    if isinstance(source, onnx.ModelProto):
        return _checked(source, "<ModelProto>"), "<ModelProto>"
    if isinstance(source, (bytes, bytearray)):
        model = _parse(bytes(source), "<bytes>")
        if _external_tensors(model):
            raise ModelLoadError("model given as bytes refers to external data; load it from a path")
        return _checked(model, "<bytes>"), "<bytes>"
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read model {str(path)!r}: {exc.strerror or exc}") from None
    model = _parse(data, str(path))
    _load_external_data(model, path)
    return _checked(model, str(path)), str(path)


def _parse(data: bytes, name: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(f"model {name!r} is not a valid ONNX file (truncated or corrupt): {exc}")
    if not model.HasField("graph") or model.ir_version == 0:
        raise ModelLoadError(f"model {name!r} is not a valid ONNX file: no graph or IR version")
    return model


def _external_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    return [t for t in _get_all_tensors(model) if uses_external_data(t)]


def _load_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Loads external tensors, refusing any location outside the model's folder."""
    tensors = _external_tensors(model)
    if not tensors:
        return
    base = path.resolve().parent
    for tensor in tensors:
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        target = (base / location).resolve()
        if os.path.isabs(location) or not target.is_relative_to(base):
            raise ModelLoadError(
                f"model {str(path)!r}: initializer {tensor.name!r} has external data at "
                f"{location!r}, which is outside the model's folder {str(base)!r}; refused")
        if not target.is_file():
            raise ModelLoadError(
                f"model {str(path)!r}: external data file {location!r} of initializer "
                f"{tensor.name!r} is missing")
        offset, length = int(info.get("offset", 0)), int(info.get("length", -1))
        size = target.stat().st_size
        if offset > size or (length >= 0 and offset + length > size):
            raise ModelLoadError(
                f"model {str(path)!r}: external data of {tensor.name!r} in {location!r} is "
                f"truncated (needs bytes {offset}..{offset + max(length, 0)}, file has {size})")
    try:
        onnx.external_data_helper.load_external_data_for_model(model, str(base))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model {str(path)!r}: cannot load external data: {exc}") from None


# Checker complaints onnxruntime ignores and we can too: a graph output declared without a shape
# (exporters write these; shapes come from inference and from our lowerings). An op type onnx does
# not know (a typo, a custom domain) is left to the supported-op check, which lists every such
# node by name at once instead of the checker's first one without its node.
_BENIGN_CHECKER_ERRORS = ("Field 'shape' of 'type' is required but missing", "No Op registered for")


def _checked(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid model"
        if first.startswith(_BENIGN_CHECKER_ERRORS):
            return model

        raise ModelLoadError(f"model {name!r} is malformed: {first}") from None
    return model


def import_model(source: ModelSource) -> tuple[Graph, str]:
    """Loads, shape-infers and converts a model; returns the graph and the model's display name."""
    model, name = load_model(source)
    named = _dim_params(model.graph)
    try:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001  (inference is a hint; our lowering derives shapes itself)
        pass
    _forget_generated_dims(model.graph, named)
    opsets = {(o.domain if o.domain != "ai.onnx" else ""): int(o.version) for o in model.opset_import}
    return convert_graph(model.graph, opsets), name


def _value_infos(g: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    infos = [*g.input, *g.value_info, *g.output]
    for node in g.node:
        for a in node.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                infos.extend(_value_infos(sub))
    return infos


def _dim_params(g: onnx.GraphProto) -> set[str]:
    return {d.dim_param for info in _value_infos(g) if info.type.HasField("tensor_type")
            for d in info.type.tensor_type.shape.dim if d.dim_param}


def _forget_generated_dims(g: onnx.GraphProto, named: set[str]) -> None:
    """Shape inference names the unknown dims it creates ("unk__0"); they are anonymous, as
    onnxruntime reports them (None), not symbols the user could bind."""
    for info in _value_infos(g):
        if info.type.HasField("tensor_type"):
            for d in info.type.tensor_type.shape.dim:
                if d.dim_param and d.dim_param not in named and d.dim_param.startswith("unk__"):
                    d.ClearField("dim_param")


def convert_graph(g: onnx.GraphProto, opsets: dict[str, int], outer: tuple[str, ...] = ()) -> Graph:
    constants: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for sparse in g.sparse_initializer:
        constants[sparse.values.name] = _densify(sparse)
    types: dict[str, TensorType] = {}
    for info in [*g.input, *g.value_info, *g.output]:
        tt = _tensor_type(info.type)
        if tt is not None:
            types[info.name] = tt
    for cname, value in constants.items():
        types[cname] = TensorType(str(value.dtype), tuple(int(d) for d in value.shape))
    inputs = tuple(i.name for i in g.input if i.name not in constants)
    scope = outer + inputs + tuple(constants) + tuple(o for n in g.node for o in n.output)
    nodes = tuple(_convert_node(n, i, opsets, scope) for i, n in enumerate(g.node))
    return Graph(
        name=g.name or "main", nodes=nodes, inputs=inputs, outputs=tuple(o.name for o in g.output),
        types=types, constants=constants, opsets=opsets, outer_scope=outer)


def _convert_node(n: onnx.NodeProto, index: int, opsets: dict[str, int],
                  scope: tuple[str, ...]) -> Node:
    attrs: dict[str, Any] = {}
    for a in n.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            attrs[a.name] = convert_graph(a.g, opsets, scope)
        elif a.type == onnx.AttributeProto.GRAPHS:
            attrs[a.name] = tuple(convert_graph(sub, opsets, scope) for sub in a.graphs)
        elif a.type == onnx.AttributeProto.TENSOR:
            attrs[a.name] = numpy_helper.to_array(a.t)
        elif a.type == onnx.AttributeProto.SPARSE_TENSOR:
            attrs[a.name] = _densify(a.sparse_tensor)
        else:
            value = onnx.helper.get_attribute_value(a)
            attrs[a.name] = value.decode() if isinstance(value, bytes) else value
    domain = "" if n.domain == "ai.onnx" else n.domain
    # Unnamed nodes get onnxruntime's style of name, so every error can point at a node.
    name = n.name or f"{n.op_type}_{index}"
    # Outer-scope values its subgraphs read become trailing inputs, so liveness, fusion and kernel
    # arguments see them like any other input (a lowering finds them with `captured_values`).
    implicit = tuple(v for g in attrs.values() for sub in (g if isinstance(g, tuple) else (g,))
                     if isinstance(sub, Graph) for v in captured_values(sub))
    return Node(op_type=n.op_type, inputs=tuple(n.input) + implicit, outputs=tuple(n.output),
                name=name, domain=domain, attrs=attrs)


def captured_values(g: Graph) -> tuple[str, ...]:
    """Values a subgraph (or its own subgraphs, via their nodes' inputs) reads from outside it."""
    defined = set(g.inputs) | set(g.constants)
    seen: list[str] = []
    for node in g.nodes:
        for value in node.inputs:
            if value and value not in defined and value not in seen:
                seen.append(value)
        defined.update(o for o in node.outputs if o)
    seen += [o for o in g.outputs if o not in defined and o not in seen]
    return tuple(seen)


def _densify(sparse: onnx.SparseTensorProto) -> np.ndarray:
    values = numpy_helper.to_array(sparse.values)
    indices = numpy_helper.to_array(sparse.indices).astype(np.int64)
    dense = np.zeros(tuple(sparse.dims), dtype=values.dtype)
    if indices.ndim == 1:  # linearised indices
        dense.reshape(-1)[indices] = values
    else:
        dense[tuple(indices.T)] = values
    return dense


def _tensor_type(t: onnx.TypeProto) -> TensorType | None:
    if not t.HasField("tensor_type") or t.tensor_type.elem_type == 0:
        return None
    dtype = str(onnx.helper.tensor_dtype_to_np_dtype(t.tensor_type.elem_type))
    if not t.tensor_type.HasField("shape"):
        return TensorType(dtype, None)
    dims: list[Dim] = []
    for i, d in enumerate(t.tensor_type.shape.dim):
        if d.HasField("dim_value") and d.dim_value >= 0:
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or f"?{i}")
    return TensorType(dtype, tuple(dims))
