"""Per-kernel time breakdowns: onnxjit's kernels beside onnxruntime's per-node profile.

Times are per-run medians over the profiled runs (robust to load spikes on a shared machine).

onnxjit times each kernel call (Executor.run with a profile dict); onnxruntime writes a Chrome
trace when SessionOptions.enable_profiling is set, whose "Node" events carry each node's kernel
time. Both are aggregated per run over the same feeds. A kernel also gets the onnxruntime time of
the graph nodes it computes, when onnxruntime kept those nodes under their own names (its own
fusions rename them), so a row reads "these ops: onnxjit x ms, onnxruntime y ms".
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from onnxjit.runtime.plan import Plan, nbytes


@dataclass(frozen=True)
class KernelTime:
    name: str                  # onnxjit kernel, or onnxruntime node name
    ops: str                   # op types it computes
    ms: float                  # per run: the median over the profiled runs
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    onnxjit: tuple[KernelTime, ...]        # slowest first
    onnxruntime: tuple[KernelTime, ...]
    runs: int

    def matched_ms(self, kernel: KernelTime) -> float | None:
        """onnxruntime's time for the nodes of one onnxjit kernel (None: not all found)."""
        by_name = {k.name: k.ms for k in self.onnxruntime}
        names = [n for n in kernel.nodes if n]
        if not names or any(n not in by_name for n in names):
            return None
        return sum(by_name[n] for n in names)


def profile_onnxjit(session: Any, feeds: Mapping[str, np.ndarray], runs: int) -> list[KernelTime]:
    executor = session.executor(feeds)
    compiled = session.compiled(feeds)
    session.target_activate()
    executor.run(dict(feeds))  # warm up
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        executor.run(dict(feeds), profile=times)
    # From the plan, not compiled.kernels: an artifact's session keeps no kernel IR.
    calls = {c.kernel: c for c in compiled.plan.kernel_calls}
    rows = []
    for name, samples in times.items():
        labels = [_split_label(label) for label in calls[name].nodes]
        ops = "+".join(dict.fromkeys(op for _, op in labels))
        nodes = tuple(node for node, _ in labels)
        rows.append(KernelTime(name, ops, 1e3 * float(np.median(samples)), nodes))
    return sorted(rows, key=lambda r: -r.ms)


def _split_label(label: str) -> tuple[str, str]:
    """("node", "Op") from a KernelCall label "node (Op)"."""
    node, _, op = label.rpartition(" (")
    return (node, op.rstrip(")")) if node else (label, "?")


def profile_onnxruntime(model: Any, feeds: Mapping[str, np.ndarray], threads: int,
                        runs: int) -> list[KernelTime]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory(prefix="onnxjit-ort-profile-") as tmp:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "ort")
        source = model.SerializeToString() if hasattr(model, "SerializeToString") else (
            model if isinstance(model, bytes) else str(model))
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        # The profile cannot start after a warm-up run: the first run is averaged in.
        for _ in range(runs + 1):
            session.run(None, dict(feeds))
        path = session.end_profiling()
        with open(path, encoding="utf-8") as f:
            events = json.load(f)
    return aggregate_ort_events(events, runs + 1)


def aggregate_ort_events(events: Sequence[Mapping[str, Any]], runs: int) -> list[KernelTime]:
    """Mean per-run kernel time of each top-level node in an onnxruntime profile (Chrome trace
    events). Nodes of subgraphs (a Scan or Loop body) run inside their parent's interval and are
    left out: the parent's time already holds them."""
    kernels = sorted((e for e in events if e.get("cat") == "Node"
                      and str(e.get("name", "")).endswith("_kernel_time")),
                     key=lambda e: (float(e.get("ts", 0.0)), -float(e.get("dur", 0.0))))
    durations: dict[str, list[float]] = {}
    ops: dict[str, str] = {}
    open_until = float("-inf")
    for event in kernels:
        start, dur = float(event.get("ts", 0.0)), float(event.get("dur", 0.0))
        if start < open_until:
            continue  # inside a parent node's interval
        open_until = start + dur
        node = str(event["name"])[: -len("_kernel_time")]
        durations.setdefault(node, []).append(dur)
        ops[node] = str(event.get("args", {}).get("op_name", "?"))
    rows = [KernelTime(n, ops[n], _per_run_median(us, runs) / 1e3, (n,))
            for n, us in durations.items()]
    return sorted(rows, key=lambda r: -r.ms)


