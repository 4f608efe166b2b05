"""The only module onnxjit imports TVM through: TVM 0.27 moved its Python API (tvm.tirx, tvm.s_tir,
dict targets).

Everything else in onnxjit imports TVM names from here, so the next move is a change here. The GPU
half of the boundary (device targets, dlight, device builds and their kernel launches, TVM's CUDA
runtime) lives in tvm_api_gpu.py to keep this file small; only this module imports it, and it is
re-exported below: the two files are the only ones that import tvm (tests/test_tvm_boundary.py).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from onnxjit.compiler.settings import cpu_count

# TVM sizes its thread pool once, at first use, from these; sessions then pick 1..max threads.
# Unbound threads avoid multi-millisecond stalls on shared (virtualised) hosts.
os.environ.setdefault("TVM_NUM_THREADS", str(cpu_count()))
os.environ.setdefault("TVM_BIND_THREADS", "0")

import tvm  # noqa: E402
import tvm_ffi  # noqa: E402
import tvm.s_tir  # noqa: E402
from tvm import te, tirx, topi  # noqa: E402
from tvm.s_tir import Schedule  # noqa: E402
from tvm.s_tir.schedule import LoopRV, SBlockRV  # noqa: E402,F401  (re-exported for templates)
from tvm.script import tirx as T  # noqa: E402  (TVMScript, for hand-written loop nests)

from onnxjit.compiler.tvm_api_gpu import (  # noqa: E402,F401  (the GPU half, re-exported)
    RawLaunch, build_with_launches, cuda_device_exists, cuda_empty, cuda_sync, cuda_target,
    cuda_tensor, dlight_schedule, webgpu_target)

__all__ = [
    "te", "tirx", "topi", "T", "Schedule", "SBlockRV", "LoopRV", "PrimFunc", "IRModule", "Tensor",
    "tvm_version", "host_cpu_name", "llvm_target", "compile_module", "as_tensor",
    "set_num_threads", "structural_key", "create_prim_func", "expr_vars", "top_block_annotations", "save_json", "load_json",
    "export_library", "load_module",
]

PrimFunc = tirx.PrimFunc
IRModule = tvm.IRModule
Tensor = tvm.runtime.Tensor
Executable = Any


def tvm_version() -> str:
    return str(tvm.__version__)


def host_cpu_name() -> str:
    """LLVM's name for this CPU (TVM refuses mcpu=native)."""
    return str(tvm.target.codegen.llvm_get_system_cpu())


def llvm_target(options: dict[str, Any]) -> tvm.target.Target:
    return tvm.target.Target({"kind": "llvm", **options})


def create_prim_func(args: list[te.Tensor], name: str) -> PrimFunc:
    func = te.create_prim_func(args)
    return func.with_attr("global_symbol", name)


# numpy's allocator aligns arrays to 16 bytes; kernels declared with this alignment (not TVM's 64)
# take users' feeds in place. Unaligned vector moves cost nothing extra on aligned data (AVX, wasm).
PARAM_ALIGNMENT = 16


def compile_module(mod: IRModule, target: tvm.target.Target) -> Executable:
    funcs = {gv: _kernel_attrs(_relax_param_alignment(f)) if isinstance(f, PrimFunc) else f
             for gv, f in mod.functions.items()}
    return tvm.compile(IRModule(funcs, attrs=mod.attrs), target=target)


def _kernel_attrs(func: PrimFunc) -> PrimFunc:
    """Every kernel's buffers are distinct (the memory plan never overlaps live values), so all
    are marked noalias under 0.27's key. One function with the pre-0.27 "tir.noalias" key made
    LLVM drop noalias from every function compiled after it in the module: the matmuls of a
    Gated DeltaNet block then reloaded their accumulators from memory and ran 3x slower."""
    if func.attrs is not None and "tir.noalias" in func.attrs:
        func = func.without_attr("tir.noalias")
    return func.with_attr("tirx.noalias", True)


def _relax_param_alignment(func: PrimFunc) -> PrimFunc:
    """`func` with its buffer parameters declared PARAM_ALIGNMENT-byte aligned: LLVM trusts the
    declared alignment, and aligned vector moves from a 16-byte aligned feed fault."""
    from tvm.tirx.buffer import is_buffer_var
    from tvm.tirx.transform.common import BufferReplacer

    renamed = {}
    for param in func.params:
        if is_buffer_var(param) and param.ty.data_alignment > PARAM_ALIGNMENT:
            t = param.ty
            renamed[param] = tirx.decl_buffer(t.shape, t.dtype, param.name, None, t.strides,
                                              t.elem_offset, param.scope(), PARAM_ALIGNMENT,
                                              t.offset_factor, layout=t.layout)
    if not renamed:
        return func
    body = BufferReplacer(dict(renamed))(func.body)
    return PrimFunc([renamed.get(p, p) for p in func.params], body, func.ret_type, func.attrs)


def save_json(node: Any) -> str:
    return str(tvm.ir.save_json(node))


def load_json(text: str) -> Any:
    return tvm.ir.load_json(text)


def export_library(executable: Executable, path: str) -> None:
    """Writes a built CPU module as a shared library (linked with the system compiler)."""
    executable.export_library(path)


def load_module(path: str) -> Any:
    return tvm.runtime.load_module(path)


