"""The executor: binds a compiled model's buffers once, then runs its kernels in order.

Per call it copies the feeds in, makes one packed-function call per kernel with pre-built argument
lists, and copies the outputs out; nothing is allocated on the way.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.compiler.pipeline import CompiledModel
from onnxjit.compiler.tvm_api import as_tensor
from onnxjit.runtime.plan import ALIGN, KernelCall


def aligned_empty(shape: tuple[int, ...], dtype: str | np.dtype) -> np.ndarray:
    """An uninitialised array whose data is 64-byte aligned (TVM requires it)."""
    size = max(1, int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
    raw = np.empty(size + ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    return raw[start:start + size].view(dtype)[: int(np.prod(shape, dtype=np.int64))].reshape(shape)


def aligned_copy(value: np.ndarray) -> np.ndarray:
    out = aligned_empty(tuple(value.shape), value.dtype)
    out[...] = value
    return out


class Executor:
    def __init__(self, compiled: CompiledModel) -> None:
        plan = compiled.plan
        self.plan = plan
        arena = aligned_empty((max(plan.arena_bytes, ALIGN),), np.uint8)
        self.arrays: dict[str, np.ndarray] = {}
        for name, slot in plan.slots.items():
            count = int(np.prod(slot.shape, dtype=np.int64))
            itemsize = np.dtype(slot.dtype).itemsize
            view = arena[slot.offset: slot.offset + count * itemsize].view(slot.dtype)
            self.arrays[name] = view.reshape(slot.shape)
        for name, value in compiled.constants.items():
            # np.asarray, not np.ascontiguousarray: the latter turns 0-d constants into shape (1,).
            self.arrays[name] = aligned_copy(np.asarray(value))
        self._folded_outputs = {o: compiled.graph.constants[o] for o in plan.outputs
                                if o in compiled.graph.constants}
        tensors = {name: as_tensor(array) for name, array in self.arrays.items()
                   if array.size > 0}
        self.calls: list[tuple[Any, tuple[Any, ...], KernelCall]] = []
        for step in plan.kernel_calls:
            function = compiled.module[step.kernel]
            self.calls.append((function, tuple(tensors[a] for a in step.args), step))

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None,
            profile: dict[str, list[float]] | None = None) -> list[np.ndarray]:
        for name in self.plan.inputs:
            np.copyto(self.arrays[name], feeds[name], casting="no")
        if profile is None:
            for function, args, _ in self.calls:
                function(*args)
        else:
            self._run_profiled(profile)
        names = outputs if outputs is not None else list(self.plan.outputs)
        return [self._output(n) for n in names]

    def _run_profiled(self, profile: dict[str, list[float]]) -> None:
        import time

        for function, args, step in self.calls:
            start = time.perf_counter()
            function(*args)
            profile.setdefault(step.kernel, []).append(time.perf_counter() - start)

    def _output(self, name: str) -> np.ndarray:
        if name in self._folded_outputs:
            return np.array(self._folded_outputs[name])
        try:
            return np.array(self.arrays[name])
        except KeyError:
            raise OnnxJitError(f"value {name!r} is not an output of this model") from None
