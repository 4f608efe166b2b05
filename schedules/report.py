"""The tuning report: best latency so far against tuning time per kernel (PNG) and a speedup table."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from onnxjit.schedules.tuner import WorkloadResult


def speedup_table(results: Sequence[WorkloadResult]) -> str:
    """Markdown: per workload, its kernels, template, trials, default and best time, speedup."""
    lines = ["| kernels | template | tried / space | failed | default ms | best ms | speedup | best knobs |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        best = r.best
        failed = sum(1 for t in r.trials if t.error)
        best_ms = f"{best.seconds * 1e3:.4g}" if best else "-"
        knobs = ", ".join(f"{k}={v}" for k, v in sorted(best.knobs.items())) if best else "-"
        lines.append(f"| {', '.join(r.kernels)} | {r.template} | {len(r.trials)} / {r.space_size} | "
                     f"{failed} | {_ms(r.default_seconds)} | {best_ms} | {_x(r.speedup)} | {knobs} |")
    return "\n".join(lines) + "\n"


def best_so_far(result: WorkloadResult) -> list[tuple[float, float]]:
    """(elapsed seconds, best seconds per call so far) after each successful trial."""
    curve: list[tuple[float, float]] = []
    best = math.inf
    for trial in sorted(result.trials, key=lambda t: t.elapsed):
        if not trial.error and trial.seconds < best:
            best = trial.seconds
        if math.isfinite(best):
            curve.append((trial.elapsed, best))
    return curve


def write_report(results: Sequence[WorkloadResult], out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "speedups.md"
    table.write_text(speedup_table(results), encoding="utf-8")
    plot = out / "tuning.png"
    _plot(results, plot)
    return [table, plot]


def _plot(results: Sequence[WorkloadResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for r in results:
        curve = best_so_far(r)
        if curve:
            xs, ys = zip(*curve)
            ax.step(xs, [y * 1e3 for y in ys], where="post", marker="o", markersize=3,
                    label=f"{', '.join(r.kernels)[:40]} ({r.template})")
    ax.set_xlabel("tuning time (s)")
    ax.set_ylabel("best latency so far (ms)")
    ax.set_yscale("log")
    ax.set_title("onnxjit tuning: best latency so far per kernel")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.4g}" if math.isfinite(seconds) else "failed"


def _x(ratio: float) -> str:
    return f"{ratio:.2f}x" if math.isfinite(ratio) else "-"