def as_tensor(array: np.ndarray) -> Tensor:
    """A zero-copy TVM view of a contiguous numpy array (PARAM_ALIGNMENT-aligned for kernels)."""
    if array.dtype.name == "bfloat16":
        # DLPack export refuses ml_dtypes' bfloat16: share the bits as uint16, retype in TVM.
        bits = as_tensor(array.view(np.uint16))
        return bits._create_view(tuple(array.shape), "bfloat16")
    # (tvm.runtime.from_dlpack insists on 64 bytes: the alignment TVM's kernels assume by default)
    return tvm_ffi.from_dlpack(array, require_alignment=PARAM_ALIGNMENT, require_contiguous=True)


_pool_threads: list[int] = []   # the count last given to the pool (every resize goes through here)


def set_num_threads(n: int) -> None:
    """Use n threads of TVM's CPU pool (at most TVM_NUM_THREADS, fixed when the pool starts)."""
    # mode 1 = big cores; the pool is resized in place, so each session may pick its own count.
    # Sessions call this before every run: skip the global-function lookup when nothing changes.
    if _pool_threads == [n]:
        return
    tvm.get_global_func("runtime.config_threadpool")(1, n)
    _pool_threads[:] = [n]


def top_block_annotations(func: PrimFunc, key: str) -> list[str]:
    """Values of annotation `key` on the function's top block and its root's child blocks."""
    found: list[str] = []
    body = func.body
    if isinstance(body, tvm.s_tir.SBlockRealize):
        block = body.block
        if key in block.annotations:
            return [str(block.annotations[key])]
        children = block.body.seq if isinstance(block.body, tirx.SeqStmt) else [block.body]
        for child in children:
            if isinstance(child, tvm.s_tir.SBlockRealize) and key in child.block.annotations:
                found.append(str(child.block.annotations[key]))
    return found


def expr_vars(expr: Any) -> list[Any]:
    """The variables an expression (or statement) uses."""
    return list(tirx.analysis.undefined_vars(expr, []))


def structural_key(func: PrimFunc) -> str:
    """A stable hash of a PrimFunc's structure: identical workloads share tuning records."""
    return f"{tvm_ffi.structural_hash(func.without_attr('global_symbol')) & (2**64 - 1):016x}"


def block_annotations(func: PrimFunc, key: str) -> list[str]:
    """Values of annotation `key` on every block of the function, in visiting order."""
    found: list[str] = []
    stack: list[Any] = [func.body]
    while stack:  # statements only (no expression visitor is exposed in Python in 0.27)
        node = stack.pop()
        if isinstance(node, tvm.s_tir.SBlock) and key in node.annotations:
            found.append(str(node.annotations[key]))
        if isinstance(node, tirx.SeqStmt):
            stack.extend(reversed(list(node.seq)))
        for attr in ("block", "body", "else_case", "then_case"):
            child = getattr(node, attr, None)
            if isinstance(child, (tirx.Stmt, tvm.s_tir.SBlock)):
                stack.append(child)
    return found


def parse_tvmscript(source: str, helpers: dict[str, Any] | None = None) -> PrimFunc:
    """A PrimFunc from generated TVMScript text (`T` is tvm.script.tirx).

    `helpers` maps names the text calls to factories `make(T) -> function` building expressions
    at parse time (e.g. a polynomial exp2), so generators need not import TVM themselves.
    """
    from tvm.script import tirx as T

    extra = {"T": T, **{name: make(T) for name, make in (helpers or {}).items()}}
    return tvm.script.from_source(source, extra_vars=extra)


def meta_schedule_tune(func: PrimFunc, target: Any, trials: int, work_dir: str) -> PrimFunc:
    """`func` tuned by TVM's own meta_schedule for `trials` trials (for comparisons only).

    meta_schedule needs psutil (and a cost model: the random one, so no xgboost); if it records
    nothing that builds, the untuned function comes back.
    """
    import logging

    from tvm.s_tir import meta_schedule as ms

    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)  # per-trial tables
    mod = IRModule({"main": func.with_attr("global_symbol", "main")})
    db = ms.tune_tir(mod=mod, target=target, work_dir=work_dir, max_trials_global=trials,
                     num_trials_per_iter=min(trials, 4), cost_model="random")
    sch = ms.tir_integration.compile_tir(db, mod, target)
    return func if sch is None else sch.mod["main"]


# -- WebAssembly (targets/wasm) -------------------------------------------------------------------
def ffi_include_dir() -> str:
    """The tvm_ffi wheel's C headers (TVMFFIAny, DLTensor): the wasm runtime shim compiles against them."""
    return os.path.join(os.path.dirname(tvm_ffi.__file__), "include")


def write_object(executable: Executable, path: str) -> None:
    """Writes a built module's host code as a relocatable object (wasm32: a .o for wasm-ld)."""
    executable.mod.write_to_file(path)


def dl_dtype(dtype: str) -> tuple[int, int, int]:
    """DLPack (type code, bits, lanes) of a dtype name: what a DLTensor of it must carry."""
    dt = tvm.runtime.DataType(dtype)
    return int(dt.type_code), int(dt.bits), int(dt.lanes)


def register_llvm_intrinsic_rule(op_name: str, rule: Any, level: int = 99) -> None:
    """Lowers calls of `op_name` (e.g. "tirx.exp") on LLVM targets with `rule(call, default)`,
    where `default(call)` is TVM's own lowering (the registration replaces it)."""
    previous = tvm.ir.Op.get(op_name).get_attr("llvm.FLowerIntrinsic")

    def default(call: Any) -> Any:
        return previous(call) if previous is not None else call

    tirx.register_intrin_lowering(op_name, target="llvm", f=lambda call: rule(call, default),
                                  level=level)


def call_dtype(call: Any) -> str:
    """The dtype of a TIR call expression, e.g. "float32x4"."""
    return str(call.ty.dtype)
