"""The executor: binds a compiled model's buffers once, then runs its kernels in order.

Per call it copies the feeds in, makes one packed-function call per kernel with pre-built argument
lists, and copies the outputs out; nothing is allocated on the way. Large feeds are passed to the
kernels in place (contiguous ones, 64-byte aligned, or with numpy's 16 bytes when no kernel
loads them as vectors more than once: ScheduleTemplate.rereads) and large outputs are written
straight into fresh arrays instead: for memory-bound models the copies cost more than the kernels.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.compiler.pipeline import CompiledModel
from onnxjit.compiler.tvm_api import PARAM_ALIGNMENT, as_tensor
from onnxjit.runtime.plan import ALIGN, KernelCall, nbytes

ZERO_COPY_BYTES = 1 << 16  # below this, copying is cheaper than wrapping an array per call


def aligned_empty(shape: tuple[int, ...], dtype: str | np.dtype) -> np.ndarray:
    """An uninitialised array whose data is 64-byte aligned (TVM requires it)."""
    count = int(np.prod(shape, dtype=np.int64))
    itemsize = np.dtype(dtype).itemsize
    size = max(1, count) * itemsize  # an empty tensor still gets one aligned element of storage
    raw = np.empty(size + ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    return raw[start:start + size].view(dtype)[:count].reshape(shape)


def _unreferenced(array: np.ndarray, views: int = -1) -> bool:
    """Whether only the caller's argument refers to `array` and its memory, besides the
    executor's cache of it (one reference) and its `views` reshaped views (-1: no cache)."""
    # getrefcount counts its own argument and this function's parameter (2), plus the caller's
    # local (1). aligned_empty's arrays are views of one raw buffer that only they reference
    # (array.base, the local `base` and getrefcount's argument: 3); a reshaped view refers to
    # that buffer too (numpy collapses bases), not to `array`.
    base = array.base
    cache = views >= 0
    return (sys.getrefcount(array) <= 3 + cache
            and (base is None or sys.getrefcount(base) <= 3 + max(views, 0)))


