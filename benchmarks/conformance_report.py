"""Per-op onnx conformance coverage of onnxjit: tests in the wheel, included, passing, excluded.

    python benchmarks/conformance_report.py                # runs every included test (minutes)
    python benchmarks/conformance_report.py --ops Gemm,Clip --failures
    python benchmarks/conformance_report.py --no-run       # counts and regex check only

"In the wheel" counts node tests by the op their model holds (an `_expanded` test counts for the op it
expands), so it also checks include.py's regexes: a regex that selects another op's test, or misses
one of its own, is printed as a problem. Tests run through the same unittest functions as pytest.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
import traceback
import unittest
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.conformance` from a checkout

from onnx.backend.test.loader import load_model_tests  # noqa: E402

from tests.conformance.harness import node_test_case  # noqa: E402
from tests.conformance.include import (  # noqa: E402
    EXCLUDED, OPS, exclusion_reason, known_failure, op_of,
)


def wheel_ops() -> dict[str, str]:
    """Node test name -> the op its model tests (None-valued tests hold several op types)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tests = load_model_tests(kind="node")
    single = {t.name: {n.op_type for n in t.model.graph.node} for t in tests}
    ops: dict[str, str] = {}
    for name in single:
        base = re.sub(r"_expanded(_ver\d+)?$", "", name)
        types = single.get(base, single[name])
        ops[name] = next(iter(types)) if len(types) == 1 else ""
    return ops


@dataclass
class OpRow:
    in_wheel: int = 0
    included: int = 0
    passed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    no_lowering: list[tuple[str, str]] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


class _Result(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.outcome = ("pass", "")

    def addFailure(self, test: unittest.TestCase, err: object) -> None:  # noqa: N802
        self.outcome = ("fail", _one_line(err))

    def addError(self, test: unittest.TestCase, err: object) -> None:  # noqa: N802
        self.outcome = ("fail", _one_line(err))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:  # noqa: N802
        self.outcome = ("skip", reason)


_ROOT = Path(__file__).resolve().parents[1]


def _one_line(err: object) -> str:
    """`Error: message @ file:line`, the place being the innermost frame in this repository."""
    kind, value, tb = err  # type: ignore[misc]
    lines = [ln.strip() for ln in str(value).splitlines() if ln.strip()]
    text = " | ".join(lines[:3]) if lines else ""
    where = ""
    for frame in traceback.extract_tb(tb):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(_ROOT) and "tests" not in path.relative_to(_ROOT).parts[:1]:
            where = f" @ {path.relative_to(_ROOT)}:{frame.lineno}"
    return f"{kind.__name__}: {text[:240]}{where}"


def run_one(case: type[unittest.TestCase], name: str) -> tuple[str, str]:
    result = _Result()
    case(name).run(result)
    return result.outcome


def collect(ops: list[str], run: bool) -> tuple[dict[str, OpRow], list[str], float]:
    truth = wheel_ops()
    rows: dict[str, OpRow] = {op: OpRow() for op in ops}
    problems: list[str] = []
    for name, op in sorted(truth.items()):
        selected = op_of(name)
        if op in rows:
            rows[op].in_wheel += 1
        if selected != op and (selected in rows or op in rows):
            problems.append(f"{name}: model tests {op or 'several ops'}, include.py's regex says "
                            f"{selected or 'no op'}")
    case = node_test_case(__name__) if run else None
    start = time.perf_counter()
    for name, op in sorted(truth.items()):
        if op not in rows or op_of(name) != op:
            continue
        row = rows[op]
        why = exclusion_reason(name)
        if why is not None:
            row.excluded.append((name, why))
            continue
        row.included += 1
        if case is None:
            continue
        begin = time.perf_counter()
        outcome, detail = run_one(case, f"{name}_cpu")
        row.seconds += time.perf_counter() - begin
        if outcome == "pass":
            row.passed += 1
        elif outcome == "skip":
            row.no_lowering.append((name, detail))
        else:
            row.failed.append((name, detail))
    return rows, problems, time.perf_counter() - start


def report(rows: dict[str, OpRow], problems: list[str], seconds: float, run: bool,
           failures: bool) -> None:
    print("| op | in wheel | included | passing | failing | no lowering | excluded | run s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    total = OpRow()
    for op, r in rows.items():
        cells = [r.in_wheel, r.included, r.passed if run else "-", len(r.failed) if run else "-",
                 len(r.no_lowering) if run else "-", len(r.excluded),
                 f"{r.seconds:.0f}" if run else "-"]
        print(f"| {op} | " + " | ".join(str(c) for c in cells) + " |")
        total.in_wheel += r.in_wheel
        total.included += r.included
        total.passed += r.passed
        total.failed += r.failed
        total.no_lowering += r.no_lowering
        total.excluded += r.excluded
    print(f"| **total** | {total.in_wheel} | {total.included} | {total.passed if run else '-'} | "
          f"{len(total.failed) if run else '-'} | {len(total.no_lowering) if run else '-'} | "
          f"{len(total.excluded)} | {seconds:.0f} |")
    if run:
        print(f"\nran {total.included} tests in {seconds:.0f} s")
    print("\nExcluded (reason):")
    reasons: dict[str, list[str]] = defaultdict(list)
    for name, why in total.excluded:
        reasons[why].append(name)
    for why, names in reasons.items():
        print(f"- {why}: {len(names)} tests ({', '.join(n.removeprefix('test_') for n in names)})")
    if run and failures:
        print("\nFailing (test: error):")
        for name, detail in total.failed:
            known = known_failure(name)
            print(f"- {name}: {detail}" + (f"  [known: {known}]" if known else ""))
        print("\nNo lowering yet:")
        for name, detail in total.no_lowering:
            print(f"- {name}: {detail}")
    if problems:
        print("\ninclude.py regex problems:")
        for p in problems:
            print(f"- {p}")
    unused = [rx for rx in EXCLUDED if not any(re.search(rx, n) for n, _ in total.excluded)]
    if unused and len(rows) == len(OPS):  # a subset of ops leaves other ops' patterns unused
        print(f"\nEXCLUDED patterns matching nothing: {unused}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", help="comma-separated op types (default: every op in include.py)")
    parser.add_argument("--no-run", action="store_true", help="count and check, do not run tests")
    parser.add_argument("--failures", action="store_true", help="list each failing test's error")
    args = parser.parse_args(argv)
    ops = args.ops.split(",") if args.ops else list(OPS)
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        parser.error(f"ops not in include.py: {unknown}")
    rows, problems, seconds = collect(ops, run=not args.no_run)
    report(rows, problems, seconds, run=not args.no_run, failures=args.failures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
