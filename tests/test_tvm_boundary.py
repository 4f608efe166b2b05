"""The project rule: TVM's moving Python API is reached through compiler/tvm_api.py (with its GPU
half, compiler/tvm_api_gpu.py, which only tvm_api.py imports); no other module imports tvm."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ("onnxjit", "compiler", "schedules", "runtime", "targets")
BOUNDARY = {"compiler/tvm_api.py", "compiler/tvm_api_gpu.py"}


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_only_the_tvm_api_modules_import_tvm() -> None:
    offenders = []
    files = [p for d in PACKAGE_DIRS for p in (ROOT / d).rglob("*.py")]
    assert len(files) > 20
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        tvm = {m for m in _imported_modules(path) if m.split(".")[0] in ("tvm", "tvm_ffi")}
        if tvm and rel not in BOUNDARY:
            offenders.append(f"{rel}: {sorted(tvm)}")
    assert not offenders, "import TVM names from onnxjit.compiler.tvm_api instead:\n" + \
        "\n".join(offenders)


def test_only_tvm_api_imports_its_gpu_half() -> None:
    importers = [p.relative_to(ROOT).as_posix() for d in PACKAGE_DIRS
                 for p in (ROOT / d).rglob("*.py")
                 if "onnxjit.compiler.tvm_api_gpu" in _imported_modules(p)]
    assert importers == ["compiler/tvm_api.py"]
