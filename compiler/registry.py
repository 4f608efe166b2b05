"""The opset-aware lowering registry: (domain, op type, since-version) -> lowering function.

One file per op in compiler/ops registers itself with `@register`. `lookup` picks the newest version
whose since-version is at most the model's opset for that domain, as ONNX's own op sets do.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onnxjit.compiler.lower_context import LowerContext
    from onnxjit.compiler.tvm_api import te


class OpKind(str, Enum):
    """How an op's kernel may be fused and which schedule template family takes it."""

    ELEMENTWISE = "elementwise"   # one output element from the same-index input elements (+broadcast)
    INJECTIVE = "injective"       # pure data movement/indexing: transpose, slice, concat, gather
    VIEW = "view"                 # reinterprets a contiguous buffer: reshape, squeeze; no kernel
    MATMUL = "matmul"             # contraction over one axis
    REDUCTION = "reduction"       # reduces inner axes: reduce*, softmax, normalisations
    OPAQUE = "opaque"             # anything else; scheduled by the fallback template


LowerFn = Callable[["LowerContext"], "list[te.Tensor]"]


@dataclass(frozen=True)
class OpDef:
    op_type: str
    domain: str
    since: int
    kind: OpKind
    lower: LowerFn


_REGISTRY: dict[tuple[str, str], list[OpDef]] = {}


def register(
    op_types: str | tuple[str, ...], *, kind: OpKind, since: int = 1, domain: str = ""
) -> Callable[[LowerFn], LowerFn]:
    """Registers a lowering for one or several op types (same function, same since-version)."""
    names = (op_types,) if isinstance(op_types, str) else op_types

    def wrap(fn: LowerFn) -> LowerFn:
        for op_type in names:
            versions = _REGISTRY.setdefault((_canonical(domain), op_type), [])
            if any(v.since == since for v in versions):
                raise ValueError(f"{op_type} (domain {domain!r}) since {since} registered twice")
            versions.append(OpDef(op_type, _canonical(domain), since, kind, fn))
            versions.sort(key=lambda v: v.since)
        return fn

    return wrap


def _canonical(domain: str) -> str:
    return "" if domain in ("", "ai.onnx") else domain


def lookup(op_type: str, domain: str, opset: int) -> OpDef | None:
    """The lowering for this op at this opset, or None if onnxjit cannot lower it."""
    _load_ops()
    versions = _REGISTRY.get((_canonical(domain), op_type), [])
    chosen = None
    for version in versions:
        if version.since <= opset:
            chosen = version
    return chosen


def supported_ops() -> list[tuple[str, str, int]]:
    """(domain, op type, since) of every registered lowering, sorted."""
    _load_ops()
    return sorted((d, o, v.since) for (d, o), vs in _REGISTRY.items() for v in vs)


def _load_ops() -> None:
    # Importing the package runs every op file's @register; deferred to avoid import cycles.
    import onnxjit.compiler.ops  # noqa: F401
