"""Runs WebGPU-target models through wgpu (wgpu-native): any Vulkan, Metal or D3D12 adapter, Mesa's
lavapipe (a CPU Vulkan driver) in CI.

TVM ships no WebGPU runtime outside the browser, so this launcher follows its calling convention;
runtime/wgsl_layout.py lays the model out (buffers, dispatches, uniforms) the same way for here and
for the browser host (runtime/webgpu_host.mjs). Constants are uploaded once; a run writes the
feeds, records every dispatch of the plan into one command buffer and reads the outputs back.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.runtime.wgsl_layout import Dispatch, feed_bytes, from_device, wgsl_layout


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
Prepared = tuple[Any, Any, tuple[int, int, int]]


class WgslExecutor:
    """Runs a CompiledModel built for the webgpu target (run(feeds, names) -> arrays).

    The layout is made here; device buffers and pipelines at the first run, so a webgpu session
    compiles (and exports for browsers, runtime/webgpu_export.py) where wgpu finds no adapter."""

    def __init__(self, compiled: Any) -> None:
        self.plan = compiled.plan
        self.layout = wgsl_layout(compiled)
        self._outputs = {b.name: b for b in self.layout.outputs}
        self.buffers: list[Any] = []
        self.launches: list[tuple[str, list[Prepared]]] = []
        self._bound = False

    def _bind(self) -> None:
        self.wgpu, self.dev = device()
        usage = self.wgpu.BufferUsage
        storage = usage.STORAGE | usage.COPY_SRC | usage.COPY_DST
        self.buffers = [self.dev.create_buffer_with_data(data=b.init, usage=storage)
                        if b.init is not None else self.dev.create_buffer(size=b.nbytes,
                                                                          usage=storage)
                        for b in self.layout.buffers]
        for d in self.layout.dispatches:
            if not self.launches or self.launches[-1][0] != d.step:
                self.launches.append((d.step, []))
            self.launches[-1][1].append(self._prepare(d))
        self._bound = True

    def _prepare(self, d: Dispatch) -> Prepared:
        pipe = _PIPELINES.get(self.dev, d.source, d.kernel)
        uniform = self.dev.create_buffer_with_data(data=d.uniform,
                                                   usage=self.wgpu.BufferUsage.UNIFORM)
        bound = [self.buffers[i] for i in d.buffers] + [uniform]
        entries = [{"binding": i, "resource": {"buffer": b, "offset": 0, "size": b.size}}
                   for i, b in enumerate(bound)]
        group = self.dev.create_bind_group(layout=pipe.get_bind_group_layout(0), entries=entries)
        return pipe, group, d.grid

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None,
            profile: dict[str, list[float]] | None = None) -> list[np.ndarray]:
        if not self._bound:
            self._bind()
        names = outputs if outputs is not None else list(self.plan.outputs)
        for index, data in feed_bytes(self.layout, feeds).items():
            self.dev.queue.write_buffer(self.buffers[index], 0, data)
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

    def _submit(self, launches: list[tuple[str, list[Prepared]]]) -> None:
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
        binding = self._outputs.get(name)
        if binding is None:
            raise OnnxJitError(f"value {name!r} is not an output of this model")
        if binding.buffer < 0 or not int(np.prod(binding.shape, dtype=np.int64)):
            return np.zeros(binding.shape, binding.dtype)
        buffer = self.buffers[binding.buffer]
        return from_device(self.dev.queue.read_buffer(buffer, 0, buffer.size), binding.shape,
                           binding.dtype)
