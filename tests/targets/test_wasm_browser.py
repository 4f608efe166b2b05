"""The demo page (targets/wasm/demo.html + runtime/wasm_host.mjs) in headless Chromium.

Each case's web folder is served on 127.0.0.1 by a Python http.server thread (cross-origin
isolated, so the threads variant gets shared memory); Chromium (Debian's `chromium`, its own
throw-away profile) loads the page, which runs the model and writes a JSON report into #result.
Pages are read back through playwright-core (tests/targets/browser_page.mjs: waits for the
title), or, where it is not installed, single-threaded ones with `--dump-dom` (whose virtual time
can run out before an asynchronous wasm compile finishes on a loaded machine, or Workers start).
The page's rel_err is against onnxruntime's outputs (expected{i}.bin), and the first values are
checked here again.
"""
from __future__ import annotations

import functools
import html
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import onnxjit
from onnxjit.targets.wasm.export import export_web
from tests.helpers import run_onnxruntime
from tests.targets.wasm_cases import CASES, REL_TOL, require_program, require_wasm_toolchain

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-extensions", "--virtual-time-budget=60000")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the stdlib's name)
        pass

    isolated: ClassVar[set[str]] = set()   # folders served cross-origin isolated

    def end_headers(self) -> None:
        # Browsers give shared memory (the threads variant) only to cross-origin-isolated pages.
        # (Only there: isolated pages never finish under --dump-dom's virtual time.)
        if self.path.split("/")[1] in self.isolated:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder served on 127.0.0.1 (a free port) for the module's tests."""
    root = tmp_path_factory.mktemp("site")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


REPO = Path(__file__).resolve().parents[2]
_HAVE_PLAYWRIGHT = (REPO / "web" / "node_modules" / "playwright-core").is_dir()


def _page_report_playwright(url: str, profile: Path) -> dict[str, object]:
    node = require_program("node")
    if not _HAVE_PLAYWRIGHT:
        pytest.skip("playwright-core is not installed (npm ci --prefix web; .ci/run does)")
    done = subprocess.run([node, str(Path(__file__).with_name("browser_page.mjs")), url,
                           str(profile)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _page_report(chromium: str, url: str, profile: Path) -> dict[str, object]:
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120,
                          check=False)
    found = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1).strip(), f"no result in the page:\n{done.stdout[-2000:]}" \
                                             f"\n{done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("case,threads,target", [*((c, 1, "wasm") for c in sorted(CASES)),
                                                 ("attention_causal", 2, "wasm"),
                                                 ("matmul_softmax", 2, "wasm"),
                                                 ("matmul_softmax", 1, "wasm-relaxed"),
                                                 ("matmul_softmax", 1, "wasm-simd128")])
def test_demo_page_matches_onnxruntime_in_chromium(case: str, threads: int, target: str,
                                                   site: tuple[Path, str], tmp_path: Path) -> None:
    """threads=2: the threads variant, on module Workers the page's wasm_host.mjs starts.
    Chromium (114+) runs relaxed SIMD, so the page loads model.relaxed.wasm of target wasm (and
    of wasm-relaxed, its only module); wasm-simd128's only module is the plain one."""
    require_wasm_toolchain()
    chromium = require_program("chromium")
    root, base = site
    model, feeds = CASES[case]()
    expected = run_onnxruntime(model, feeds)
    session = onnxjit.InferenceSession(model.SerializeToString(), target=target, threads=threads)
    folder = f"{case}_{threads}_{target}"
    export_web(session, root / folder, feeds, expected)
    if threads > 1:
        _QuietHandler.isolated.add(folder)
    url = f"{base}/{folder}/index.html"
    report = (_page_report(chromium, url, tmp_path / "profile")
              if threads == 1 and not _HAVE_PLAYWRIGHT
              else _page_report_playwright(url, tmp_path / "profile"))
    assert report["ok"], report.get("error")
    assert report["variant"] == ("simd128" if target == "wasm-simd128" else "relaxed-simd")
    outputs = report["outputs"]
    assert isinstance(outputs, list) and len(outputs) == len(expected)
    for got, want in zip(outputs, expected):
        assert got["rel_err"] is not None and got["rel_err"] <= REL_TOL, (case, got)
        first = np.asarray(want).reshape(-1)[:8]
        np.testing.assert_allclose(got["first"], first, rtol=1e-4, atol=1e-5 * np.abs(want).max())
