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


def tvm_wasm_target(simd: bool = True) -> object:
    """wasm32 LLVM target; SIMD128 gives 4 fp32 lanes (5x on matmul vs scalar wasm)."""
    options: dict[str, object] = {"mtriple": TRIPLE}
    if simd:
        options["mattr"] = ["+simd128"]
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
         include_dirs: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Compiles C `sources` (with the runtime shim) and links them with objects into `out`."""
    if not zig_version():
        raise BuildError("the wasm target needs the `ziglang` package (pip install ziglang)")
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi",
           "-mexec-model=reactor", "-O3", "-std=c23", "-Wno-c23-extensions",
           *(["-msimd128"] if simd else []), "-I", tvm_api.ffi_include_dir(),
           *(f"-I{d}" for d in include_dirs), str(RUNTIME_C), *map(str, sources),
           "-o", str(out), "-Wl,--strip-debug", f"-Wl,-z,stack-size={STACK_BYTES}",
           *(f"-Wl,--export={name}" for name in exports)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"linking {Path(out).name} failed:\n{' '.join(cmd)}\n"
                         f"{done.stderr[-4000:]}")
