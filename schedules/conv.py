"""CPU template for onnxjit::Conv: dense and sparse register tiles (schedules/conv_kernels.py).

The space holds both implementations when the weights carry a sparse packing, so tuning decides
sparse vs dense by measurement; the default is the compile-time cost model's choice. Tile sizes
follow the register file: accumulators + input vectors + one broadcast fit the vector registers
(16 with AVX2, 32 with AVX-512). Every point computes the same sums in the same order per output
element (one accumulator chain over input channels and taps), so all points agree.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from
from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import read_spec
from onnxjit.compiler.tvm_api import PrimFunc
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.conv_kernels import Epilogue, Tiling, conv_kernel, packs

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

MAX_POINTS = 64


def _spec(kernel: Kernel) -> dict[str, Any] | None:
    if len(kernel.op_types) != 1:
        return None
    spec = read_spec(kernel.func)
    return spec if spec is not None and spec.get("op") == "DirectConv" else None


def _registers(target: Target) -> int:
    return 32 if getattr(target, "vector_lanes", 8) >= 16 else 16


def _lanes(target: Target) -> int:
    return int(getattr(target, "vector_lanes", 8))


def _l1(target: Target) -> int:
    return int(getattr(target, "l1d_bytes", 32 << 10))


def _pack_vectors(g: ConvGeometry, rows: int, v: int, lanes: int, target: Target,
                  weight_bytes: int = 0) -> int:
    """Vectors per packed pixel tile (schedules/conv_pack.py), or 0 where packing does not pay.
    It pays when an unpacked tile of v vectors misses L1 (its C input rows fill more than ~3/4:
    the rest holds the streamed weights), each input row feeds >= 8 output rows (`rows`: stored
    blocks x their height; the copy then costs <= 1/8 of the FMAs) and the image spans >= 4
    packed tiles (each tile is a pass over the weights: small images keep fewer, wider tiles).
    Measured on MobileNetV2's pointwise convs at 90%: packing layers outside this rule cost
    3-70% each. A packed tile holds all C channels in ~3/4 of L1, at least 2 vectors (one vector
    pays an index and a broadcast load per FMA), split evenly over the image. Each packed tile
    re-reads the packed weights: past ~4 L1s of them (from L2 then) narrower tiles lose (1x1
    90% zeros at 28x28: C512->256, 105 KB, 0.40 ms packed vs 0.51; C512->512, 210 KB, 0.69 vs
    0.68; MatMul 128x768->768 as a 1x1, 472 KB: 0.34 vs 0.30; at 70% zeros, 1.4 MB: 0.99 vs
    0.72; C576->96 at 14x14, 44 KB: 0.057 vs 0.070)."""
    budget = 3 * _l1(target) // 4
    if 4 * g.c * v * lanes <= budget or rows < 8 * g.c or weight_bytes > 4 * _l1(target):
        return 0
    cap = max(2, budget // (4 * g.c * lanes))
    vectors = -(-g.nq // lanes)
    if vectors < 4 * cap:
        return 0
    return -(-vectors // -(-vectors // cap))


def _dense_packs(g: ConvGeometry, v: int, lanes: int, target: Target) -> bool:
    """Whether a dense 1x1 read in place packs its tiles of v vectors: when the tile's C input
    rows miss L1 and the image spans >= 8 tiles. Dense tiles load one input vector per ct FMAs,
    so the packed tile may sit in L2; packing then also reads the feed once (no 64-byte aligned
    copy). 1x1 C256 56x56 (v 3, ct 8): 2.43 -> 2.18 ms at 64 bytes, 2.38 ms at 16; MobileNetV2's
    14x14 C384 layers (5 tiles): 0-6% slower packed."""
    return (g.direct and g.group == 1 and 4 * g.c * v * lanes > 3 * _l1(target) // 4
            and -(-g.nq // lanes) >= 8 * v)


def _streams_output(g: ConvGeometry, target: Target) -> bool:
    """Streaming (non-temporal) stores for a sparse layer whose output exceeds the core's L2: the
    next kernel cannot find it in L2 either way, and plain stores first read every output line
    (a third of a memory-bound layer's traffic). 1x1 C256 56x56 (3.2 MB out, 2 MB L2), alone:
    95% zeros 0.485 -> 0.385 ms, 90% in 4x1 blocks 0.63 -> 0.46 ms; followed by a second sparse
    1x1, a dense 3x3 or a residual Add, the pair gains 7-15%; followed by a 3x3 MaxPool (which
    reads it from memory instead of L3) it loses 7%. (MobileNetV2's 112x112 expand conv, whose
    depthwise consumer lost 0.5 ms to them, now runs fused with it: compiler/passes/expand_depthwise.py.)"""
    out = 4 * g.n * g.m * g.ho * g.wo
    return _x86_host(target) and out > int(getattr(target, "l2_bytes", 1 << 20))


def _stored_rows(kernel: Kernel, br: int) -> int:
    """Weight rows the sparse packing stores: blocks (the length of `off`) x block height."""
    return int(kernel.func.params[4].shape[0]) * br


def _wct(spec: dict[str, Any], g: ConvGeometry) -> int:
    return int(spec.get("wct") or g.mg)


def _weight_stationary(g: ConvGeometry) -> int:
    """1: channel tiles outermost, each tile's weights read once while it sweeps every pixel
    (small images with large weights: 7x7 / 14x14 layers); 0: pixel tiles outermost."""
    input_bytes = 4 * g.c * max(g.plane * g.planes, g.h * g.w)
    weight_bytes = 4 * g.cg * g.taps * g.m
    return 1 if input_bytes <= 256 * 1024 and weight_bytes > input_bytes else 0


def _x86_host(target: Target) -> bool:
    """Streaming stores are x86 LLVM code: the host CPU target with x86 SIMD flags."""
    if getattr(target, "name", "") != "cpu":
        return False
    from onnxjit.targets.cpu import cpu_features

    return bool({"sse4_2", "avx", "avx2"} & set(cpu_features()))


def _sparse_fits(br: int, v: int, rt: int, lanes: int, regs: int) -> bool:
    """Accumulators (br x rt x v) + the shared input vectors and br broadcasts (BSR), or one
    broadcast (CSR: inputs are FMA memory operands), in the register file; rows under 1 KiB."""
    acc = br * rt * v
    return v * lanes * 4 < 1024 and acc + (v + br if br > 1 else 1) <= regs


def _channel_accumulators(regs: int) -> int:
    """Channel-kernel accumulators that leave room for the weight vectors and broadcasts LLVM
    keeps live across the unrolled taps (measured: 16 of 32 zmm run at the roof, 28 spill)."""
    return 16 if regs >= 32 else 12


def _channel_ok(g: ConvGeometry, wct: int, lanes: int) -> bool:
    """The channel-vectorised kernel needs whole vectors of output channels in each weight block."""
    return wct % lanes == 0 and g.mg % lanes == 0


class _Cost:
    """A roofline in cycles for 2 FMAs and ~2 vector loads per cycle (the prototype's machines)."""

    def __init__(self, g: ConvGeometry, lanes: int) -> None:
        self.g, self.lanes = g, lanes
        self.k = g.cg * g.taps

    def pixel(self, ct: int, v: int, flat: bool) -> float:
        g = self.g
        length, rows = (g.nq, 1) if flat else (g.wo, g.ho)
        full, rest = divmod(length, v * self.lanes)

        def step(nv: int) -> float:
            cost = max(ct * nv / 2.0, (ct + nv) / 2.0)
            return cost + (nv if not g.direct else 0)  # tap-shifted rows: loads straddle lines

        # the tail tile pays a whole pass over the weights for its few vectors
        per_row = full * step(v) + (step(-(-rest // self.lanes)) if rest else 0.0)
        return g.group * (g.mg / ct) * rows * per_row * self.k

    def channel(self, ob: int, wt: int, rt: int = 1) -> float:
        g = self.g
        full, rest = divmod(g.wo, wt)
        rows = g.ho // rt * rt

        def tile(w: int, r: int) -> float:
            # loads: ob weight vectors (from L2: a channel tile's weights exceed L1) + r*w
            # broadcasts; stores: one scalar per channel and pixel
            step = max(ob * w * r / 2.0, (ob + r * w) / 2.0) + ob / 2.0
            return self.k * step + ob * w * r * self.lanes / 2.0

        def row_cost(r: int) -> float:
            return full * tile(wt, r) + (tile(rest, r) if rest else 0.0)

        per_channel_tile = rows // rt * row_cost(rt) + (g.ho - rows) * row_cost(1)
        return g.group * (g.mg / (ob * self.lanes)) * per_channel_tile


class ConvTemplate(ScheduleTemplate):
    name = "conv"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.simd_cpu and _spec(kernel) is not None

    def _spec(self, kernel: Kernel) -> tuple[dict[str, Any], ConvGeometry]:
        spec = _spec(kernel)
        if spec is None:
            raise KnobError("not an onnxjit::Conv kernel")
        return spec, geometry_from(spec)

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        spec, g = self._spec(kernel)
        regs, lanes = _registers(target), _lanes(target)
        points: list[Knobs] = []
        if spec["block"] and g.group == 1:
            if spec["impl"] == "sparse" and _x86_host(target):   # the default, streaming or not
                alt = dict(self.default(kernel, target))
                alt["nt"] = not alt.get("nt", False)
                points.append(alt)
            br = int(spec["block"])
            for v in (1, 2, 3, 4, 6, 8):
                for mode, rt in (("flat", 1), ("rows", 1), ("rows", 2), ("rows", 3)):
                    if _sparse_fits(br, v, rt, lanes, regs) and rt <= g.ho:
                        points.append({"impl": "sparse", "v": v, "ct": br, "cu": 1, "mode": mode, "rows": rt})
            if g.direct:
                # packed tiles (schedules/conv_pack.py): the feed is read once, so numpy's
                # 16-byte aligned feeds need no copy (rereads); pack 2: software-pipelined
                for v in (2, 3, 4):
                    if _sparse_fits(br, v, 1, lanes, regs):
                        points += [{"impl": "sparse", "v": v, "ct": br, "cu": 1, "mode": "flat", "rows": 1,
                                    "pack": pack, "pf": 2} for pack in (1, 2)]
        wct = _wct(spec, g)
        cus = (1, 4) if g.taps == 1 and g.cg % 4 == 0 else (1,)  # cu > 1 reorders the sum over taps
        dense: list[Knobs] = []
        for ct in (c for c in (1, 2, 4, 8, 16) if wct % c == 0):
            for v in (1, 2, 3, 4, 6):
                if ct * v + v + 1 <= regs - 2:
                    dense += [{"impl": "dense", "v": v, "ct": ct, "cu": cu, "mode": mode, "rows": 1}
                              for mode in ("flat", "rows") for cu in cus]
        if _channel_ok(g, wct, lanes):
            for ob in (1, 2, 4):
                if g.mg % (ob * lanes) == 0:
                    for wt in (3, 4, 5, 6, 7, 8, 12, 14):
                        for rt in (1, 2):
                            if ob * wt * rt <= _channel_accumulators(regs) and rt <= g.ho:
                                dense += [{"impl": "dense_c", "v": wt, "ct": ob, "cu": cu, "mode": "rows",
                                           "rows": rt} for cu in cus]
        dense.sort(key=lambda k: self.estimate(kernel, k, target))
        alt = dict(self._dense_default(g, spec, target))
        if alt["impl"] == "dense":
            base = {k: x for k, x in alt.items() if k not in ("pack", "pf")}
            extra = [{**base, "cob": 1 - int(base.get("cob", 0))}]   # the other loop order
            if g.direct and g.group == 1 and base["mode"] == "flat":   # packed or not
                extra += [{**base, "cob": 0}, {**base, "cob": 0, "pack": 1, "pf": 2}]
            dense = [p for p in extra if p != alt] + dense
        points += dense
        default = self.default(kernel, target)
        unique: list[Knobs] = []
        for p in [default, *points]:
            if p not in unique:
                unique.append(p)
        return unique[:MAX_POINTS]

    def _dense_default(self, g: ConvGeometry, spec: dict[str, Any], target: Target) -> Knobs:
        regs, lanes = _registers(target), _lanes(target)
        wct = _wct(spec, g)
        cu = 4 if g.taps == 1 and g.cg % 4 == 0 else 1
        ct = max(c for c in (1, 2, 4, 8) if wct % c == 0)
        v = max(x for x in (1, 2, 3, 4, 6) if ct * x + x + 1 <= regs - 2 or x == 1)
        mode = "flat" if g.wq == g.wo or g.cg * g.taps >= 32 else "rows"
        rt = 1
        if mode == "rows":
            # whole output rows, two per tile when the registers allow: the input rows the two
            # share across taps are loaded once (depthwise: ~10%)
            v = min(v, -(-g.wo // lanes))
            rt = 2 if g.ho >= 2 and 2 * ct * v + v + 1 <= regs - 2 else 1
        best: Knobs = {"impl": "dense", "v": v, "ct": ct, "cu": cu, "mode": mode, "rows": rt,
                       "cob": _weight_stationary(g)}
        if _channel_ok(g, wct, lanes):
            # the prototype's NCHWc tile (2 channel vectors x 7 pixels), here with 2 output rows
            # sharing each weight load: ob * wt * rows accumulators, half the register file; the
            # width is the cost model's pick (pixels are not lanes: a narrow last tile wastes none)
            ob = 2 if g.mg % (2 * lanes) == 0 else 1
            rt = 2 if g.ho >= 2 else 1
            cap = max(3, _channel_accumulators(regs) // (ob * rt))
            cost = _Cost(g, lanes)
            wt = min(range(3, cap + 1), key=lambda w: (cost.channel(ob, w, rt), -w))
            cand = {"impl": "dense_c", "v": wt, "ct": ob, "cu": 1 if g.taps > 1 else cu, "mode": "rows",
                    "rows": rt}
            if cost.channel(ob, wt, rt) < cost.pixel(ct, v, mode == "flat"):
                best = cand
        if best["impl"] == "dense" and mode == "flat" and best["cob"] == 0 and _dense_packs(g, v, lanes, target):
            best = {**best, "pack": 1, "pf": 2}
        return best

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        spec, g = self._spec(kernel)
        if spec["impl"] == "sparse":
            # XNNPACK-style tiles of ~64 pixels x br rows (the prototype's best). A padded conv
            # computes whole output rows, 2 per tile (one index and weight load serve both), so
            # no tile straddles the padding columns and stores need no per-lane crop.
            br, lanes, regs = int(spec["block"]), _lanes(target), _registers(target)
            if g.wq == g.wo:
                mode, rt, v = "flat", 1, max(1, 64 // lanes)
                vectors = -(-g.nq // lanes)
                if vectors <= 16:   # small images: one or two even tiles of <= 8 vectors cover it
                    v = -(-vectors // -(-vectors // 8))
            else:
                mode, rt = "rows", min(2, g.ho)
                v = min(max(1, 64 // lanes), -(-g.wo // lanes))
            extra: Knobs = {}
            stored = _stored_rows(kernel, br)
            packed = (_pack_vectors(g, stored, v, lanes, target, 4 * stored + 4 * stored // br)
                      if g.direct else 0)
            if packed:
                # XNNPACK-style L1 blocking: each tile of all input channels is packed into an
                # L1-sized scratch, every output block then reads it from L1; prefetching the
                # next tile into L2 overlaps the feed's (scattered) reads with the FMAs
                v, extra = packed, {"pack": 1, "pf": 2}
            while v > 1 and not _sparse_fits(br, v, rt, lanes, regs):
                v -= 1
            return {"impl": "sparse", "v": v, "ct": br, "cu": 1, "mode": mode, "rows": rt,
                    "nt": _streams_output(g, target), **extra}
        return self._dense_default(g, spec, target)

    def rereads(self, kernel: Kernel, knobs: Knobs) -> frozenset[str]:
        """A 1x1 read in place loads X's vectors once per output tile unless its tiles are packed;
        every other conv reads X once (into its padded copy or the packed tile)."""
        _, g = self._spec(kernel)
        if g.direct and not packs(g, str(knobs["impl"]), str(knobs["mode"]), int(knobs.get("pack", 0)),
                                  int(knobs.get("cob", 0))):
            return frozenset(kernel.inputs[:1])
        return frozenset()

    def estimate(self, kernel: Kernel, knobs: Knobs, target: Target) -> float:
        """Cycles: the larger of FMA and load issue per step, lane waste, channel-kernel stores."""
        _, g = self._spec(kernel)
        cost = _Cost(g, _lanes(target))
        v, ct = int(knobs["v"]), int(knobs["ct"])
        if knobs["impl"] == "dense_c":
            return cost.channel(ct, v, int(knobs.get("rows", 1)))
        return cost.pixel(ct, v, knobs["mode"] == "flat")

    def apply(self, sch: Any, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("conv template generates its loop nest (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec, g = self._spec(kernel)
        impl = str(knobs["impl"])
        if impl == "sparse" and not spec["block"]:
            raise KnobError("sparse point for a conv without a sparse packing")
        tiling = Tiling(impl, int(knobs["v"]), int(knobs["ct"]), int(knobs["cu"]),
                        str(knobs["mode"]), _lanes(target), int(knobs.get("cob", 0)), _wct(spec, g),
                        int(knobs.get("rows", 1)), bool(knobs.get("nt", False)),
                        int(knobs.get("pack", 0)), int(knobs.get("pf", 0)))
        shapes = [tuple(int(d) for d in p.shape) for p in kernel.func.params]
        epi = Epilogue(tuple(spec["post"]), float(spec["lo"]), float(spec["hi"]))
        try:
            func = conv_kernel(g, epi, tiling, shapes, max(1, int(spec["block"])))
        except ValueError as exc:
            raise KnobError(str(exc)) from exc
        return func.with_attr("global_symbol", kernel.name)
