"""The tuning report: speedup table and best-so-far plot from tuning results."""
from __future__ import annotations

import math
from pathlib import Path

from onnxjit.schedules.report import best_so_far, speedup_table, write_report
from onnxjit.schedules.tuner import Trial, WorkloadResult


def _result() -> WorkloadResult:
    result = WorkloadResult("matmul-abc", ["k0_MatMul"], "matmul", {"mi": 4}, 12)
    result.trials += [Trial(1.0, {"mi": 4}, 2e-3), Trial(2.0, {"mi": 2}, math.inf, "timeout"),
                      Trial(3.0, {"mi": 6}, 1e-3), Trial(4.0, {"mi": 8}, 1.5e-3)]
    return result


def test_best_so_far_is_monotone_and_ignores_failures() -> None:
    assert best_so_far(_result()) == [(1.0, 2e-3), (2.0, 2e-3), (3.0, 1e-3), (4.0, 1e-3)]


def test_table_reports_speedup_over_the_default_and_failures() -> None:
    table = speedup_table([_result()])
    row = table.splitlines()[2]
    assert "k0_MatMul" in row and "4 / 12" in row and "| 1 |" in row and "2.00x" in row
    assert "mi=6" in row


def test_report_writes_png_and_table(tmp_path: Path) -> None:
    paths = write_report([_result()], tmp_path / "report")
    assert {p.name for p in paths} == {"speedups.md", "tuning.png"}
    assert (tmp_path / "report" / "tuning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
