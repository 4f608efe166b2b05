"""1x1 convs (sparse and dense) can pack each pixel tile (all input channels) into a scratch
(schedules/conv_pack.py) and read the feed only there, so numpy's 16-byte aligned feeds are bound
in place: against onnxruntime at every 16-byte offset, with tail tiles, batches, 4x1 blocks,
channel counts past the L1 budget and fused epilogues; and where the defaults pack."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx import helper

import onnxjit
from onnxjit.compiler.kernel import Kernel
from onnxjit.schedules import select_template
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.conv import ConvTemplate
from onnxjit.targets.base import Target
from tests.helpers import make_model, offset_copy, run_onnxruntime

RTOL = 1e-4


def _pruned(rng: np.random.Generator, m: int, c: int, zeros: float, pattern: str) -> np.ndarray:
    w = rng.standard_normal((m, c, 1, 1)).astype(np.float32)
    rows = m // 4 if pattern == "4x1" else m
    keep = rng.random((rows, c, 1, 1)) >= zeros
    return w * (np.repeat(keep, 4, axis=0) if pattern == "4x1" else keep)


# (x shape, output channels, zeros, pattern, epilogue; feeds over the executor's 64 KiB
# zero-copy threshold): tiles with a tail (24x24 = 576 pixels),
# 7x9 (one tile and a 31-pixel tail), more input channels than fit the L1 budget (300),
# a batch of 2, 4x1 blocks
CASES = [((1, 64, 24, 24), 64, 0.9, "u", ""), ((1, 288, 7, 9), 32, 0.9, "4x1", "relu"),
         ((2, 300, 13, 11), 48, 0.92, "u", "add"), ((1, 64, 16, 20), 64, 0.85, "4x1", "add"),
         ((1, 48, 20, 20), 40, 0.0, "u", "relu")]   # dense


def _packing(pack: int, nt: bool) -> Callable[[Kernel, Target], tuple[ScheduleTemplate, Knobs]]:
    """A chooser: the conv template's default, packed (sparse: tiles of 2 vectors)."""
    def choose(kernel: Kernel, target: Target) -> tuple[ScheduleTemplate, Knobs]:
        template = select_template(kernel, target)
        knobs = template.default(kernel, target)
        if isinstance(template, ConvTemplate) and knobs["impl"] == "sparse":
            knobs = {**knobs, "v": 2, "pack": pack, "pf": 2, "nt": nt}
        elif isinstance(template, ConvTemplate) and knobs["impl"] == "dense":
            knobs = {**knobs, "mode": "flat", "cob": 0, "pack": pack, "pf": 2}
        return template, knobs
    return choose


@pytest.mark.parametrize("pack,nt", [(1, False), (2, False), (1, True)])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_packed_sparse_conv_in_place_at_any_offset(case: int, pack: int, nt: bool) -> None:
    """pack 2: double-buffered, the next tile copied while this one runs; nt: streaming stores
    (sparse, where the planes are whole vectors: cases 0 and 3)."""
    shape, m, zeros, pattern, epilogue = CASES[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal(shape).astype(np.float32)
    inits = {"w": _pruned(rng, m, shape[1], zeros, pattern),
             "b": rng.standard_normal(m).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"])]
    if epilogue == "relu":
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    elif epilogue == "add":
        inits["r"] = rng.standard_normal((shape[0], m, *shape[2:])).astype(np.float32)
        nodes.append(helper.make_node("Add", ["c", "r"], ["y"]))
    else:
        nodes[0] = helper.make_node("Conv", ["x", "w", "b"], ["y"])
    model = make_model(nodes, {"x": x}, ["y"], inits)
    want = run_onnxruntime(model, {"x": x})[0]
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1, chooser=_packing(pack, nt))
    compiled = session.compiled({"x": x})
    knobs = [compiled.choices[k.name][1] for k in compiled.kernels]
    assert [(k["impl"], k.get("pack")) for k in knobs] == [("sparse" if zeros else "dense", pack)], knobs
    for misalign in (16, 32, 48, 0, 4):
        feed = offset_copy(x, misalign)
        got = session.run(None, {"x": feed})[0]
        # 4 bytes off cannot be bound (kernels take 16-byte aligned parameters): copied
        assert session.executor({"x": feed}).last_in_place == ({"x"} if misalign % 16 == 0 else set())
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max(),
                                   err_msg=f"misaligned by {misalign} bytes")