def _per_run_median(samples: list[float], runs: int) -> float:
    """The median of a node's per-run time; a node that ran k times per run has its k
    consecutive events summed per run (medians resist the load spikes of a shared machine)."""
    per_run = max(1, len(samples) // max(runs, 1))
    sums = [sum(samples[i:i + per_run]) for i in range(0, len(samples), per_run)]
    return float(np.median(sums))


def profile_model(model: Any, session: Any, feeds: Mapping[str, np.ndarray],
                  runs: int = 20) -> Profile:
    ours = profile_onnxjit(session, feeds, runs)
    theirs = profile_onnxruntime(model, feeds, session.target.threads, runs)
    return Profile(tuple(ours), tuple(theirs), runs)


def format_profile(profile: Profile, top: int = 25) -> str:
    """One table: onnxjit kernels (with onnxruntime's time for the same nodes, when it kept
    them) beside onnxruntime's nodes, each side slowest first, with totals."""
    ours, theirs = profile.onnxjit, profile.onnxruntime
    ours_total = sum(k.ms for k in ours) or 1e-12
    theirs_total = sum(k.ms for k in theirs) or 1e-12
    head = (f"{'onnxjit kernel':<22} {'ops':<28} {'ms':>8} {'%':>5} {'ort same':>8} | "
            f"{'onnxruntime node':<28} {'op':<18} {'ms':>8} {'%':>5}")
    lines = [head, "-" * len(head)]
    for i in range(min(top, max(len(ours), len(theirs)))):
        left = " " * 75
        if i < len(ours):
            k = ours[i]
            same = profile.matched_ms(k)
            same_text = f"{same:8.3f}" if same is not None else f"{'-':>8}"
            left = (f"{_cut(k.name, 22):<22} {_cut(k.ops, 28):<28} {k.ms:8.3f} "
                    f"{100 * k.ms / ours_total:5.1f} {same_text}")
        right = ""
        if i < len(theirs):
            t = theirs[i]
            right = (f"{_cut(t.name, 28):<28} {_cut(t.ops, 18):<18} {t.ms:8.3f} "
                     f"{100 * t.ms / theirs_total:5.1f}")
        lines.append(f"{left} | {right}")
    hidden = max(len(ours), len(theirs)) - top
    if hidden > 0:
        lines.append(f"... {hidden} more row(s)")
    lines.append("-" * len(head))
    lines.append(f"{'total (' + str(len(ours)) + ' kernels)':<51} {ours_total:8.3f} {100:5.0f} "
                 f"{'':>8} | {'total (' + str(len(theirs)) + ' nodes)':<47} {theirs_total:8.3f} "
                 f"{100:5.0f}")
    return "\n".join(lines) + "\n"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


@dataclass(frozen=True)
class MemorySummary:
    arena_bytes: int           # the planned arena: peak bytes of inputs, intermediates, outputs
    unshared_bytes: int        # the same values, each in its own buffer (no reuse)
    constant_bytes: int        # weights and folded constants the kernels read
    values: int


def memory_summary(plan: Plan, constants: Mapping[str, np.ndarray]) -> MemorySummary:
    owners = {n: s for n, s in plan.slots.items() if not s.alias_of}
    unshared = sum(nbytes(s.shape, s.dtype) for s in owners.values())
    weights = sum(int(np.asarray(v).nbytes) for v in constants.values())
    return MemorySummary(plan.arena_bytes, unshared, weights, len(owners))
