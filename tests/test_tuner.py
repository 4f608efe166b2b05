"""The tuner: failures are data, records are safe, results are reused."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import onnxjit
from onnxjit.compiler.pipeline import static_types
from onnxjit.runtime.jit_tuning import tune_compiled
from onnxjit.schedules import select_template
from onnxjit.schedules.choice import record_chooser
from onnxjit.schedules.records import RecordStore, TuningRecord
from onnxjit.schedules.tuner import Trial, TuneOptions, Tuner, WorkloadResult, ordered_space
from tests.helpers import make_model
from tests.tuning_fixtures import MisbehavingTemplate


def _model(n: int = 64) -> tuple[bytes, dict[str, np.ndarray]]:
    x = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "x"], ["y"]), helper.make_node("Add", ["y", "x"], ["out"])]
    return make_model(nodes, {"x": x}, ["out"]).SerializeToString(), {"x": x}


def test_crash_hang_and_wrong_candidates_are_recorded_and_tuning_goes_on(tmp_path: Path) -> None:
    model, feeds = _model()
    store = RecordStore(tmp_path / "records.jsonl")
    session = onnxjit.InferenceSession(model, threads=1, records=store.path)
    compiled = session.compiled(feeds)
    types = static_types(compiled.graph)
    options = TuneOptions(budget_s=120, build_workers=1, build_timeout_s=8, run_timeout_s=20)
    tuner = Tuner(session.target, store, options, select=lambda k, t: MisbehavingTemplate())
    (result,) = tuner.tune(compiled.kernels, compiled.graph.constants, types)
    errors = {t.knobs["mode"]: t.error for t in result.trials}
    assert set(errors) == {"ok", "segfault", "hang", "wrong", "ok_vec"}
    assert "crashed" in errors["segfault"]
    assert "timeout" in errors["hang"]
    assert "wrong values" in errors["wrong"]
    assert errors["ok"] == "" and errors["ok_vec"] == ""
    records = store.load()
    # one record per candidate, plus the confirmation's re-measurements of leader and default
    assert len({r.knobs["mode"] for r in records}) == 5 and len(records) in (5, 9)
    best = store.best(result.workload, session.target.fingerprint_key())
    assert best is not None and best.knobs["mode"] in ("ok", "ok_vec")
    assert sum(not r.ok for r in records) == 3 and all(math.isinf(r.seconds) for r in records if not r.ok)


def test_tuned_choice_is_used_and_foreign_fingerprints_are_not(tmp_path: Path) -> None:
    model, feeds = _model()
    store = RecordStore(tmp_path / "records.jsonl")
    session = onnxjit.InferenceSession(model, threads=1, records=store.path)
    kernel = session.compiled(feeds).kernels[0]
    template = select_template(kernel, session.target)
    odd = {"vec": 16, "grain": 4096}
    assert odd in template.space(kernel, session.target) and odd != template.default(kernel, session.target)
    store.append([TuningRecord(kernel.workload_key, "cpu-someone-elses-machine", template.name, odd, 1e-9)])
    chosen = record_chooser(store, session.target)(kernel, session.target)
    assert dict(chosen[1]) == dict(template.default(kernel, session.target))
    store.append([TuningRecord(kernel.workload_key, session.target.fingerprint_key(), template.name,
                               odd, 1e-6)])
    chosen = record_chooser(store, session.target)(kernel, session.target)
    assert dict(chosen[1]) == odd
    tuned = onnxjit.InferenceSession(model, threads=1, records=store.path)
    assert tuned.compiled(feeds).choices[kernel.name] == (template.name, odd)
    np.testing.assert_allclose(tuned.run(None, feeds)[0], feeds["x"] ** 2 + feeds["x"], rtol=1e-5, atol=1e-6)


def test_truncated_and_corrupt_record_lines_are_skipped_with_a_warning(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "records.jsonl")
    good = TuningRecord("w", "t", "elementwise", {"vec": 8}, 1e-3)
    store.append([good, good])
    with open(store.path, "a", encoding="utf-8") as f:
        f.write('{"workload": "w", "target": "t", "templ')       # a writer killed mid-line
    with pytest.warns(RuntimeWarning, match="1 corrupt"):
        assert store.load() == [good, good]
    store.append([good])                                         # starts on a fresh line
    with open(store.path, "a", encoding="utf-8") as f:
        f.write('{"workload": "w", "version": 99, "target": "t", "template": "x", "knobs": {},'
                ' "seconds": 1}\n')
    with pytest.warns(RuntimeWarning, match="another record version"):
        assert store.load() == [good, good, good]


def test_a_point_counts_by_the_mean_of_its_measurements_and_not_at_all_if_one_failed(
        tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "records.jsonl")
    lucky = {"tile": "lucky"}     # fast once (a quiet moment), slow when measured again
    steady = {"tile": "steady"}
    flaky = {"tile": "flaky"}     # fastest, but one of its measurements failed
    store.append([TuningRecord("w", "t", "x", lucky, 1.0e-3), TuningRecord("w", "t", "x", steady, 1.5e-3),
                  TuningRecord("w", "t", "x", flaky, 0.5e-3),
                  TuningRecord("w", "t", "x", lucky, 2.4e-3), TuningRecord("w", "t", "x", steady, 1.5e-3),
                  TuningRecord("w", "t", "x", flaky, float("inf"), "timeout after 20.0 s")])
    best = store.best("w", "t")
    assert best is not None and best.knobs == steady and best.seconds == pytest.approx(1.5e-3)
    assert store.best("w", "another machine") is None
    result = WorkloadResult("w", ["k"], "x", steady, 3, [
        Trial(0.1, lucky, 1.0e-3), Trial(0.2, steady, 1.5e-3), Trial(0.3, flaky, 0.5e-3),
        Trial(0.4, lucky, 2.4e-3), Trial(0.5, flaky, float("inf"), "crashed")])
    assert result.best is not None and result.best.knobs == steady
    assert result.default_seconds == pytest.approx(1.5e-3)


_WRITER = """
import sys
from onnxjit.schedules.records import RecordStore, TuningRecord
store = RecordStore(sys.argv[1])
for i in range(200):
    store.append([TuningRecord(f"w{sys.argv[2]}", "t", "x", {"i": i, "pad": "p" * 3000}, 1e-3)])
