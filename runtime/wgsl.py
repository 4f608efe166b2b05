"""Runs WebGPU-target models through wgpu (wgpu-native): any Vulkan, Metal or D3D12 adapter, Mesa's
lavapipe (a CPU Vulkan driver) in CI.

TVM ships no WebGPU runtime outside the browser, so this launcher follows its calling convention
(tvm/web/src/webgpu.ts): one WGSL entry point per device kernel; @binding(i) is the kernel's i-th
buffer argument; the binding after them is a uniform struct of its scalar arguments followed by
`packGridDimX: u32`; the workgroup size is baked into the shader; a grid.x of 65536 or more is
folded into z, the shader unfolding it with packGridDimX. The launch lists (which kernels each
onnxjit kernel runs, in order, with which buffers) come from compiler/tvm_gpu.py.

One storage buffer per value (views share their source's), constants uploaded once; a run writes
the feeds, records every dispatch of the plan into one command buffer and reads the outputs back.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.compiler.tvm_gpu import BufferArg, Launch

MAX_GRID = 65535


@lru_cache(maxsize=1)
def device() -> tuple[Any, Any]:
    """(wgpu module, device) for the process: the first adapter wgpu finds, its own limits."""
    try:
        import wgpu
    except ImportError as exc:  # declared in pyproject; absent only in partial installs
        raise OnnxJitError("the webgpu target runs through wgpu: pip install wgpu") from exc
    adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    if adapter is None:
        raise OnnxJitError("wgpu found no GPU adapter (for a CPU one: apt-get install "
                           "mesa-vulkan-drivers)")
    limits = adapter.limits
    wanted = {k: limits[k] for k in ("max-storage-buffers-per-shader-stage",
                                      "max-storage-buffer-binding-size", "max-buffer-size")
              if k in limits}
    return wgpu, adapter.request_device_sync(required_limits=wanted)


def adapter_summary() -> str:
    wgpu, _ = device()
    return str(wgpu.gpu.request_adapter_sync().summary)


def _padded(nbytes: int) -> int:
    return max(16, (nbytes + 15) // 16 * 16)


class _Pipelines:
    """Compute pipelines by WGSL source (TVM names every kernel <function>_kernel)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, dev: Any, source: str, entry: str) -> Any:
        key = (source, entry)
        with self._lock:
            pipe = self._cache.get(key)
            if pipe is None:
                module = dev.create_shader_module(code=source)
                pipe = dev.create_compute_pipeline(layout="auto",
                                                   compute={"module": module, "entry_point": entry})
                self._cache[key] = pipe
            return pipe


_PIPELINES = _Pipelines()


