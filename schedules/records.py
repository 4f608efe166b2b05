"""Tuning records: append-only JSON lines, one per measured candidate.

A record is keyed by workload (structural hash of the kernel) and target fingerprint (device,
features, threads, TVM and onnxjit versions), so a record made on another machine or by another
version is never applied. Writers append whole lines under an exclusive lock, so several tuning
processes can share one file without losing records; readers skip corrupt lines with a warning.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from onnxjit.compiler.settings import settings

RECORD_VERSION = 1

try:  # POSIX advisory locks; on other systems O_APPEND alone keeps single-write lines whole
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class TuningRecord:
    workload: str                      # Kernel.workload_key
    target: str                        # Target.fingerprint_key()
    template: str
    knobs: dict[str, Any]
    seconds: float                     # seconds per call (fastest repeat); inf when it failed
    error: str = ""                    # "" when the candidate built, matched and ran
    timestamp: float = 0.0
    version: int = RECORD_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error and math.isfinite(self.seconds)

    def to_json(self) -> str:
        data = asdict(self)
        data["seconds"] = self.seconds if math.isfinite(self.seconds) else None
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @staticmethod
    def from_json(line: str) -> TuningRecord:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        seconds = data.get("seconds")
        data["seconds"] = float("inf") if seconds is None else float(seconds)
        if not isinstance(data.get("knobs"), dict):
            raise ValueError("knobs is not an object")
        return TuningRecord(**data)


def default_records_path() -> Path:
    return settings().cache_dir / "tuning_records.jsonl"


class RecordStore:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_records_path()

    def append(self, records: Iterable[TuningRecord]) -> None:
        payload = "".join(r.to_json() + "\n" for r in records).encode()
        if not payload:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            _repair_torn_tail(fd)
            os.write(fd, payload)
        finally:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def load(self) -> list[TuningRecord]:
        """Every valid record; corrupt and foreign-version lines are skipped with one warning."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        records: list[TuningRecord] = []
        bad: list[int] = []
        foreign = 0
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = TuningRecord.from_json(line)
            except (ValueError, TypeError):
                bad.append(number)
                continue
            if record.version != RECORD_VERSION:
                foreign += 1
                continue
            records.append(record)
        if bad or foreign:
            warnings.warn(f"tuning records {str(self.path)!r}: skipped {len(bad)} corrupt line(s)"
                          f"{' ' + str(bad[:5]) if bad else ''} and {foreign} line(s) of another "
                          f"record version", RuntimeWarning, stacklevel=2)
        return records

    def best(self, workload: str, target: str,
             records: list[TuningRecord] | None = None) -> TuningRecord | None:
        """The fastest knob point for this workload on this exact target fingerprint.

        A point measured several times (the tuner re-measures its leaders) counts by the mean of
        its measurements, and not at all if any of them failed; the record returned carries
        that mean."""
        points: dict[tuple[str, str], list[TuningRecord]] = {}
        for r in (records if records is not None else self.load()):
            if r.workload == workload and r.target == target:
                key = (r.template, json.dumps(r.knobs, sort_keys=True))
                points.setdefault(key, []).append(r)
        best: TuningRecord | None = None
        for runs in points.values():
            if all(r.ok for r in runs):
                mean = replace(runs[-1], seconds=sum(r.seconds for r in runs) / len(runs))
                if best is None or mean.seconds < best.seconds:
                    best = mean
        return best


def _repair_torn_tail(fd: int) -> None:
    """A writer killed mid-line leaves a partial last line; start ours on a fresh line."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    if os.pread(fd, 1, size - 1) != b"\n":
        os.write(fd, b"\n")
