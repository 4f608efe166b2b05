"""CPU template for onnxjit::ExpandDepthwise (compiler/passes/expand_depthwise.py): a sparse 1x1
conv and the depthwise conv reading it, in one kernel.

Per block of br expanded channels (one BSR row block): the sparse 1x1 computes the block's whole
planes (flat pixel tiles of `pv` vectors, the pointwise epilogue at the store) into a scratch S of
br planes, which stays in L1/L2; the depthwise conv then filters those br channels from S exactly
as the conv template's depthwise kernel does (per channel: its padded copy, then register tiles of
output rows; schedules/conv_kernels.py). The expanded tensor never goes through memory and X is
re-read from cache once per block. Every output element sums in the order of the two separate
convs, so the result equals theirs.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from
from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import read_spec
from onnxjit.compiler.tvm_api import PrimFunc, parse_tvmscript
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.conv import ConvTemplate, _lanes, _registers, _sparse_fits
from onnxjit.schedules.conv_kernels import Epilogue, Tiling, _f32, _Gen
from onnxjit.schedules.tvmscript_text import Writer

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

DW_KEYS = ("v", "cu", "mode", "rows")   # the depthwise tile's knobs, "d_"-prefixed


def _spec(kernel: Kernel) -> dict[str, Any] | None:
    if len(kernel.op_types) != 1:
        return None
    spec = read_spec(kernel.func)
    return spec if spec is not None and spec.get("op") == "ExpandDepthwise" else None


def _post(value: str, bias: str, epi: Epilogue, lanes: int = 0) -> str:
    """The pointwise epilogue of one element, or of a vector of `lanes` lanes."""
    def bc(x: str) -> str:
        return f"T.Broadcast({x}, {lanes})" if lanes else x

    value = f"{value} + {bc(bias)}"
    for op in epi.post:
        if op == "relu":
            value = f"T.max({value}, {bc('T.float32(0)')})"
        elif op == "clip":
            if math.isfinite(epi.lo):
                value = f"T.max({value}, {bc(_f32(epi.lo))})"
            if math.isfinite(epi.hi):
                value = f"T.min({value}, {bc(_f32(epi.hi))})"
    return value


class _DwGen(_Gen):
    """The depthwise half. `direct`: the pointwise half wrote block channel j's padded copy
    straight into Xq plane j (no copy from S)."""

    direct = False
    block = 1   # channels per block: gi's plane is gi % block

    def copy_padded(self) -> None:
        if not self.direct:
            super().copy_padded()

    def xchannel(self, local: str) -> str:
        return f"gi % {self.block} + {local}" if self.direct else super().xchannel(local)


def direct_ok(gp: ConvGeometry, gd: ConvGeometry, lanes: int) -> bool:
    """Pointwise rows stored straight into the depthwise conv's padded copy: whole vectors
    (stride-1 columns) or deinterleaved vector pairs (stride 2) along rows of >= 1 vector."""
    return gd.sw in (1, 2) and gp.w >= lanes


def _epilogue(half: dict[str, Any]) -> Epilogue:
    return Epilogue(tuple(half["post"]), float(half["lo"]), float(half["hi"]))


def kernel_source(gp: ConvGeometry, gd: ConvGeometry, spec: dict[str, Any], knobs: Knobs, lanes: int,
                  shapes: list[tuple[int, ...]]) -> str:
    br, pv = int(spec["p"]["block"]), int(knobs["pv"])
    hw, mr = gp.h * gp.w, pv * lanes
    dw_tiling = Tiling("dense", int(knobs["d_v"]), 1, int(knobs["d_cu"]), str(knobs["d_mode"]), lanes,
                       0, 1, int(knobs["d_rows"]))
    try:
        dw = _DwGen(gd, _epilogue(spec["d"]), dw_tiling, 1)
    except ValueError as exc:
        raise KnobError(str(exc)) from exc
    direct = bool(knobs.get("direct", 0))
    if not dw.group_copy or pv < 1 or mr * 4 >= 1024 or (direct and not direct_ok(gp, gd, lanes)):
        raise KnobError(f"pointwise tile of {pv} vectors or depthwise geometry not supported")
    w = dw.w = Writer()
    dw.copy_first = f"gi - ib * {br}"   # channel gi's plane in the scratch S
    dw.direct, dw.block = direct, br
    pepi = _epilogue(spec["p"])
    names = ("X", "W1", "B1", "val", "off", "ptr", "Wt", "B", "R", "Y")
    dtypes = ("float32",) * 4 + ("int32", "int32") + ("float32",) * 4
    sig = ", ".join(f"{n}: T.Buffer({tuple(s)!r}, '{d}')" for n, s, d in zip(names, shapes, dtypes))
    ylen = gd.n * gd.m * gd.ho * gd.wo

    def store_s(c: int, base: str, segs: list[tuple[int, int]]) -> None:
        for o, width in segs:
            with w.block(f"for l in T.vectorized({width}):"):
                w(f"S[{c * hw} + {base} + {o} + l] = {_post(f'pacc{c}[{o} + l]', f'B1[ib * {br} + {c}]', pepi)}")

    def store_q(c: int, x0: str, x0h: str, segs: list[tuple[int, int]]) -> None:
        """Row y's pixels x0 + o + l into Xq plane c at padded column (x + pl) / sw of phase
        (x + pl) % sw: stride 1 whole vectors, stride 2 even and odd lanes of vector pairs."""
        sh, sw, pt, pl = gd.sh, gd.sw, gd.pt, gd.pl
        row = f"{c * gd.cplane} + ((y + {pt}) % {sh}) * {sw * gd.plane} + ((y + {pt}) // {sh}) * {gd.wq}"
        bias = f"B1[ib * {br} + {c}]"
        i = 0
        while i < len(segs):
            o, width = segs[i]
            if sw == 1:
                with w.block(f"for l in T.vectorized({width}):"):
                    w(f"Xq[{row} + {pl} + {x0} + {o} + l] = {_post(f'pacc{c}[{o} + l]', bias, pepi)}")
                i += 1
                continue
            group = [s for s in segs[i:i + 2] if s[1] == lanes]
            if width == lanes and group:   # x0 + o is even: parity p goes to phase (p + pl) % 2
                vecs = [_post(f"pacc{c}[T.ramp({oo}, 1, {lanes})]", bias, pepi, lanes) for oo, _ in group]
                half = len(group) * lanes // 2
                for p in (0, 1):
                    col = f"{((p + pl) % 2) * gd.plane} + {x0h} + {(o + p + pl) // 2}"   # x0 / 2
                    pick = [2 * j + p for j in range(half)]
                    w(f"Xq[T.ramp({row} + {col}, 1, {half})] = T.Shuffle([{', '.join(vecs)}], {pick})")
                i += len(group)
                continue
            with w.block(f"for l in T.serial({width}):"):
                x = f"({x0} + {o} + l + {pl})"
                w(f"Xq[{row} + ({x} % 2) * {gd.plane} + {x} // 2] = {_post(f'pacc{c}[{o} + l]', bias, pepi)}")
            i += 1

    def tile(base: str, nv: int, nr: int, x0: str = "", x0h: str = "") -> None:
        segs = [(v * lanes, lanes) for v in range(nv)] + ([(nv * lanes, nr)] if nr else [])
        for c in range(br):
            for o, width in segs:
                with w.block(f"for l in T.vectorized({width}):"):
                    w(f"pacc{c}[{o} + l] = T.float32(0)")
        with w.block("for jj in T.serial(ptr[ib], ptr[ib + 1]):"):
            for c in range(br):
                for o, width in segs:
                    with w.block(f"for l in T.vectorized({width}):"):
                        w(f"pacc{c}[{o} + l] = pacc{c}[{o} + l] + val[jj * {br} + {c}] * Xi[off[jj] + {base} + {o} + l]")
        for c in range(br):
            if direct:
                store_q(c, x0, x0h, segs)
            else:
                store_s(c, base, segs)

    w("@T.prim_func")
    with w.block(f"def conv({sig}):"):
        w("T.func_attr({'global_symbol': 'conv', 'tirx.noalias': True})")
        w(f"Wf = T.decl_buffer(({max(1, int(shapes[6][0]))},), 'float32', data=Wt.data)")
        w(f"Yf = T.decl_buffer(({ylen},), 'float32', data=Y.data)")
        w(f"Rf = T.decl_buffer(({ylen if 'add' in spec['d']['post'] else 1},), 'float32', data=R.data)")
        for c in range(br):
            w(f"pacc{c} = T.alloc_buffer(({mr},), 'float32')")
        for name, width in dw.accumulators():
            w(f"{name} = T.alloc_buffer(({width},), 'float32')")
        xq_vectors = -(-(br if direct else 1) * gd.cplane // lanes) + 1
        w(f"Xq = T.alloc_buffer(({xq_vectors * lanes},), 'float32')")
        if direct:   # the padding stays zero: the pointwise half writes only the image
            with w.block(f"for i in T.serial({xq_vectors}):"):
                with w.block(f"for l in T.vectorized({lanes}):"):
                    w(f"Xq[i * {lanes} + l] = T.float32(0)")
        else:
            w(f"S = T.alloc_buffer(({br * hw + lanes},), 'float32')")
            w(f"Xn = T.decl_buffer(({br * hw + lanes},), 'float32', data=S.data)")
        with w.block(f"for n in T.serial({gp.n}):"):
            xlen = gp.c * hw
            w(f"Xi = T.decl_buffer(({xlen},), 'float32', data=X.data, elem_offset=n * {xlen})")
            with w.block(f"for ib in T.serial({gp.m // br}):"):
                if direct:   # along each input row: tiles then land on one padded row
                    nt, rem = divmod(gp.w, mr)
                    with w.block(f"for y in T.serial({gp.h}):"):
                        if nt:
                            with w.block(f"for xt in T.serial({nt}):"):
                                tile(f"y * {gp.w} + xt * {mr}", pv, 0, f"xt * {mr}", f"xt * {mr // 2}")
                        if rem:
                            tile(f"y * {gp.w} + {nt * mr}", *divmod(rem, lanes), str(nt * mr), str(nt * mr // 2))
                else:
                    nt, rem = divmod(hw, mr)
                    if nt:
                        with w.block(f"for pt in T.serial({nt}):"):
                            tile(f"pt * {mr}", pv, 0)
                    if rem:
                        tile(str(nt * mr), *divmod(rem, lanes))
                with w.block(f"for gi in T.serial(ib * {br}, ib * {br} + {br}):"):
                    dw.group_sweep()
    return "\n".join(w.lines) + "\n"


class ExpandDepthwiseTemplate(ScheduleTemplate):
    name = "expand_dw"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.simd_cpu and _spec(kernel) is not None

    def _parts(self, kernel: Kernel) -> tuple[dict[str, Any], ConvGeometry, ConvGeometry]:
        spec = _spec(kernel)
        if spec is None:
            raise KnobError("not an onnxjit::ExpandDepthwise kernel")
        return spec, geometry_from(spec["p"]), geometry_from(spec["d"])

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        """Pointwise tiles as the sparse conv's (~64 pixels; small images: even tiles of <= 8
        vectors), the depthwise tile the conv template's default for that conv."""
        spec, gp, gd = self._parts(kernel)
        lanes, regs, br = _lanes(target), _registers(target), int(spec["p"]["block"])
        direct = direct_ok(gp, gd, lanes)
        pv = max(1, 64 // lanes)
        vectors = -(-(gp.w if direct else gp.h * gp.w) // lanes)
        if direct or vectors <= 16:   # a row (direct) or a small image in even tiles of <= 8
            pv = -(-vectors // -(-vectors // 8))
        while pv > 1 and not _sparse_fits(br, pv, 1, lanes, regs):
            pv -= 1
        dw = ConvTemplate()._dense_default(gd, {**spec["d"], "wct": 1}, target)
        return {"pv": pv, "direct": int(direct), **{f"d_{k}": dw[k] for k in DW_KEYS}}

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        spec, _, _ = self._parts(kernel)
        default = self.default(kernel, target)
        lanes, regs, br = _lanes(target), _registers(target), int(spec["p"]["block"])
        points = [default] + [{**default, "pv": v} for v in (1, 2, 3, 4, 6, 8)
                              if v != default["pv"] and _sparse_fits(br, v, 1, lanes, regs)]
        if default["direct"]:   # through the scratch S instead
            points.append({**default, "direct": 0})
        return points

    def rereads(self, kernel: Kernel, knobs: Knobs) -> frozenset[str]:
        """X's rows are loaded as vectors once per block of expanded channels."""
        return frozenset(kernel.inputs[:1])

    def apply(self, sch: Any, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("expand_dw template generates its loop nest (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec, gp, gd = self._parts(kernel)
        shapes = [tuple(int(d) for d in p.shape) for p in kernel.func.params]
        source = kernel_source(gp, gd, spec, knobs, _lanes(target), shapes)
        return parse_tvmscript(source).with_attr("global_symbol", kernel.name)
