"""The generated "graph function": one C file that runs a compiled model's plan inside wasm.

Everything is static: the arena is a 64-byte aligned zero-initialised array (the plan's offsets),
the weights are a data segment (`#embed` of their bytes, so no host copies them in), and each
kernel call has a prebuilt TVM-FFI argument array of DLTensors pointing into those two blocks.
`onnxjit_run()` calls the kernels in plan order, so one model run is one host -> wasm call; it
returns 0, or the 1-based step that failed (the message is `tvmwasm_last_error()`).
`onnxjit_step(i)` runs step i alone (per-kernel profiles).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from onnxjit.compiler import tvm_api
from onnxjit.runtime.plan import ALIGN, Plan

MANIFEST_FORMAT = "onnxjit-wasm-1"


@dataclass(frozen=True)
class GraphSource:
    c_source: str
    weights: bytes                    # embedded as the `weights` data segment
    manifest: dict[str, Any]          # inputs/outputs with arena offsets (runtime/wasm_host.*)


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _comment(text: str) -> str:
    """A value name made safe inside a C comment."""
    return "".join(c if c.isalnum() or c in "._-:" else "_" for c in text)


def _io(name: str, shape: tuple[int, ...], dtype: str, region: str, offset: int) -> dict[str, Any]:
    count = int(np.prod(shape, dtype=np.int64))
    return {"name": name, "shape": list(shape), "dtype": dtype, "region": region,
            "offset": offset, "nbytes": count * np.dtype(dtype).itemsize}


def graph_source(plan: Plan, constants: Mapping[str, np.ndarray],
                 folded_outputs: Mapping[str, np.ndarray], weights_file: str) -> GraphSource:
    """C source of the graph function; `weights_file` is where the caller writes `weights`."""
    blobs: list[bytes] = []
    placed: dict[str, tuple[tuple[int, ...], str, int]] = {}   # weights: name -> shape, dtype, at
    size = 0
    for name, value in [*sorted(constants.items()), *sorted(folded_outputs.items())]:
        array = np.asarray(value)   # (not ascontiguousarray: it makes 0-d arrays 1-d)
        placed[name] = (tuple(array.shape), array.dtype.name, size)
        raw = array.tobytes()
        blobs.append(raw + b"\0" * (_aligned(len(raw)) - len(raw)))
        size += _aligned(len(raw))
    weights = b"".join(blobs) or b"\0" * ALIGN

    # One DLTensor per value, in first-use order.
    values = list(dict.fromkeys(a for call in plan.kernel_calls for a in call.args))
    lines = ["#include <stdint.h>", "#include <stddef.h>", "#include <tvm/ffi/c_api.h>",
             "#include <dlpack/dlpack.h>", "",
             "#define EXPORT(n) __attribute__((export_name(#n)))", ""]
    lines += [f"int32_t __tvm_ffi_{k}(void*, const TVMFFIAny*, int32_t, TVMFFIAny*);"
              for k in dict.fromkeys(c.kernel for c in plan.kernel_calls)]
    arena = max(plan.arena_bytes, ALIGN)
    lines += ["", f"static uint8_t arena[{arena}] __attribute__((aligned(64)));",
              "static const uint8_t weights[] __attribute__((aligned(64))) = {",
              f'#embed "{weights_file}"', "};", ""]
    for i, name in enumerate(values):
        if name in plan.slots:
            slot = plan.slots[name]
            shape, dtype, data = slot.shape, slot.dtype, f"arena + {slot.offset}"
        elif name in placed:
            shape, dtype, at = placed[name]
            data = f"(void*)(weights + {at})"
        else:
            raise KeyError(f"value {name!r} has neither an arena slot nor a constant")
        code, bits, lanes = tvm_api.dl_dtype(dtype)
        dims = ", ".join(str(int(d)) for d in shape)
        shape_ref = "NULL"
        if shape:
            lines.append(f"static int64_t shape{i}[] = {{{dims}}};")
            shape_ref = f"shape{i}"
        lines.append(f"/* {_comment(name)} */")
        lines.append(f"static DLTensor t{i} = {{{data}, {{kDLCPU, 0}}, {len(shape)}, "
                     f"{{{code}, {bits}, {lanes}}}, {shape_ref}, NULL, 0}};")
    index = {name: i for i, name in enumerate(values)}
    calls: list[str] = []
    steps: list[str] = []
    for s, call in enumerate(plan.kernel_calls):
        items = ", ".join(f"{{.type_index = kTVMFFIDLTensorPtr, .v_ptr = &t{index[a]}}}"
                          for a in call.args)
        lines.append(f"static TVMFFIAny args{s}[] = {{{items}}};")
        invoke = f"__tvm_ffi_{call.kernel}(NULL, args{s}, {len(call.args)}, &ret)"
        calls.append(f"  if ({invoke}) return {s + 1};")
        steps.append(f"    case {s}: return {invoke} ? {s + 1} : 0;")
    lines += ["", "EXPORT(onnxjit_arena) uint8_t* onnxjit_arena(void) { return arena; }",
              "EXPORT(onnxjit_weights) const uint8_t* onnxjit_weights(void) { return weights; }",
              "EXPORT(onnxjit_run) int32_t onnxjit_run(void) {", "  TVMFFIAny ret;", *calls,
              "  return 0;", "}", "",
              "/* One step of the plan (per-kernel profiles): 0, or the failed step + 1. */",
              "EXPORT(onnxjit_step) int32_t onnxjit_step(int32_t step) {", "  TVMFFIAny ret;",
              "  switch (step) {", *steps, "    default: return -1;", "  }", "}", ""]

    def where(name: str) -> dict[str, Any]:
        if name in plan.slots:
            slot = plan.slots[name]
            return _io(name, slot.shape, slot.dtype, "arena", slot.offset)
        shape, dtype, at = placed[name]
        return _io(name, shape, dtype, "weights", at)

    manifest = {"format": MANIFEST_FORMAT,
                "inputs": [where(n) for n in plan.inputs],
                "outputs": [where(n) for n in plan.outputs],
                "arena_bytes": plan.arena_bytes,
                "steps": [{"kernel": c.kernel, "nodes": list(c.nodes)} for c in plan.kernel_calls]}
    return GraphSource("\n".join(lines), weights, manifest)