class WgslExecutor:
    """Runs a CompiledModel built for the webgpu target (run(feeds, names) -> arrays)."""

    def __init__(self, compiled: Any) -> None:
        self.wgpu, self.dev = device()
        self.plan = compiled.plan
        build = compiled.module.build if compiled.module is not None else None
        usage = self.wgpu.BufferUsage
        self._usage = usage.STORAGE | usage.COPY_SRC | usage.COPY_DST
        self.buffers: dict[str, Any] = {}
        self.meta: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        for name, slot in self.plan.slots.items():
            if not slot.alias_of:
                self.buffers[name] = self._buffer(slot.shape, slot.dtype)
            self.meta[name] = (tuple(slot.shape), np.dtype(slot.dtype))
        for name, slot in self.plan.slots.items():
            if slot.alias_of:
                self.buffers[name] = self.buffers[slot.alias_of]
        for name, value in compiled.constants.items():
            array = _device_array(np.asarray(value))
            self.buffers[name] = self.dev.create_buffer_with_data(data=_bytes(array),
                                                                  usage=self._usage)
            self.meta[name] = (tuple(array.shape), array.dtype)
        self._folded = {o: compiled.graph.constants[o] for o in self.plan.outputs
                        if o in compiled.graph.constants}
        self.launches: list[tuple[str, list[tuple[Any, Any, tuple[int, int, int]]]]] = []
        for step in self.plan.kernel_calls:
            if build is None or build.functions is None or step.kernel not in build.functions:
                raise OnnxJitError(f"kernel {step.kernel} is missing from the webgpu build")
            host = build.functions[step.kernel]
            temps = [self.dev.create_buffer(size=_padded(t.nbytes), usage=self._usage)
                     for t in host.temps]
            args = [self.buffers[a] for a in step.args]
            prepared = [self._prepare(build.kernels or {}, launch, args, temps)
                        for launch in host.launches]
            self.launches.append((step.kernel, prepared))

    def _buffer(self, shape: tuple[int, ...], dtype: str) -> Any:
        nbytes = int(np.prod(shape, dtype=np.int64)) * _device_dtype(np.dtype(dtype)).itemsize
        return self.dev.create_buffer(size=_padded(nbytes), usage=self._usage)

    def _prepare(self, kernels: Mapping[str, str], launch: Launch, args: list[Any],
                 temps: list[Any]) -> tuple[Any, Any, tuple[int, int, int]]:
        source = kernels.get(launch.kernel)
        if source is None:
            raise OnnxJitError(f"device kernel {launch.kernel} has no WGSL source")
        pipe = _PIPELINES.get(self.dev, source, launch.kernel)
        buffers, pods = [], []
        for a in launch.args:
            if isinstance(a, BufferArg):
                buffers.append(args[a.index] if a.kind == "param" else temps[a.index])
            else:
                pods.append(a)
        gx, gy, gz = launch.grid
        pack_x = gx
        while gx > MAX_GRID:  # the same folding as tvmjs: the shader unfolds it by packGridDimX
            gx = (gx + 1) // 2
            gz *= 2
        words = np.zeros(max(4, (len(pods) + 1 + 3) // 4 * 4), np.uint32)
        for i, p in enumerate(pods):
            words[i] = np.array(p, np.float32 if isinstance(p, float) else np.int32).view(np.uint32)
        words[len(pods)] = pack_x
        uniform = self.dev.create_buffer_with_data(data=words.tobytes(),
                                                   usage=self.wgpu.BufferUsage.UNIFORM)
        entries = [{"binding": i, "resource": {"buffer": b, "offset": 0, "size": b.size}}
                   for i, b in enumerate(buffers)]
        entries.append({"binding": len(buffers),
                        "resource": {"buffer": uniform, "offset": 0, "size": uniform.size}})
        group = self.dev.create_bind_group(layout=pipe.get_bind_group_layout(0), entries=entries)
        return pipe, group, (gx, gy, gz)

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None,
            profile: dict[str, list[float]] | None = None) -> list[np.ndarray]:
        names = outputs if outputs is not None else list(self.plan.outputs)
        for name in self.plan.inputs:
            if name in self.buffers:
                self.dev.queue.write_buffer(self.buffers[name], 0,
                                            _bytes(_device_array(np.asarray(feeds[name]))))
        if profile is None:
            self._submit(self.launches)
        else:
            import time

            for entry in self.launches:
                start = time.perf_counter()
                self._submit([entry])
                self.dev.queue.on_submitted_work_done_sync()
                profile.setdefault(entry[0], []).append(time.perf_counter() - start)
        return [self._output(n) for n in names]

    def _submit(self, launches: list[tuple[str, list[tuple[Any, Any, tuple[int, int, int]]]]]
                ) -> None:
        encoder = self.dev.create_command_encoder()
        for _, prepared in launches:
            for pipe, group, grid in prepared:
                compute = encoder.begin_compute_pass()
                compute.set_pipeline(pipe)
                compute.set_bind_group(0, group)
                compute.dispatch_workgroups(*grid)
                compute.end()
        self.dev.queue.submit([encoder.finish()])

    def _output(self, name: str) -> np.ndarray:
        if name in self._folded:
            return np.array(self._folded[name])
        if name not in self.buffers:
            raise OnnxJitError(f"value {name!r} is not an output of this model")
        shape, dtype = self.meta[name]
        count = int(np.prod(shape, dtype=np.int64))
        stored = _device_dtype(dtype)
        if count == 0:
            return np.zeros(shape, dtype)
        raw = self.dev.queue.read_buffer(self.buffers[name], 0, _padded(count * stored.itemsize))
        flat = np.frombuffer(raw, stored)[:count]
        return flat.astype(dtype).reshape(shape)


def _device_dtype(dtype: np.dtype) -> np.dtype:
    """How a dtype is stored on the device: WGSL has no 64-bit or 8-bit storage types (TVM's
    WGSL declares int64 and bool buffers as i32), so they cross as int32."""
    if dtype.kind in "iub" and dtype.itemsize != 4:
        return np.dtype(np.int32)
    return dtype


def _device_array(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array.astype(_device_dtype(array.dtype), copy=False))


def _bytes(array: np.ndarray) -> bytes:
    data = array.tobytes()
    return data + b"\0" * (_padded(len(data)) - len(data))
