"""The Python host of onnxjit's WebAssembly modules, on wasmtime (Cranelift).

`WasmExecutor` runs a whole compiled model: feeds are copied into the module's arena (numpy views
of linear memory, no per-call allocation), one `onnxjit_run()` call runs every kernel, outputs are
copied out. `bind_kernel` drives one TVM-FFI kernel of a tuning candidate's module, so the tuner
measures candidates inside the wasm engine (`NodeKernel`: inside V8, for the "wasm-node" target).
JavaScript hosts: runtime/wasm_host.mjs.
"""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from onnxjit.compiler.errors import OnnxJitError

FFI_ANY_BYTES = 16        # sizeof(TVMFFIAny) on wasm32 (checked by tvmwasm_layout(0))


def engine_config(threads: bool = False) -> Any:
    """The wasmtime configuration every onnxjit module runs under."""
    import wasmtime

    config = wasmtime.Config()
    config.cranelift_opt_level = "speed"
    # Relaxed SIMD (the "relaxed-simd" variant, targets/wasm/variants.py) is on by default in
    # wasmtime >= 15; said here so an older default cannot silently drop the variant. Not the
    # deterministic mode: that one emulates relaxed_madd as mul + add, which is what the
    # variant exists to avoid (native FMA on x86 with FMA, and aarch64).
    config.wasm_relaxed_simd = True
    config.wasm_relaxed_simd_deterministic = False
    if threads:
        config.wasm_threads = True
        config.shared_memory = True
    return config


def _engine(threads: bool = False) -> Any:
    # One per instance, not a module-level cache: wasmtime objects still alive while the
    # interpreter tears its modules down fail in __del__ ("'NoneType' object is not callable").
    import wasmtime

    return wasmtime.Engine(engine_config(threads))


def _shared_memory(engine: Any, module: Any) -> Any:
    """The shared env.memory a threads-variant module imports, sized as it asks."""
    import wasmtime
    from wasmtime import _ffi

    def as_extern(self: Any) -> Any:
        # wasmtime-py <= 50 wraps the pointer twice ("LP_LP_wasmtime_sharedmemory"):
        # bytecodealliance/wasmtime-py#318.
        union = _ffi.wasmtime_extern_union(sharedmemory=self.ptr())
        return _ffi.wasmtime_extern_t(_ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)

    wasmtime.SharedMemory._as_extern = as_extern
    (memory_type,) = [i.type for i in module.imports if isinstance(i.type, wasmtime.MemoryType)]
    return wasmtime.SharedMemory(engine, memory_type)


class WasmInstance:
    """One instantiated module: no imports (onnxjit modules are pure compute), except the shared
    env.memory of the threads variant. Its worker pool is the JS host's: here it runs serially
    (the runtime's ParallelLaunch has no workers, so task 0 does every task's share)."""

    def __init__(self, wasm: bytes) -> None:
        import wasmtime

        from onnxjit.targets.wasm.toolchain import imports_memory

        threaded = imports_memory(wasm)
        engine = _engine(threaded)
        self.store = wasmtime.Store(engine)
        module = wasmtime.Module(engine, wasm)
        linker = wasmtime.Linker(engine)
        shared = _shared_memory(engine, module) if threaded else None
        if shared is not None:
            linker.define(self.store, "env", "memory", shared)
        instance = linker.instantiate(self.store, module)
        self.exports = instance.exports(self.store)
        self._shared = shared
        self.memory = shared if shared is not None else self.exports["memory"]
        self._base: tuple[int, np.ndarray] | None = None
        if "_initialize" in self.exports:
            self.exports["_initialize"](self.store)

    def function(self, name: str) -> Callable[..., Any]:
        f = self.exports[name]
        store = self.store
        return lambda *args: f(store, *args)

    def bytes_view(self) -> np.ndarray:
        """All of linear memory as uint8, zero-copy; a fresh view after the memory grew."""
        args = () if self._shared is not None else (self.store,)
        size = self.memory.data_len(*args)
        if self._base is None or self._base[0] != size:
            pointer = self.memory.data_ptr(*args)
            raw = (ctypes.c_uint8 * size).from_address(ctypes.addressof(pointer.contents))
            self._base = (size, np.frombuffer(raw, dtype=np.uint8))
        return self._base[1]

    def view(self, address: int, shape: Sequence[int], dtype: str | np.dtype) -> np.ndarray:
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        return self.bytes_view()[address: address + count * dt.itemsize].view(dt).reshape(shape)

    def last_error(self) -> str:
        address = int(self.function("tvmwasm_last_error")())
        raw = bytes(self.bytes_view()[address: address + 1024])
        return raw.split(b"\0")[0].decode(errors="replace")