"""


def test_two_writers_on_one_file_lose_no_record(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(k)]) for k in (1, 2)]
    assert [w.wait(120) for w in writers] == [0, 0]
    records = RecordStore(path).load()
    assert len(records) == 400
    for k in (1, 2):
        assert sorted(r.knobs["i"] for r in records if r.workload == f"w{k}") == list(range(200))


def test_candidate_order_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    model, feeds = _model()
    session = onnxjit.InferenceSession(model, threads=1, records=tmp_path / "r.jsonl")
    kernel = session.compiled(feeds).kernels[0]
    template = select_template(kernel, session.target)
    first = ordered_space(template, kernel, session.target, seed=7)
    assert first == ordered_space(template, kernel, session.target, seed=7)
    assert template.default(kernel, session.target) not in first


def test_session_tunes_in_the_background_then_reuses_the_cache(tmp_path: Path) -> None:
    model, feeds = _model(32)
    records = tmp_path / "records.jsonl"
    session = onnxjit.InferenceSession(model, threads=1, tune=5, records=records)
    expected = feeds["x"] ** 2 + feeds["x"]
    np.testing.assert_allclose(session.run(None, feeds)[0], expected, rtol=1e-5, atol=1e-6)  # served at once
    assert session.wait_for_tuning(timeout=180)
    np.testing.assert_allclose(session.run(None, feeds)[0], expected, rtol=1e-5, atol=1e-6)
    count = len(RecordStore(records).load())
    assert count >= 1
    again = onnxjit.InferenceSession(model, threads=1, tune=5, records=records)
    assert again.wait_for_tuning(timeout=180)
    assert len(RecordStore(records).load()) == count                       # nothing re-measured
    kernel = again.compiled(feeds).kernels[0]
    best = RecordStore(records).best(kernel.workload_key, again.target.fingerprint_key())
    assert best is not None and again.compiled(feeds).choices[kernel.name][1] == best.knobs


def test_kernels_are_tuned_on_the_values_real_feeds_give_them(tmp_path: Path) -> None:
    from onnxjit.runtime.jit_tuning import observed_inputs

    rng = np.random.default_rng(3)
    w = rng.standard_normal((16, 32)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Softmax", ["h"], ["p"]),
             helper.make_node("ReduceSum", ["p"], ["s"], keepdims=0)]
    x = rng.standard_normal((8, 16)).astype(np.float32)
    model = make_model(nodes, {"x": x}, ["s"], initializers={"w": w})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1,
                                       records=tmp_path / "r.jsonl")
    compiled = session.compiled({"x": x})
    seen = observed_inputs(compiled, {"x": x})
    inputs = {name for k in compiled.kernels for name in k.inputs}
    assert set(seen) == inputs - set(compiled.graph.constants)   # every run-time input, once
    h = x @ w
    p = np.exp(h - h.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    reference = {"x": x, "h": h, "p": p}
    checked = [n for n in seen if n in reference]
    assert "x" in checked and len(checked) >= 2   # an intermediate value, not just the feed
    for name in checked:
        np.testing.assert_allclose(seen[name], reference[name], rtol=1e-5, atol=1e-6)


def test_a_kernel_with_a_0d_input_is_measured(tmp_path: Path) -> None:
    """CumSum's axis is a 0-d tensor: the tuner must pass it as 0-d, not as shape (1,)."""
    x = np.random.default_rng(4).standard_normal((64, 32)).astype(np.float32)
    model = make_model([helper.make_node("CumSum", ["x", "axis"], ["y"])], {"x": x}, ["y"],
                       initializers={"axis": np.array(0, dtype=np.int64)})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1,
                                       records=tmp_path / "r.jsonl")
    compiled = session.compiled({"x": x})
    (result,) = tune_compiled(compiled, session.target, session.records,
                              TuneOptions(budget_s=60, build_workers=1), feeds={"x": x})
    assert all(not t.error for t in result.trials), [t.error for t in result.trials]
