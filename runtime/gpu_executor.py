"""Runs CUDA-target models through TVM's CUDA runtime (needs a GPU and its driver).

Every value lives in its own device tensor (views share their source's), constants are copied
once; a run copies the feeds in, calls each kernel's host function in plan order with pre-built
argument lists and copies the requested outputs back.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from onnxjit.compiler import tvm_gpu
from onnxjit.compiler.errors import OnnxJitError


class CudaExecutor:
    """Device buffers are made at the first run, so a model compiles (CUDA source, PTX) on a
    machine without a GPU; running there raises."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self.plan = compiled.plan
        self.tensors: dict[str, Any] = {}
        self.calls: list[tuple[str, Any, tuple[Any, ...]]] | None = None
        self._folded = {o: compiled.graph.constants[o] for o in self.plan.outputs
                        if o in compiled.graph.constants}

    def _bind(self) -> list[tuple[str, Any, tuple[Any, ...]]]:
        if not tvm_gpu.cuda_device_exists():
            raise OnnxJitError("the cuda target compiled, but running needs a CUDA GPU and "
                               "driver (none found); PTX/cubin: targets.gpu.CudaTarget.ptx")
        compiled = self.compiled
        for name, slot in self.plan.slots.items():
            if not slot.alias_of:
                self.tensors[name] = tvm_gpu.cuda_empty(tuple(slot.shape), slot.dtype)
        for name, slot in self.plan.slots.items():
            if slot.alias_of:
                self.tensors[name] = self.tensors[slot.alias_of]._create_view(
                    tuple(slot.shape), slot.dtype)
        for name, value in compiled.constants.items():
            self.tensors[name] = tvm_gpu.cuda_tensor(np.asarray(value, order="C"))
        return [(step.kernel, compiled.module[step.kernel],
                 tuple(self.tensors[a] for a in step.args))
                for step in self.plan.kernel_calls]

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None,
            profile: dict[str, list[float]] | None = None) -> list[np.ndarray]:
        import time

        if self.calls is None:
            self.calls = self._bind()
        names = outputs if outputs is not None else list(self.plan.outputs)
        for name in self.plan.inputs:
            if name in self.tensors:
                self.tensors[name].copyfrom(np.asarray(feeds[name], order="C"))
        for kernel, function, args in self.calls:
            start = time.perf_counter()
            function(*args)
            if profile is not None:
                tvm_gpu.cuda_sync()
                profile.setdefault(kernel, []).append(time.perf_counter() - start)
        tvm_gpu.cuda_sync()
        return [np.array(self._folded[n]) if n in self._folded else self.tensors[n].numpy()
                for n in names]

    def time_on_device(self, repeats: int) -> float:
        """Seconds per run of the kernels alone, on the feeds of the last run (no host copies):
        the figure to set against a device-resident baseline."""
        if self.calls is None:
            raise OnnxJitError("time_on_device needs one run first (it reuses that run's feeds)")
        import time

        tvm_gpu.cuda_sync()
        start = time.perf_counter()
        for _ in range(repeats):
            for _kernel, function, args in self.calls:
                function(*args)
        tvm_gpu.cuda_sync()
        return (time.perf_counter() - start) / repeats