class _Target:
    """A stand-in CPU target: only what the conv template reads."""

    name, simd_cpu, vector_lanes, threads = "cpu", True, 16, 1

    def __init__(self, l1d_bytes: int, l2_bytes: int = 2 << 20) -> None:
        self.l1d_bytes, self.l2_bytes = l1d_bytes, l2_bytes


# (l1d, C, M, image side, vectors per packed tile or 0: not packed)
DEFAULTS = [(48 << 10, 256, 256, 28, 2), (32 << 10, 256, 256, 28, 2), (48 << 10, 160, 160, 28, 3),
            (48 << 10, 256, 32, 28, 0),    # each input row feeds ~3 output rows: the copy costs
            (48 << 10, 32, 256, 28, 0),    # unpacked tiles fit L1
            (48 << 10, 256, 256, 7, 0),    # 49 pixels: one unpacked tile, two packed ones
            (48 << 10, 768, 96, 12, 2),    # a tile of 2 vectors misses L1, its weights (59 KB) do not
            (48 << 10, 768, 768, 12, 0)]   # 472 KB of weights re-read per packed tile


@pytest.mark.parametrize("l1d,c,m,side,vectors", DEFAULTS)
def test_default_packs_where_it_pays(l1d: int, c: int, m: int, side: int, vectors: int) -> None:
    """Packed tiles hold all C channels in ~3/4 of the target's L1; the dense and unpacked 1x1
    kernels re-read X as vectors (copied to 64 bytes), the packed kernel does not."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, c, side, side)).astype(np.float32)
    w = _pruned(rng, m, c, 0.9, "u")
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"])], {"x": x}, ["y"], {"w": w})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    kernel = session.compiled({"x": x}).kernels[0]
    template, target = ConvTemplate(), _Target(l1d)
    default = template.default(kernel, target)  # type: ignore[arg-type]
    assert default["impl"] == "sparse"
    assert (default.get("pack", 0), default["v"] if vectors else 0) == ((1, vectors) if vectors else (0, 0))
    assert template.rereads(kernel, default) == (frozenset() if vectors else frozenset({"x"}))
    dense = {"impl": "dense", "v": 2, "ct": 4, "cu": 1, "mode": "flat", "rows": 1}
    assert template.rereads(kernel, dense) == frozenset({"x"})


@pytest.mark.parametrize("c,packed", [(256, True), (32, False)])
def test_dense_default_packs_large_tiles(c: int, packed: bool) -> None:
    """A dense 1x1 packs when its tiles' C input rows miss L1 (256 channels x 3 vectors) and
    reads the feed once; with 32 channels the tile stays in L1 and X is re-read in place."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, c, 28, 28)).astype(np.float32)
    w = rng.standard_normal((256, c, 1, 1)).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"])], {"x": x}, ["y"], {"w": w})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    kernel = session.compiled({"x": x}).kernels[0]
    template = ConvTemplate()
    default = template.default(kernel, _Target(48 << 10))  # type: ignore[arg-type]
    assert (default["impl"], default["v"], default.get("pack", 0)) == ("dense", 3, int(packed))
    assert template.rereads(kernel, default) == (frozenset() if packed else frozenset({"x"}))


@pytest.mark.parametrize("side,l2,streams", [(28, 2 << 20, False), (56, 2 << 20, True), (56, 4 << 20, False)])
def test_sparse_default_streams_outputs_larger_than_l2(side: int, l2: int, streams: bool) -> None:
    """Streaming stores by default where the output (C256 x side^2 floats: 0.8 MB at 28x28,
    3.2 MB at 56x56) exceeds the target's L2, and only on an x86 host (they are x86 code)."""
    from onnxjit.targets.cpu import cpu_features

    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 256, side, side)).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"])], {"x": x}, ["y"],
                       {"w": _pruned(rng, 256, 256, 0.9, "u")})
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    kernel = session.compiled({"x": x}).kernels[0]
    default = ConvTemplate().default(kernel, _Target(48 << 10, l2))  # type: ignore[arg-type]
    x86 = any(f.startswith(("sse", "avx")) for f in cpu_features())
    assert default["impl"] == "sparse" and default["nt"] is (streams and x86)

