"""CPU templates for 2-d float32 MaxPool (no dilation, no Indices output) and AveragePool (no
dilation): one row-wise kernel, max or sum.

Per plane and output row, the max (sum) over the window's input rows is taken on whole vectors
along x (no per-element bounds checks: rows outside the image are skipped, columns outside it sit
in the row buffer as -inf (0)), then the max (sum) along x: unaligned vector loads at stride 1, the even and
odd columns split by vector shuffles at stride 2 (ResNet's 3x3/2 pool), one lane at a time
otherwise. The compute-per-element TE form (with a clamp and a select per tap) ran 2.8x slower
than onnxruntime on ResNet's stem pool; AveragePool's TE form, which only the generic fallback
schedules, 2.2x slower on a 3x3/1 + 2x2/2 pair at C64 56x56. An average multiplies the sum by
the reciprocal tap counts of its row and column (separable: the window is a box), computed once
per kernel call into small tables. No knobs.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import SPEC_KEY
from onnxjit.compiler.tvm_api import PrimFunc, block_annotations, parse_tvmscript
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.tvmscript_text import even_odd_lanes

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

NEG = "T.float32(-3.4028234663852886e38)"


def _spec(kernel: Kernel, op_type: str) -> dict[str, Any] | None:
    if kernel.op_types != (op_type,) or len(kernel.func.params) != 2:
        return None
    specs = block_annotations(kernel.func, SPEC_KEY)
    return dict(json.loads(specs[0])) if len(specs) == 1 else None


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def pool_source(s: dict[str, Any], lanes: int, shapes: list[tuple[int, ...]]) -> str:
    """The kernel's TVMScript; `shapes`: its (X, Y) parameter shapes."""
    n, h, w, kh, kw, sh, sw, pt, pl, oh, ow = (int(s[k]) for k in (
        "n", "h", "w", "kh", "kw", "sh", "sw", "pt", "pl", "oh", "ow"))
    avg = s["op"] == "AveragePool2d"
    pad = "T.float32(0)" if avg else NEG

    def comb(a: str, b: str) -> str:
        return f"({a} + {b})" if avg else f"T.max({a}, {b})"

    L = lanes
    nvec = _cdiv(w, L)                               # input vectors per row
    nout = _cdiv(ow, L)                              # output vectors per row (whole vectors)
    halves = _cdiv(nout * L + _cdiv(kw, 2), L)       # vectors per even/odd half (stride 2)
    rbw = max(pl + nvec * L, (nout * L - 1) * sw + kw, 2 * halves * L) + L
    lines: list[str] = []

    def t(depth: int, line: str) -> None:
        lines.append("    " * depth + line)

    t(0, "@T.prim_func")
    t(0, f"def pool(X: T.Buffer({tuple(shapes[0])!r}, 'float32'), "
         f"Y: T.Buffer({tuple(shapes[1])!r}, 'float32')):")
    t(1, "T.func_attr({'global_symbol': 'pool', 'tirx.noalias': True})")
    t(1, f"Xf = T.decl_buffer(({n * h * w},), 'float32', data=X.data)")
    t(1, f"Yf = T.decl_buffer(({n * oh * ow},), 'float32', data=Y.data)")
    # one plane's rows in each stage's buffer: a stage reads what the previous one stored a
    # whole plane earlier (reloading a just-stored vector at another offset stalls the core)
    t(1, f"rb = T.alloc_buffer(({oh * rbw},), 'float32')")
    if sw == 2:
        t(1, f"ev = T.alloc_buffer(({oh * (halves * L + L)},), 'float32')")
        t(1, f"od = T.alloc_buffer(({oh * (halves * L + L)},), 'float32')")
    t(1, f"for i in T.serial({oh * rbw}):")   # padding columns stay -inf (0)
    t(2, f"rb[i] = {pad}")
    if avg:
        for table, size, k, stride, begin, end, extent in (
                ("rcy", h, kh, sh, pt, int(s["pb"]), oh), ("rcx", w, kw, sw, pl, int(s["pr"]), nout * L)):
            lo, hi = (-begin, size + end) if s["include_pad"] else (0, size)
            t(1, f"{table} = T.alloc_buffer(({extent},), 'float32')")
            t(1, f"for i in T.serial({extent}):")
            start = f"(i * {stride} - {begin})"
            t(2, f"{table}[i] = T.float32(1) / T.Cast('float32', T.max(T.min({k}, {hi} - {start})"
                 f" - T.max(0, {lo} - {start}), 1))")
    t(1, f"for c in T.serial({n}):")
    t(2, f"for oy in T.serial({oh}):")
    row = f"oy * {rbw} + {pl}"

    def load(src: str) -> str:
        return f"T.if_then_else(xv * {L} + l < {w}, Xf[{src} + xv * {L} + l], {pad})"

    t(3, f"y0 = oy * {sh} - {pt}")
    # an interior row reads its kh input rows straight into one max; the image's very last row
    # (vector loads could run past the image) and the border rows go through the general path
    last_load = f"(c * {h} + y0 + {kh - 1}) * {w} + {nvec * L}"
    t(3, f"if y0 >= 0 and y0 + {kh} <= {h} and {last_load} <= {n * h * w}:")
    t(4, f"for xv in T.serial({nvec}):")
    t(5, f"for l in T.vectorized({L}):")
    value = load(f"(c * {h} + y0) * {w}")
    for ky in range(1, kh):
        value = comb(value, load(f"(c * {h} + y0 + {ky}) * {w}"))
    t(6, f"rb[{row} + xv * {L} + l] = {value}")
    t(3, "else:")
    t(4, f"for x in T.serial({nvec * L}):")
    t(5, f"rb[{row} + x] = {pad}")
    t(4, f"for ky in T.serial({kh}):")
    t(5, "if y0 + ky >= 0 and y0 + ky < " + str(h) + ":")
    t(6, f"for x in T.serial({w}):")
    t(7, f"rb[{row} + x] = {comb(f'rb[{row} + x]', f'Xf[(c * {h} + y0 + ky) * {w} + x]')}")
    hw = halves * L + L
    if sw == 2:
        evens, odds = even_odd_lanes(L)
        t(2, f"for oy, q in T.grid({oh}, {halves}):")
        lo = f"rb[T.ramp(oy * {rbw} + q * {2 * L}, 1, {L})]"
        hi = f"rb[T.ramp(oy * {rbw} + q * {2 * L} + {L}, 1, {L})]"
        t(3, f"ev[T.ramp(oy * {hw} + q * {L}, 1, {L})] = T.Shuffle([{lo}, {hi}], [{evens}])")
        t(3, f"od[T.ramp(oy * {hw} + q * {L}, 1, {L})] = T.Shuffle([{lo}, {hi}], [{odds}])")

        def tap(x: str, kx: int) -> str:   # rb[2 * x + kx]
            return f"{'ev' if kx % 2 == 0 else 'od'}[oy * {hw} + {x} + {kx // 2}]"
    else:
        def tap(x: str, kx: int) -> str:
            return f"rb[oy * {rbw} + ({x}) * {sw} + {kx}]"

    def window_value(x: str) -> str:
        value = tap(x, 0)
        for kx in range(1, kw):
            value = comb(value, tap(x, kx))
        return f"{value} * rcy[oy] * rcx[{x}]" if avg else value

    dst = f"(c * {oh} + oy) * {ow}"
    nout = _cdiv(ow, L)
    t(2, f"for oy in T.serial({oh}):")
    if sw in (1, 2):
        # whole vectors: a row's last one spills into the next row, which is written after it;
        # the image's very last row stores its tail lane by lane
        t(3, f"if {dst} + {nout * L} <= {n * oh * ow}:")
        t(4, f"for ov in T.serial({nout}):")
        t(5, f"for l in T.vectorized({L}):")
        t(6, f"Yf[{dst} + ov * {L} + l] = {window_value(f'ov * {L} + l')}")
        t(3, "else:")
        t(4, f"for ox in T.serial({ow}):")
        t(5, f"Yf[{dst} + ox] = {window_value('ox')}")
    else:
        t(3, f"for ox in T.serial({ow}):")
        t(4, f"Yf[{dst} + ox] = {window_value('ox')}")
    return "\n".join(lines) + "\n"


class MaxPoolTemplate(ScheduleTemplate):
    name = "maxpool"
    op_type = "MaxPool"
    streams_inputs = True   # each input row is read by at most ceil(kh / sh) output rows

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.simd_cpu and _spec(kernel, self.op_type) is not None

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        return [{}]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        return {}

    def apply(self, sch: Any, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError(f"{self.name} generates its loop nest (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec = _spec(kernel, self.op_type)
        if spec is None:
            raise KnobError(f"not a 2-d float32 {self.op_type} kernel")
        lanes = int(getattr(target, "vector_lanes", 8))
        shapes = [tuple(int(d) for d in p.shape) for p in kernel.func.params]
        return parse_tvmscript(pool_source(spec, lanes, shapes)).with_attr("global_symbol",
                                                                           kernel.name)


class AveragePoolTemplate(MaxPoolTemplate):
    name = "avgpool"
    op_type = "AveragePool"
