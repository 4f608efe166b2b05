"""onnxjit's error hierarchy: every user-facing failure names the model, node and op."""
from __future__ import annotations

from dataclasses import dataclass


class OnnxJitError(Exception):
    """Base class of every error onnxjit raises on purpose."""


class ModelLoadError(OnnxJitError):
    """The model file is missing, truncated, malformed or refers to data it may not read."""


@dataclass(frozen=True)
class UnsupportedOp:
    op_type: str
    domain: str
    opset: int
    node_name: str
    graph: str = "main"

    def describe(self) -> str:
        domain = self.domain or "ai.onnx"
        where = "" if self.graph == "main" else f" in subgraph {self.graph!r}"
        return f"{self.op_type} (domain {domain}, opset {self.opset}), node {self.node_name!r}{where}"


class UnsupportedOpsError(OnnxJitError):
    """Raised once per model, listing every node onnxjit cannot lower."""

    def __init__(self, model: str, ops: list[UnsupportedOp]) -> None:
        self.model = model
        self.ops = tuple(ops)
        lines = "\n".join(f"  - {op.describe()}" for op in ops)
        super().__init__(f"model {model!r} has {len(ops)} unsupported node(s):\n{lines}")


class LoweringError(OnnxJitError):
    """A supported op got attributes or shapes its lowering cannot handle."""

    def __init__(self, node_name: str, op_type: str, message: str) -> None:
        self.node_name = node_name
        self.op_type = op_type
        super().__init__(f"node {node_name!r} ({op_type}): {message}")


class InputError(OnnxJitError, ValueError):
    """Feeds given to `run` do not match the model's inputs (names, shapes, dtypes)."""


class BuildError(OnnxJitError):
    """TVM failed to build a kernel."""


class KnobError(OnnxJitError):
    """A schedule template was given knobs that do not fit the kernel."""
