"""The wasm toolchain: TVM's LLVM codegen for wasm32 (an object file) + zig's clang/wasm-ld.

    tvm.compile(mod, target=wasm32 + simd128) -> write_to_file("kernels.o")   (no emscripten)
    python -m ziglang cc -target wasm32-wasi -mexec-model=reactor rt.c graph.c kernels.o -o m.wasm

wasi-libc only supplies malloc and float64 libm: nothing calls WASI, so the module has no imports
and runs as it is in wasmtime, Node.js and browsers. `reactor` gives an `_initialize` export (the
host calls it once) and no `main`. zig builds wasi-libc on first use (~20 s, ~90 MB) into its own
global cache (~/.cache/zig, or $ZIG_GLOBAL_CACHE_DIR), shared by every onnxjit cache dir and test
run; later links take ~0.1 s (shared/notes/wasm-target.md).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from onnxjit.compiler import tvm_api
from onnxjit.compiler.errors import BuildError

RUNTIME_C = Path(__file__).with_name("rt.c")
TRIPLE = "wasm32-unknown-unknown-wasm"
STACK_BYTES = 1 << 20   # kernels keep register tiles and small buffers on the stack
THREAD_FLAGS = ["-matomics", "-mbulk-memory", "-pthread", "-DTVMWASM_THREADS"]
PAGE = 1 << 16


def imports_memory(wasm: bytes) -> bool:
    """Whether a module imports its memory (the threads variant's shared env.memory)."""
    try:
        memory_limits(wasm)
        return True
    except BuildError:
        return False


def memory_limits(wasm: bytes) -> tuple[int, int | None]:
    """(initial, maximum) 64 KiB pages of the memory a module imports (the threads variant's
    env.memory), read from its import section; hosts create a shared memory of this size."""
    def leb(at: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = wasm[at]
            value |= (byte & 0x7F) << shift
            at, shift = at + 1, shift + 7
            if byte < 0x80:
                return value, at

    def name(at: int) -> tuple[str, int]:
        size, at = leb(at)
        return wasm[at: at + size].decode(), at + size

    at = 8
    while at < len(wasm):
        section, at = wasm[at], at + 1
        size, at = leb(at)
        if section == 2:                    # imports
            count, pos = leb(at)
            for _ in range(count):
                _, pos = name(pos)
                _, pos = name(pos)
                kind, pos = wasm[pos], pos + 1
                if kind == 0:               # function: type index
                    pos = leb(pos)[1]
                elif kind == 3:             # global: value type, mutability
                    pos += 2
                else:                       # table (ref type + limits) or memory (limits)
                    pos += kind == 1
                    flags, pos = wasm[pos], pos + 1
                    initial, pos = leb(pos)
                    maximum, pos = leb(pos) if flags & 1 else (None, pos)
                    if kind == 2:
                        return initial, maximum
        at += size
    raise BuildError("the module imports no memory")


def tvm_wasm_target(simd: bool = True, threads: int = 1, relaxed: bool = False) -> object:
    """wasm32 LLVM target; SIMD128 gives 4 fp32 lanes (5x on matmul vs scalar wasm); threads:
    atomics and bulk memory (shared memory), and TVM's parallel loops for that many cores;
    relaxed: relaxed SIMD (f32x4.relaxed_madd, i.e. FMA, for a * b + c)."""
    options: dict[str, object] = {"mtriple": TRIPLE}
    mattr = (["+simd128"] if simd else []) + (["+relaxed-simd"] if simd and relaxed else []) \
        + (["+atomics", "+bulk-memory"] if threads > 1 else [])
    if mattr:
        options["mattr"] = mattr
    if simd and relaxed:
        # LLVM fuses a * b + c into relaxed_madd only where contraction is allowed: without this
        # flag only some kernels' products were fused (attention's gemm loops and softmax's exp
        # polynomial were not).
        options["fast-math-contract"] = True
    if threads > 1:
        options["num-cores"] = threads
    return tvm_api.llvm_target(options)


@lru_cache(maxsize=1)
def zig_version() -> str:
    try:
        from importlib.metadata import version

        return version("ziglang")
    except Exception:  # noqa: BLE001  (not installed: link() says how to fix it)
        return ""


def link(sources: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
         exports: Sequence[str], simd: bool = True,
         include_dirs: Sequence[str | os.PathLike[str]] = (), shared_memory: int = 0) -> None:
    """Compiles C `sources` (with the runtime shim) and links them with objects into `out`.

    `shared_memory` (bytes, 0: none): the threads variant, which imports a shared memory of at
    most that size (env.memory) and exports __stack_pointer (each worker gets its own stack).
    """
    if not zig_version():
        raise BuildError("the wasm target needs the `ziglang` package (pip install ziglang)")
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi",
           "-mexec-model=reactor", "-O3", "-std=c23", "-Wno-c23-extensions",
           *(["-msimd128"] if simd else []), *(THREAD_FLAGS if shared_memory else []),
           "-I", tvm_api.ffi_include_dir(),
           *(f"-I{d}" for d in include_dirs), str(RUNTIME_C), *map(str, sources),
           "-o", str(out), "-Wl,--strip-debug", f"-Wl,-z,stack-size={STACK_BYTES}",
           *(f"-Wl,--export={name}" for name in exports)]
    if shared_memory:
        cmd += ["-Wl,--shared-memory", "-Wl,--import-memory", "-Wl,--export=__stack_pointer",
                f"-Wl,--max-memory={shared_memory}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"linking {Path(out).name} failed:\n{' '.join(cmd)}\n"
                         f"{done.stderr[-4000:]}")
