"""Scan (opset 9+) and Loop (with a compile-time trip count): the body compiled once, the loop
over steps inside the generated kernel.

The body becomes one step's statement (ops/_body.py); the kernel is a serial time loop around it.
Scan inputs along axis 0 and scan outputs along axis 0 are views of the step's row (no copies);
other axes are copied per step. States live in two kernel-owned buffers (in/out), copied once a
step. Captured outer-scope values are the node's trailing inputs (importer) and are aliased.
Recognised linear recurrences never get here: passes/scan_recurrence.py fuses them first.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from onnxjit.compiler.graph import Graph
from onnxjit.compiler.importer import captured_values
from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._body import BodyFunc, lower_body
from onnxjit.compiler.ops._tir import SPEC_KEY
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import T, te, tirx


@dataclass(frozen=True)
class Sliced:
    """A tensor indexed by the step along `axis` (read backwards if `reverse`)."""

    slot: int          # index into the extern's input or output buffers
    axis: int
    reverse: bool


Source = Any  # ("state", k) | ("slice", Sliced) | ("iter",) | ("true",)


def _row(t: Any, length: int, reverse: bool) -> Any:
    return length - 1 - t if reverse else t


def _nest(shape: Sequence[int], make: Callable[[list[Any]], Any]) -> Any:
    """Nested serial loops over `shape` around `make(index)`."""
    idx = [tirx.Var(f"i{k}", "int32") for k in range(len(shape))]
    stmt = make(idx)
    for var, extent in reversed(list(zip(idx, shape))):
        stmt = tirx.For(var, 0, int(extent), tirx.ForKind.SERIAL, stmt)
    return stmt


def _copy(dst: Any, dst_at: Callable[[list[Any]], list[Any]], src: Any,
          src_at: Callable[[list[Any]], list[Any]], shape: Sequence[int]) -> Any:
    return _nest(shape, lambda i: tirx.BufferStore(dst, tirx.BufferLoad(src, src_at(i)), dst_at(i)))


def _insert(index: list[Any], axis: int, value: Any) -> list[Any]:
    return [*index[:axis], value, *index[axis:]]


def _shape(buf: Any) -> list[int]:
    return [int(d) for d in buf.shape]


def loop_stmt(ins: Sequence[Any], outs: Sequence[Any], body: BodyFunc, length: int,
              sources: Sequence[Source], n_states: int, init_slots: Sequence[int],
              out_slices: Sequence[Sliced], capture_slots: Sequence[int],
              sink_first: bool, lead: Sequence[Any] = ()) -> Any:
    """The kernel statement: `length` steps of the body, states carried, slices read/written.

    `sources[i]` says what feeds body input i; body outputs are ([cond,] states..., scans...).
    `lead` prefixes every state and sliced tensor's index (Scan-8's batch element).
    """
    pre = list(lead)
    prologue: list[Any] = []
    for k, slot in enumerate(capture_slots):
        prologue.append(tirx.DeclBuffer(body.inputs[len(sources) + k], data=ins[slot].data))
    b_outs = list(body.outputs[1:] if sink_first else body.outputs)
    state_in = [body.inputs[i] for i, s in enumerate(sources) if s[0] == "state"]
    state_out = b_outs[:n_states]
    for buf in [*state_in, *state_out]:
        prologue.append(tirx.AllocBuffer(buf))
    if sink_first:
        prologue.append(tirx.AllocBuffer(body.outputs[0]))
    for buf, slot in zip(state_in, init_slots):
        prologue.append(_copy(buf, lambda i: i, ins[slot], lambda i: [*pre, *i], _shape(buf)))
    copied_in = [(body.inputs[i], s[1]) for i, s in enumerate(sources)
                 if s[0] == "slice" and s[1].axis != 0]
    copied_out = [(b_outs[n_states + j], sl) for j, sl in enumerate(out_slices) if sl.axis != 0]
    for buf, _ in [*copied_in, *copied_out]:
        prologue.append(tirx.AllocBuffer(buf))
    scalars = [body.inputs[i] for i, s in enumerate(sources) if s[0] in ("iter", "true")]
    for buf in scalars:
        prologue.append(tirx.AllocBuffer(buf))

    t = tirx.Var("step", "int32")
    step: list[Any] = []
    for i, src in enumerate(sources):
        buf = body.inputs[i]
        if src[0] == "iter":
            step.append(tirx.BufferStore(buf, tirx.Cast(str(buf.dtype), t), []))
        elif src[0] == "true":
            step.append(tirx.BufferStore(buf, tirx.const(True, "bool"), []))
        elif src[0] == "slice":
            sl, ext = src[1], ins[src[1].slot]
            row = _row(t, length, sl.reverse)
            if sl.axis == 0:
                zeros = [0] * (len(ext.shape) - 1 - len(pre))
                step.append(tirx.DeclBuffer(buf, data=T.address_of(ext[(*pre, row, *zeros)])))
            else:
                step.append(_copy(buf, lambda i: i, ext,
                                  lambda i, a=sl.axis, r=row: [*pre, *_insert(i, a, r)],
                                  _shape(buf)))
    for j, sl in enumerate(out_slices):
        if sl.axis == 0:
            ext = outs[sl.slot]
            zeros = [0] * (len(ext.shape) - 1 - len(pre))
            row = _row(t, length, sl.reverse)
            step.append(tirx.DeclBuffer(b_outs[n_states + j],
                                        data=T.address_of(ext[(*pre, row, *zeros)])))
    step.append(body.func.body)
    for buf, sl in copied_out:
        row = _row(t, length, sl.reverse)
        step.append(_copy(outs[sl.slot], lambda i, a=sl.axis, r=row: [*pre, *_insert(i, a, r)],
                          buf, lambda i: i, _shape(buf)))
    for src_buf, dst_buf in zip(state_out, state_in):
        step.append(_copy(dst_buf, lambda i: i, src_buf, lambda i: i, _shape(dst_buf)))
    loop = tirx.For(t, 0, length, tirx.ForKind.SERIAL, tirx.SeqStmt(step))
    epilogue = [_copy(outs[k], lambda i: [*pre, *i], buf, lambda i: i, _shape(buf))
                for k, buf in enumerate(state_in)]
    return tirx.SeqStmt([*prologue, loop, *epilogue])


def _extern(ctx: LowerContext, inputs: Sequence[te.Tensor], out_types: Sequence[tuple[Any, str]],
            build: Callable[[Any, Any], Any]) -> list[te.Tensor]:
    result = te.extern([tuple(s) for s, _ in out_types], list(inputs), build,
                       name=ctx.name(ctx.node.op_type.lower()),
                       dtype=[d for _, d in out_types],
                       attrs={SPEC_KEY: json.dumps({"op": ctx.node.op_type})})
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _captures(ctx: LowerContext, body: Graph
              ) -> tuple[list[int], list[tuple[str, te.Tensor, np.ndarray | None]]]:
    names = captured_values(body)
    first = len(ctx.node.inputs) - len(names)
    slots = list(range(first, len(ctx.node.inputs)))
    return slots, [(n, ctx.input(s), ctx.const(s)) for n, s in zip(names, slots)]


@register("Scan", kind=OpKind.OPAQUE, since=9)
def lower_scan(ctx: LowerContext) -> list[te.Tensor]:
    body: Graph = ctx.attr("body")
    m = int(ctx.attr("num_scan_inputs"))
    cap_slots, captures = _captures(ctx, body)
    n_states = len(body.inputs) - m
    k_outs = len(body.outputs) - n_states
    scans = [ctx.input(n_states + i) for i in range(m)]
    in_axes = list(ctx.attr("scan_input_axes", None) or [0] * m)
    in_dirs = list(ctx.attr("scan_input_directions", None) or [0] * m)
    out_axes = list(ctx.attr("scan_output_axes", None) or [0] * k_outs)
    out_dirs = list(ctx.attr("scan_output_directions", None) or [0] * k_outs)
    if m < 1:
        raise ctx.error("Scan needs at least one scan input")
    axes = [normalize_axis(int(a), len(s.shape), ctx) for a, s in zip(in_axes, scans)]
    lengths = {int(s.shape[a]) for s, a in zip(scans, axes)}
    if len(lengths) != 1:
        raise ctx.error(f"scan inputs disagree on the sequence length: {sorted(lengths)}")
    length = lengths.pop()
    in_types = [(ctx.shape(i), ctx.dtype(i)) for i in range(n_states)]
    for s, a in zip(scans, axes):
        shape = tuple(int(d) for d in s.shape)
        in_types.append((shape[:a] + shape[a + 1:], str(s.dtype)))
    bf = lower_body(ctx, body, in_types, captures)
    out_types: list[tuple[Any, str]] = [(_shape(b), str(b.dtype)) for b in bf.outputs[:n_states]]
    out_slices = []
    for j, buf in enumerate(bf.outputs[n_states:]):
        axis = normalize_axis(int(out_axes[j]), len(buf.shape) + 1, ctx)
        out_types.append((_insert(_shape(buf), axis, length), str(buf.dtype)))
        out_slices.append(Sliced(n_states + j, axis, bool(out_dirs[j])))
    sources: list[Source] = [("state", k) for k in range(n_states)]
    sources += [("slice", Sliced(n_states + i, axes[i], bool(in_dirs[i]))) for i in range(m)]
    inputs = [ctx.input(i) for i in range(n_states + m)] + [t for _, t, _ in captures]
    caps = list(range(n_states + m, n_states + m + len(captures)))
    del cap_slots
    return _extern(ctx, inputs, out_types, lambda ins, outs: loop_stmt(
        ins, outs, bf, length, sources, n_states, list(range(n_states)), out_slices, caps,
        sink_first=False))


@register("Scan", kind=OpKind.OPAQUE, since=8)
def lower_scan_8(ctx: LowerContext) -> list[te.Tensor]:
    """Scan-8: a leading batch axis on states and scan inputs (sequence axis 1), run per element."""
    body: Graph = ctx.attr("body")
    m = int(ctx.attr("num_scan_inputs"))
    _, captures = _captures(ctx, body)
    n_states = len(body.inputs) - m
    if ctx.node.inputs[0]:
        lens = ctx.const(0)
        full = None if lens is None else np.asarray(lens)
        if full is None or not np.all(full == ctx.shape(1 + n_states)[1]):
            raise ctx.error("sequence_lens shorter than the sequence is not supported")
    dirs = list(ctx.attr("directions", None) or [0] * m)
    scans = [ctx.input(1 + n_states + i) for i in range(m)]
    batch = int(scans[0].shape[0])
    length = int(scans[0].shape[1])
    in_types = [(ctx.shape(1 + i)[1:], ctx.dtype(1 + i)) for i in range(n_states)]
    in_types += [(tuple(int(d) for d in s.shape[2:]), str(s.dtype)) for s in scans]
    bf = lower_body(ctx, body, in_types, captures)
    out_types: list[tuple[Any, str]] = [([batch, *_shape(b)], str(b.dtype))
                                        for b in bf.outputs[:n_states]]
    out_slices = []
    for j, buf in enumerate(bf.outputs[n_states:]):
        out_types.append(([batch, length, *_shape(buf)], str(buf.dtype)))
        out_slices.append(Sliced(n_states + j, 0, False))
    sources: list[Source] = [("state", k) for k in range(n_states)]
    sources += [("slice", Sliced(n_states + i, 0, bool(dirs[i]))) for i in range(m)]
    inputs = [ctx.input(1 + i) for i in range(n_states + m)] + [t for _, t, _ in captures]
    caps = list(range(n_states + m, n_states + m + len(captures)))
    elem = tirx.Var("batch", "int32")
    return _extern(ctx, inputs, out_types, lambda ins, outs: tirx.For(
        elem, 0, batch, tirx.ForKind.SERIAL, loop_stmt(
            ins, outs, bf, length, sources, n_states, list(range(n_states)), out_slices, caps,
            sink_first=False, lead=[elem])))


@register("Loop", kind=OpKind.OPAQUE, since=1)
def lower_loop(ctx: LowerContext) -> list[te.Tensor]:
    body: Graph = ctx.attr("body")
    _, captures = _captures(ctx, body)
    n_states = len(body.inputs) - 2
    trip = ctx.const(0) if ctx.node.inputs[0] else None
    if trip is None:
        raise ctx.error("Loop needs a trip count known at compile time")
    length = int(np.asarray(trip).reshape(-1)[0])
    cond = ctx.const(1) if len(ctx.node.inputs) > 1 and ctx.node.inputs[1] else np.array(True)
    if cond is None or not bool(np.asarray(cond).reshape(-1)[0]):
        raise ctx.error("Loop's initial condition must be known at compile time and true")
    if not _cond_stays_true(body):
        raise ctx.error("Loop body's condition output is data dependent (early exit is not "
                        "supported: scan output shapes would depend on data)")
    if length < 1:
        raise ctx.error("Loop with a trip count below 1 is not supported")
    in_types = [((), "int64"), ((), "bool")]
    in_types += [(ctx.shape(2 + k), ctx.dtype(2 + k)) for k in range(n_states)]
    bf = lower_body(ctx, body, in_types, captures)
    outs = bf.outputs[1:]
    out_types: list[tuple[Any, str]] = [(_shape(b), str(b.dtype)) for b in outs[:n_states]]
    out_slices = []
    for j, buf in enumerate(outs[n_states:]):
        out_types.append(([length, *_shape(buf)], str(buf.dtype)))
        out_slices.append(Sliced(n_states + j, 0, False))
    sources: list[Source] = [("iter",), ("true",)] + [("state", k) for k in range(n_states)]
    inputs = [ctx.input(2 + k) for k in range(n_states)] + [t for _, t, _ in captures]
    caps = list(range(n_states, n_states + len(captures)))
    return _extern(ctx, inputs, out_types, lambda ins, outs_: loop_stmt(
        ins, outs_, bf, length, sources, n_states, list(range(n_states)), out_slices, caps,
        sink_first=True))


def _cond_stays_true(body: Graph) -> bool:
    """Whether the body's condition output is its condition input (through Identity) or true."""
    name = body.outputs[0]
    producers = body.producers()
    while name in producers and producers[name].op_type == "Identity":
        name = producers[name].inputs[0]
    if name == body.inputs[1]:
        return True
    value = body.constants.get(name)
    return value is not None and bool(np.all(value))