def _compact(array: np.ndarray) -> np.ndarray:
    """`array` with the strides TVM checks for: numpy gives empty arrays arbitrary ones (a
    (2, 0, 4) view has byte strides (16, 16, 4)), TVM expects the row-major products (0, 16, 4)."""
    if array.size:
        return array
    strides, step = [], array.itemsize
    for dim in reversed(array.shape):
        strides.append(step)
        step *= dim
    return np.lib.stride_tricks.as_strided(array, array.shape, tuple(reversed(strides)))


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
        tensors = {name: as_tensor(_compact(array)) for name, array in self.arrays.items()}
        self.calls: list[tuple[Any, tuple[Any, ...], KernelCall]] = []
        for step in plan.kernel_calls:
            function = compiled.module[step.kernel]
            self.calls.append((function, tuple(tensors[a] for a in step.args), step))

        self._sites = self._zero_copy_sites()
        self._alignment = {name: self._feed_alignment(compiled.rereads, sites)
                           for name, sites in self._sites.items()}
        self._returned: dict[str, np.ndarray] = {}
        self._views: dict[str, tuple[np.ndarray, dict[tuple[int, ...], Any]]] = {}
        self.last_in_place: frozenset[str] = frozenset()  # feeds the last call did not copy

    def _zero_copy_sites(self) -> dict[str, list[tuple[int, int, tuple[int, ...]]]]:
        """Large inputs/outputs that may be rebound per call -> (call, arg, view shape) sites."""
        plan = self.plan
        root = {n: (s.alias_of or n) for n, s in plan.slots.items()}
        output_roots = [root.get(o, o) for o in plan.outputs]
        candidates = {n for n in plan.inputs if n not in output_roots}
        candidates |= {o for o in plan.outputs if root.get(o) == o and output_roots.count(o) == 1
                       and o not in plan.inputs and o not in self._folded_outputs}
        candidates = {n for n in candidates if n in plan.slots
                      and nbytes(plan.slots[n].shape, plan.slots[n].dtype) >= ZERO_COPY_BYTES}
        sites: dict[str, list[tuple[int, int, tuple[int, ...]]]] = {}
        for ci, (_, _, step) in enumerate(self.calls):
            for ai, value in enumerate(step.args):
                owner = root.get(value, value)
                if owner in candidates:
                    sites.setdefault(owner, []).append((ci, ai, plan.slots[value].shape))
        return sites

    def _feed_alignment(self, rereads: frozenset[str] | None,
                        sites: list[tuple[int, int, tuple[int, ...]]]) -> int:
        """The alignment a value needs to be passed in place: 64 bytes if a kernel loads it as
        vectors more than once (a copy costs less than split loads), else PARAM_ALIGNMENT."""
        for ci, ai, _ in sites:
            if rereads is None or self.calls[ci][2].args[ai] in rereads:
                return ALIGN
        return PARAM_ALIGNMENT

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None,
            profile: dict[str, list[float]] | None = None) -> list[np.ndarray]:
        names = outputs if outputs is not None else list(self.plan.outputs)
        args = [a for _, a, _ in self.calls]
        fresh: dict[str, np.ndarray] = {}
        if self._sites:
            args = [list(a) for a in args]
        in_place = []
        for name in self.plan.inputs:
            if name in self._sites and self._bind(args, name, feeds[name]):
                in_place.append(name)
            else:
                np.copyto(self.arrays[name], feeds[name], casting="no")
        self.last_in_place = frozenset(in_place)
        for name in names:
            if name in self._sites and name not in self.plan.inputs and name not in fresh:
                fresh[name] = self._output_array(name)
                self._bind(args, name, fresh[name])
        if profile is None:
            for (function, _, _), call_args in zip(self.calls, args):
                function(*call_args)
        else:
            self._run_profiled(profile, args)
        return [fresh[n] if n in fresh else self._output(n) for n in names]

    def _output_array(self, name: str) -> np.ndarray:
        """A fresh output array; the previous call's one when the caller has dropped it (its
        pages are already mapped: faulting in a new multi-megabyte array costs ms)."""
        last = self._returned.pop(name, None)
        cached = self._views.get(name)
        views = len(cached[1]) if cached is not None and cached[0] is last else -1
        if last is None or not _unreferenced(last, views):
            self._views.pop(name, None)
            slot = self.plan.slots[name]
            last = aligned_empty(slot.shape, slot.dtype)
        self._returned[name] = last
        return last

    def _bind(self, args: list[Any], name: str, array: np.ndarray) -> bool:
        """Passes `array` wherever `name`'s bytes are used this call; False if it cannot be."""
        cached = self._views.get(name)
        if cached is not None and cached[0] is array:  # the same array as last call (decode loops)
            views = cached[1]
        else:
            slot = self.plan.slots[name]
            if (array.dtype != slot.dtype or array.shape != slot.shape
                    or not array.flags.c_contiguous
                    or array.__array_interface__["data"][0] % self._alignment[name]):
                return False
            try:
                views = {shape: as_tensor(array.reshape(shape))
                         for shape in {s for _, _, s in self._sites[name]}}
            except Exception:  # noqa: BLE001  (e.g. a read-only array DLPack will not export)
                return False
            self._views[name] = (array, views)  # (outputs: _output_array counts these views)
        for ci, ai, shape in self._sites[name]:
            args[ci][ai] = views[shape]
        return True

    def _run_profiled(self, profile: dict[str, list[float]], args: list[Any]) -> None:
        import time

        for (function, _, step), call_args in zip(self.calls, args):
            start = time.perf_counter()
            function(*call_args)
            profile.setdefault(step.kernel, []).append(time.perf_counter() - start)

    def _output(self, name: str) -> np.ndarray:
        if name in self._folded_outputs:
            return np.array(self._folded_outputs[name])
        try:
            return np.array(self.arrays[name])
        except KeyError:
            raise OnnxJitError(f"value {name!r} is not an output of this model") from None