class WasmExecutor:
    """Runs one linked model (targets/wasm/model.py) in wasmtime, with the CPU Executor's API."""

    def __init__(self, wasm: bytes, manifest: Mapping[str, Any], model: Any = None) -> None:
        self.manifest = manifest
        self._model = model         # the WasmModel artifact, or what links it on first use
        self.instance = WasmInstance(wasm)
        self._run = self.instance.function("onnxjit_run")
        self._regions = {"arena": int(self.instance.function("onnxjit_arena")()),
                         "weights": int(self.instance.function("onnxjit_weights")())}
        self.inputs = [entry["name"] for entry in manifest["inputs"]]
        self.outputs = [entry["name"] for entry in manifest["outputs"]]
        self._entries = {e["name"]: e for e in (*manifest["inputs"], *manifest["outputs"])}

    @property
    def model(self) -> Any:
        """The WasmModel artifact, every variant (model.save(dir) for JS hosts)."""
        if callable(self._model):
            self._model = self._model()
        return self._model

    def _view(self, name: str) -> np.ndarray:
        entry = self._entries[name]
        return self.instance.view(self._regions[entry["region"]] + int(entry["offset"]),
                                  entry["shape"], entry["dtype"])

    def _run_profiled(self, profile: dict[str, list[float]]) -> int:
        """Step by step (onnxjit_step), timing each kernel call into wasm."""
        import time

        step = self.instance.function("onnxjit_step")
        for index, entry in enumerate(self.manifest["steps"]):
            start = time.perf_counter()
            status = int(step(index))
            profile.setdefault(entry["kernel"], []).append(time.perf_counter() - start)
            if status:
                return status
        return 0

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None,
            profile: dict[str, list[float]] | None = None) -> list[np.ndarray]:
        for name in self.inputs:
            np.copyto(self._view(name), feeds[name], casting="no")
        status = self._run() if profile is None else self._run_profiled(profile)
        if status:
            step = self.manifest["steps"][int(status) - 1]
            raise OnnxJitError(f"wasm kernel {step['kernel']} (nodes {step['nodes']}) failed: "
                               f"{self.instance.last_error()}")
        names = outputs if outputs is not None else self.outputs
        try:
            return [np.array(self._view(n)) for n in names]
        except KeyError as exc:
            raise OnnxJitError(f"value {exc.args[0]!r} is not an output of this model") from None


def bind_kernel(wasm_path: str, name: str,
                arrays: Sequence[np.ndarray]) -> tuple[Callable[[], None], Callable[[], None]]:
    """Kernel `name` of a single-kernel module, on copies of `arrays` (inputs then outputs) in
    linear memory: (call, fetch); fetch copies every array back (outputs are what changed)."""
    from onnxjit.compiler.tvm_api import dl_dtype

    with open(wasm_path, "rb") as f:
        inst = WasmInstance(f.read())
    alloc, tensor = inst.function("tvmwasm_alloc"), inst.function("tvmwasm_tensor")
    args = int(inst.function("tvmwasm_args")(len(arrays)))
    places: list[tuple[int, np.ndarray]] = []
    for i, array in enumerate(arrays):
        data = int(alloc(max(array.nbytes, 1)))
        shape = int(alloc(8 * max(array.ndim, 1)))
        inst.view(shape, (array.ndim,), np.int64)[...] = array.shape
        inst.view(data, array.shape, array.dtype)[...] = array
        code, bits, _ = dl_dtype(array.dtype.name)
        inst.function("tvmwasm_set_tensor")(args, i, tensor(data, array.ndim, shape, code, bits))
        places.append((data, array))
    kernel = inst.function(f"__tvm_ffi_{name}")
    result, count = args + FFI_ANY_BYTES * len(arrays), len(arrays)

    def call() -> None:
        if kernel(0, args, count, result) != 0:
            raise RuntimeError(f"wasm kernel {name} failed: {inst.last_error()}")

    def fetch() -> None:
        for data, array in places:
            array[...] = inst.view(data, array.shape, array.dtype)
    return call, fetch


class NodeKernel:
    """One kernel of a single-kernel module, run and timed in Node.js (V8) by
    runtime/wasm_kernel.mjs: the tuner's measurements for browser-bound modules. Calling it runs
    the kernel once on the arrays; `fetch` copies the results back; `measure_in_engine` times it
    inside V8 (a host-clock timing of a process launch would measure the launch)."""

    RUNNER = Path(__file__).with_name("wasm_kernel.mjs")

    def __init__(self, wasm_path: str, name: str, arrays: Sequence[np.ndarray]) -> None:
        import shutil
        import tempfile
        import weakref

        from onnxjit.compiler.tvm_api import dl_dtype

        node = shutil.which("node")
        if node is None:
            raise OnnxJitError("the wasm-node target needs Node.js (`node` on PATH)")
        self.node, self.arrays = node, list(arrays)
        self.dir = tempfile.mkdtemp(prefix="onnxjit-node-kernel-")
        weakref.finalize(self, shutil.rmtree, self.dir, True)
        entries = []
        for i, array in enumerate(self.arrays):
            path = os.path.join(self.dir, f"a{i}.bin")
            with open(path, "wb") as f:
                f.write(np.ascontiguousarray(array).tobytes())
            code, bits, _ = dl_dtype(array.dtype.name)
            entries.append({"file": path, "shape": [int(d) for d in array.shape],
                            "code": code, "bits": bits})
        self.spec = os.path.join(self.dir, "spec.json")
        with open(self.spec, "w", encoding="utf-8") as f:
            json.dump({"wasm": os.path.abspath(wasm_path), "kernel": name, "arrays": entries}, f)

    def _node(self, *args: str) -> str:
        done = subprocess.run([self.node, str(self.RUNNER), self.spec, *args],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip()[-2000:])
        return done.stdout

    def __call__(self) -> None:
        self._node("run")

    def fetch(self) -> None:
        for i, array in enumerate(self.arrays):
            with open(os.path.join(self.dir, f"a{i}.bin"), "rb") as f:
                array[...] = np.frombuffer(f.read(), dtype=array.dtype).reshape(array.shape)

    def measure_in_engine(self, repeats: int, min_seconds: float) -> tuple[float, ...]:
        out = self._node("time", str(repeats), str(min_seconds))
        return tuple(float(s) for s in json.loads(out.strip().splitlines()[-1])["seconds"])
