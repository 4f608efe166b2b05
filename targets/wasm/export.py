"""Writes a model as a web-ready folder: the .wasm artifact, the JS host and the demo page.

    python -m onnxjit.targets.wasm.export MODEL.onnx OUT_DIR [--seed 0] [--dim NAME=SIZE]
                                          [--threads N] [--target wasm|wasm-simd128|wasm-relaxed]
    cd OUT_DIR && python -m http.server      # then open http://127.0.0.1:8000/index.html

With --threads N > 1 (the threads variant) the page needs shared memory, so serve it with the
headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp.

OUT_DIR gets model.json, model.wasm (SIMD128) and model.relaxed.wasm (relaxed SIMD; the page
loads it where the browser supports it; --target wasm-simd128 or wasm-relaxed: one of them only),
wasm_host.mjs, index.html, the seeded random feeds as input{i}.bin and onnxruntime's outputs on
them as expected{i}.bin, so the page shows rel_err.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.runtime.session import InferenceSession
from onnxjit.targets.wasm import WasmTarget
from onnxjit.targets.wasm.model import HOST_MODULE, WasmModel, write_inputs

DEMO_PAGE = Path(__file__).with_name("demo.html")


def export_web(session: InferenceSession, directory: str | Path,
               feeds: Mapping[str, np.ndarray],
               expected: Sequence[np.ndarray] | None = None) -> WasmModel:
    """Writes the web folder of a wasm-target session's model, specialised to the feeds' shapes."""
    if not isinstance(session.target, WasmTarget):
        raise OnnxJitError("export_web needs a session with target='wasm', "
                           f"not {session.target.name!r}")
    out = Path(directory)
    artifact: WasmModel = session.executor(dict(feeds)).model
    artifact.save(out)
    shutil.copyfile(HOST_MODULE, out / "wasm_host.mjs")
    shutil.copyfile(DEMO_PAGE, out / "index.html")
    write_inputs(out, artifact.manifest, dict(feeds))
    for i, value in enumerate(expected or ()):
        (out / f"expected{i}.bin").write_bytes(np.ascontiguousarray(value).tobytes())
    return artifact


def main(argv: Sequence[str] | None = None) -> int:
    import onnxruntime as ort

    from onnxjit.runtime.feeds import parse_dims, random_feeds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="path to an .onnx file")
    ap.add_argument("out", help="folder to write")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    ap.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                    help="size of a symbolic input dimension (repeatable)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads (> 1: the threads variant, shared memory + a Worker pool)")
    ap.add_argument("--target", choices=("wasm", "wasm-simd128", "wasm-relaxed"), default="wasm",
                    help="wasm: relaxed-SIMD and SIMD128 modules, the host picks (default); "
                         "wasm-simd128 / wasm-relaxed: that one only")
    args = ap.parse_args(argv)
    session = InferenceSession(args.model, target=args.target, threads=args.threads)
    feeds = random_feeds(session.get_inputs(), args.seed, parse_dims(args.dim))
    expected = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"]).run(None, feeds)
    export_web(session, args.out, feeds, expected)
    print(f"wrote {args.out}: serve it (python -m http.server -d {args.out}) and open index.html",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
