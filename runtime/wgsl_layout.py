"""Where a webgpu-target model's values live on the device and what it dispatches, independent of
the WebGPU implementation: wgpu in Python (runtime/wgsl.py) and navigator.gpu in a browser
(runtime/webgpu_export.py + webgpu_host.mjs) both run this layout.

TVM's WebGPU calling convention (tvm/web/src/webgpu.ts): one WGSL entry point per device kernel;
@binding(i) is the kernel's i-th buffer argument; the binding after them is a uniform struct of its
scalar arguments followed by `packGridDimX: u32`; the workgroup size is baked into the shader; a
grid.x over 65535 is folded into z, the shader unfolding it with packGridDimX. The launch lists
(which device kernels each onnxjit kernel runs, with which buffers) come from compiler/tvm_gpu.py.

One storage buffer per value (views share their source's), per constant, and per kernel call's
host-allocated temporary. WGSL has no 64-bit or 8-bit storage types: int64 and bool values are
stored as int32 (see `device_dtype`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.compiler.tvm_gpu import BufferArg, Launch

MAX_GRID = 65535
_INT32 = np.iinfo(np.int32)


@dataclass(frozen=True)
class DeviceBuffer:
    nbytes: int                        # padded to 16 bytes (WebGPU binding sizes)
    init: bytes | None = None          # constants: the device bytes uploaded once


@dataclass(frozen=True)
class Dispatch:
    step: str                          # the onnxjit kernel (plan step) it belongs to
    kernel: str                        # WGSL entry point
    source: str                        # WGSL module holding it
    buffers: tuple[int, ...]           # indices into WgslLayout.buffers, in binding order
    uniform: bytes                     # the scalar arguments and packGridDimX
    grid: tuple[int, int, int]         # workgroups to dispatch (x folded into z past 65535)


@dataclass(frozen=True)
class Binding:
    name: str
    shape: tuple[int, ...]
    dtype: str                         # the ONNX value's numpy dtype
    buffer: int


@dataclass(frozen=True)
class WgslLayout:
    buffers: tuple[DeviceBuffer, ...]
    dispatches: tuple[Dispatch, ...]
    inputs: tuple[Binding, ...]
    outputs: tuple[Binding, ...]


def device_dtype(dtype: np.dtype | str) -> np.dtype:
    """How a dtype is stored on the device: WGSL has no 64-bit or 8-bit storage types, so int64
    and bool values cross as int32 (the webgpu build narrows the kernels to match)."""
    dt = np.dtype(dtype)
    if dt.kind in "iub" and dt.itemsize != 4:
        return np.dtype(np.int32)
    return dt


def to_device(array: np.ndarray, name: str = "") -> np.ndarray:
    """`array` in its device dtype; int64 values outside int32's range are refused, not wrapped."""
    array = np.asarray(array)
    stored = device_dtype(array.dtype)
    if array.dtype.kind in "iu" and array.dtype.itemsize > 4 and array.size:
        lo, hi = int(array.min()), int(array.max())
        if lo < _INT32.min or hi > _INT32.max:
            bad = lo if lo < _INT32.min else hi
            raise OnnxJitError(f"value {name!r} ({array.dtype}) holds {bad}, outside int32: "
                               "the webgpu target computes int64 as int32")
    return np.ascontiguousarray(array.astype(stored, copy=False))


def from_device(raw: bytes, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    flat = np.frombuffer(raw, device_dtype(dtype), count=count)
    return flat.astype(dtype).reshape(shape)


def padded(nbytes: int) -> int:
    return max(16, (nbytes + 15) // 16 * 16)


def padded_bytes(array: np.ndarray) -> bytes:
    data = array.tobytes()
    return data + b"\0" * (padded(len(data)) - len(data))


def fold_grid(grid: tuple[int, int, int]) -> tuple[int, int, int]:
    """The dispatch for a launch grid: the same x-into-z folding as tvmjs."""
    gx, gy, gz = grid
    while gx > MAX_GRID:
        gx = (gx + 1) // 2
        gz *= 2
    return gx, gy, gz


def uniform_words(launch: Launch) -> bytes:
    pods = [a for a in launch.args if not isinstance(a, BufferArg)]
    words = np.zeros(max(4, (len(pods) + 1 + 3) // 4 * 4), np.uint32)
    for i, p in enumerate(pods):
        words[i] = np.array(p, np.float32 if isinstance(p, float) else np.int32).view(np.uint32)
    words[len(pods)] = launch.grid[0]
    return words.tobytes()


def wgsl_layout(compiled: Any) -> WgslLayout:
    """The device layout of a CompiledModel built for the webgpu target."""
    plan = compiled.plan
    build = compiled.module.build if compiled.module is not None else None
    buffers: list[DeviceBuffer] = []
    index: dict[str, int] = {}

    def add(buffer: DeviceBuffer) -> int:
        buffers.append(buffer)
        return len(buffers) - 1

    for name, slot in plan.slots.items():
        if not slot.alias_of:
            count = int(np.prod(slot.shape, dtype=np.int64))
            index[name] = add(DeviceBuffer(padded(count * device_dtype(slot.dtype).itemsize)))
    for name, slot in plan.slots.items():
        if slot.alias_of:
            index[name] = index[slot.alias_of]
    folded = {o: compiled.graph.constants[o] for o in plan.outputs
              if o in compiled.graph.constants}
    for name, value in {**compiled.constants, **folded}.items():
        data = padded_bytes(to_device(np.asarray(value), name))
        index[name] = add(DeviceBuffer(len(data), data))
    dispatches: list[Dispatch] = []
    for step in plan.kernel_calls:
        if build is None or build.functions is None or step.kernel not in build.functions:
            raise OnnxJitError(f"kernel {step.kernel} is missing from the webgpu build")
        host = build.functions[step.kernel]
        temps = [add(DeviceBuffer(padded(t.nbytes))) for t in host.temps]
        args = [index[a] for a in step.args]
        for launch in host.launches:
            source = (build.kernels or {}).get(launch.kernel)
            if source is None:
                raise OnnxJitError(f"device kernel {launch.kernel} has no WGSL source")
            bound = tuple(args[a.index] if a.kind == "param" else temps[a.index]
                          for a in launch.args if isinstance(a, BufferArg))
            dispatches.append(Dispatch(step.kernel, launch.kernel, source, bound,
                                       uniform_words(launch), fold_grid(launch.grid)))

    def binding(name: str) -> Binding:
        shape, dtype = _value_type(compiled, name)
        return Binding(name, shape, dtype, index.get(name, -1))

    return WgslLayout(tuple(buffers), tuple(dispatches), tuple(binding(n) for n in plan.inputs),
                      tuple(binding(n) for n in plan.outputs))


def _value_type(compiled: Any, name: str) -> tuple[tuple[int, ...], str]:
    slot = compiled.plan.slots.get(name)
    if slot is not None:
        return tuple(slot.shape), str(np.dtype(slot.dtype))
    value = np.asarray(compiled.graph.constants[name])
    return tuple(value.shape), str(value.dtype)


def feed_bytes(layout: WgslLayout, feeds: Mapping[str, np.ndarray]) -> dict[int, bytes]:
    """Buffer index -> device bytes of each fed input (inputs no kernel reads have no buffer)."""
    return {b.buffer: padded_bytes(to_device(np.asarray(feeds[b.name]), b.name))
            for b in layout.inputs if b.buffer >= 0}
