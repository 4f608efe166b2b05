"""webgpu-target models in headless Chromium's WebGPU (Dawn on SwiftShader, a CPU Vulkan device).

Each case is exported with runtime/webgpu_export.py (WGSL kernels + layout manifest, inputs and
onnxruntime's outputs) into a folder served on 127.0.0.1; Debian's `chromium` (its own throw-away
profile, killed by its own process group) opens the demo page, which runs the model with
runtime/webgpu_host.mjs and POSTs a JSON report back (--dump-dom returns before WebGPU's promises
settle). The page's rel_err (vs onnxruntime) must be <= 1e-4; the first values are checked here.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from onnxjit.runtime.session import InferenceSession
from onnxjit.runtime.webgpu_export import export_webgpu
from tests.helpers import run_onnxruntime
from tests.targets.gpu_cases import CASES, REL_TOL

pytestmark = pytest.mark.slow

# SwiftShader's WebGPU needs these in Chromium 12x-15x (headless, no GPU, running as root).
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu-sandbox",
                  "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
                  "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-extensions")
PAGE_TIMEOUT = 180.0
BROWSER_CASES = ("matmul_softmax", "attention_causal_gqa", "attention_decode", "scan_linear",
                 "int64_bool")

PROBE_PAGE = """<!doctype html><script type="module">
let report;
try {
  const adapter = navigator.gpu && await navigator.gpu.requestAdapter();
  report = adapter ? {ok: true, adapter: `${adapter.info.vendor}/${adapter.info.architecture}`}
                   : {ok: false, error: navigator.gpu ? 'requestAdapter() gave null'
                                                      : 'no navigator.gpu'};
} catch (e) { report = {ok: false, error: String(e)}; }
await fetch('result', {method: 'POST', body: JSON.stringify(report)});
</script>"""


class _Site:
    """A folder served on 127.0.0.1 that also takes POSTed page reports (by page folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.reports: dict[str, dict[str, object]] = {}
        self.arrived = threading.Condition()
        site = self

        class Handler(SimpleHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with site.arrived:
                    site.reports[self.path.rsplit("/", 1)[0].strip("/")] = json.loads(body)
                    site.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def open(self, chromium: str, page: str, profile: Path) -> dict[str, object]:
        """Opens <page>/index.html in Chromium and returns the report the page POSTs."""
        proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                 f"{self.base}/{page}/index.html"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            with self.arrived:
                self.arrived.wait_for(lambda: page in self.reports, timeout=PAGE_TIMEOUT)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the browser we started, and its children
            _, err = proc.communicate()
        if page not in self.reports:
            raise AssertionError(f"no report from {page} in {PAGE_TIMEOUT:.0f} s; chromium said:\n"
                                 f"{err.decode(errors='replace')[-3000:]}")
        return self.reports[page]


@pytest.fixture(scope="module")
def chromium_webgpu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Site, str]]:
    """The site and the chromium binary, once a probe page got a WebGPU adapter."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("the browser tests need Debian's chromium (CI: apt-get install chromium)")
    site = _Site(tmp_path_factory.mktemp("webgpu_site"))
    (site.root / "probe").mkdir()
    (site.root / "probe" / "index.html").write_text(PROBE_PAGE, encoding="utf-8")
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        probe = site.open(chromium, "probe", tmp_path_factory.mktemp("profile"))
        if not probe.get("ok"):
            pytest.skip(f"headless Chromium has no WebGPU adapter with {' '.join(CHROMIUM_FLAGS)}"
                        f": {probe.get('error')}")
        yield site, chromium
    finally:
        site.server.shutdown()
        site.server.server_close()


@pytest.mark.parametrize("case", BROWSER_CASES)
def test_webgpu_page_matches_onnxruntime_in_chromium(case: str, chromium_webgpu: tuple[_Site, str],
                                                     tmp_path: Path) -> None:
    site, chromium = chromium_webgpu
    model, feeds = CASES[case]()
    expected = run_onnxruntime(model, feeds)
    export_webgpu(InferenceSession(model, target="webgpu"), site.root / case, feeds, expected)
    report = site.open(chromium, case, tmp_path / "profile")
    assert report["ok"], report.get("error")
    outputs = report["outputs"]
    assert isinstance(outputs, list) and len(outputs) == len(expected)
    for got, want in zip(outputs, expected):
        want = np.asarray(want)
        assert got["rel_err"] is not None and got["rel_err"] <= REL_TOL, (case, got)
        first = want.reshape(-1)[:8].astype(np.float64)
        scale = float(np.abs(want.astype(np.float64)).max(initial=0.0))
        np.testing.assert_allclose(got["first"], first, rtol=1e-4, atol=1e-5 * scale)
