"""AttentionTemplate: every space point equals the default point (to rounding: block_kv reorders
the online softmax), ragged S, causal (with offset), masks, GQA and decode with KV splits; spaces
stay within 64 points; bad knobs raise KnobError."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from onnxjit.compiler.errors import KnobError
from onnxjit.schedules.attention import AttentionTemplate
from tests.helpers import make_model
from tests.schedules.knob_check import _run_points, kernels

RNG = np.random.default_rng(0)
TEMPLATE = AttentionTemplate()


def _model(sq: int, skv: int, hq: int, hkv: int, mask: str = "", past: int = 0,
           **attrs: object) -> tuple:
    feeds = {"q": RNG.standard_normal((1, hq, sq, 16)).astype(np.float32),
             "k": RNG.standard_normal((1, hkv, skv, 16)).astype(np.float32),
             "v": RNG.standard_normal((1, hkv, skv, 16)).astype(np.float32)}
    names = ["q", "k", "v"]
    if mask == "bool":
        feeds["m"] = RNG.random((1, 1, sq, skv + past)) > 0.2
    elif mask == "add":
        feeds["m"] = RNG.standard_normal((sq, skv + past)).astype(np.float32)
    names.append("m" if mask else "")
    outs = ["y"]
    if past:
        feeds["pk"] = RNG.standard_normal((1, hkv, past, 16)).astype(np.float32)
        feeds["pv"] = RNG.standard_normal((1, hkv, past, 16)).astype(np.float32)
        names += ["pk", "pv"]
        outs += ["present_k", "present_v"]
    while not names[-1]:
        names.pop()
    node = helper.make_node("Attention", names, outs, **attrs)
    return make_model([node], feeds, outs, opset=23), feeds


def _check(model: object, feeds: dict, threads: int = 1) -> int:
    ks, values, types, target = kernels(model, feeds, threads)   # type: ignore[arg-type]
    checked = 0
    for kernel in ks:
        if not TEMPLATE.applicable(kernel, target):
            continue
        space = TEMPLATE.space(kernel, target)
        default = TEMPLATE.default(kernel, target)
        assert 1 <= len(space) <= 64 and default in space
        results = _run_points(kernel, [default, *space], TEMPLATE, values, types, target)
        for knobs, outs in zip(space, results[1:]):
            for got, want in zip(outs, results[0]):
                np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6, err_msg=str(knobs))
        checked += len(space)
    assert checked
    return checked


SLOW = pytest.mark.slow   # ~24 LLVM builds each: minutes on the shared 2-core box


@pytest.mark.parametrize("sq,skv,hq,hkv,mask,attrs", [
    (20, 45, 2, 1, "add", {"softcap": 3.0, "is_causal": 1}),   # MQA, mask, softcap, ragged
    pytest.param(77, 77, 2, 2, "", {}, marks=SLOW),              # ragged rows and keys
    pytest.param(77, 77, 2, 2, "", {"is_causal": 1}, marks=SLOW),
    pytest.param(40, 100, 4, 2, "bool", {"is_causal": 1}, marks=SLOW),  # GQA, bool + causal
])
def test_space_points_agree(sq: int, skv: int, hq: int, hkv: int, mask: str,
                            attrs: dict) -> None:
    _check(*_model(sq, skv, hq, hkv, mask, **attrs))


@SLOW
def test_decode_splits_agree() -> None:
    model, feeds = _model(1, 700, 8, 2)             # one query over a 700-key cache, GQA 4:1
    assert _check(model, feeds, threads=2) > 1


def test_bad_knobs_raise() -> None:
    model, feeds = _model(8, 8, 1, 1)
    ks, _, _, target = kernels(model, feeds)
    kernel = next(k for k in ks if TEMPLATE.applicable(k, target))
    with pytest.raises(KnobError):
        TEMPLATE.instantiate(kernel, {"block_q": 7, "block_kv": 32, "tile": "6x2",
                                      "split_kv": 1}, target)
    with pytest.raises(KnobError):
        TEMPLATE.instantiate(kernel, {"block_q": 64}, target)
