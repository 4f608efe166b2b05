"""Writes a webgpu-target model as a web folder that runs with the browser's WebGPU.

    python -m onnxjit.runtime.webgpu_export MODEL.onnx OUT_DIR [--seed 0] [--dim NAME=SIZE]
    cd OUT_DIR && python -m http.server      # then open http://127.0.0.1:8000/index.html

OUT_DIR gets model.json (the WGSL kernels and runtime/wgsl_layout.py's layout: buffers, dispatches
with their bindings, uniforms and grids, inputs and outputs), constants.bin, webgpu_host.mjs (the
ES module that runs it with navigator.gpu), index.html (a demo page), the feeds as input{i}.bin
and, where given, onnxruntime's outputs as expected{i}.bin, so the page reports rel_err.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.runtime.session import InferenceSession
from onnxjit.runtime.wgsl_layout import WgslLayout, padded, wgsl_layout

FORMAT = "onnxjit-webgpu-1"
HOST_MODULE = Path(__file__).with_name("webgpu_host.mjs")
DEMO_PAGE = Path(__file__).with_name("webgpu_demo.html")


def webgpu_manifest(layout: WgslLayout) -> tuple[dict[str, Any], bytes]:
    """The JSON manifest of a layout, and the constants blob its buffers' `init` ranges index."""
    blob = bytearray()
    buffers = []
    for b in layout.buffers:
        init = None
        if b.init is not None:
            init = [len(blob), len(b.init)]
            blob += b.init + b"\0" * (padded(len(b.init)) - len(b.init))
        buffers.append({"bytes": b.nbytes, "init": init})
    shaders = {d.kernel: d.source for d in layout.dispatches}
    dispatches = [{"step": d.step, "kernel": d.kernel, "buffers": list(d.buffers),
                   "uniform": np.frombuffer(d.uniform, np.uint32).tolist(), "grid": list(d.grid)}
                  for d in layout.dispatches]
    for out in layout.outputs:
        if out.buffer < 0:
            raise OnnxJitError(f"output {out.name!r} has no device buffer")

    def entries(bindings: Sequence[Any]) -> list[dict[str, Any]]:
        return [{"name": b.name, "shape": list(b.shape), "dtype": b.dtype, "buffer": b.buffer}
                for b in bindings]

    manifest = {"format": FORMAT, "constants": "constants.bin", "buffers": buffers,
                "shaders": shaders, "dispatches": dispatches,
                "inputs": entries(layout.inputs), "outputs": entries(layout.outputs)}
    return manifest, bytes(blob)


def export_webgpu(session: InferenceSession, directory: str | Path,
                  feeds: Mapping[str, np.ndarray],
                  expected: Sequence[np.ndarray] | None = None) -> dict[str, Any]:
    """Writes the web folder of a webgpu-target session's model, specialised to the feeds' shapes;
    returns the manifest. Needs no WebGPU adapter here (nothing runs in Python)."""
    if session.target.name != "webgpu":
        raise OnnxJitError("export_webgpu needs a session with target='webgpu', "
                           f"not {session.target.name!r}")
    layout = wgsl_layout(session.compiled(dict(feeds)))
    manifest, blob = webgpu_manifest(layout)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.json").write_text(json.dumps(manifest), encoding="utf-8")
    (out / "constants.bin").write_bytes(blob)
    shutil.copyfile(HOST_MODULE, out / HOST_MODULE.name)
    shutil.copyfile(DEMO_PAGE, out / "index.html")
    for i, entry in enumerate(layout.inputs):
        value = np.ascontiguousarray(np.asarray(feeds[entry.name], dtype=entry.dtype))
        (out / f"input{i}.bin").write_bytes(value.tobytes())
    for i, value in enumerate(expected or ()):
        (out / f"expected{i}.bin").write_bytes(np.ascontiguousarray(value).tobytes())
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    import onnxruntime as ort

    from onnxjit.runtime.feeds import parse_dims, random_feeds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="path to an .onnx file")
    ap.add_argument("out", help="folder to write")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    ap.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                    help="size of a symbolic input dimension (repeatable)")
    args = ap.parse_args(argv)
    session = InferenceSession(args.model, target="webgpu")
    feeds = random_feeds(session.get_inputs(), args.seed, parse_dims(args.dim))
    expected = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"]).run(None, feeds)
    export_webgpu(session, args.out, feeds, expected)
    print(f"wrote {args.out}: serve it (python -m http.server -d {args.out}) and open index.html "
          "in a browser with WebGPU", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
