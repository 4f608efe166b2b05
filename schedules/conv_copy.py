"""The zero-padded, stride-phase-split input copy (compiler/conv_geometry.py) that conv kernels
read when the conv is not a plain 1x1, emitted as TVMScript text into a kernel's per-image loop.

Only the padding is zeroed (pad rows, the spare row, pad columns, the slack after the last plane);
valid row segments are copied with whole-vector moves (stride-1 phases) or vector gathers of every
sw-th element (strided phases), so the copy costs about one pass over the input.
"""
from __future__ import annotations

from typing import Protocol

from onnxjit.compiler.conv_geometry import ConvGeometry


class Emit(Protocol):
    depth: int

    def __call__(self, line: str) -> None: ...

    def block(self, header: str) -> Emit: ...

    def __enter__(self) -> None: ...

    def __exit__(self, *_: object) -> None: ...


def _fill(w: Emit, dst: str, count: int, lanes: int, src: str = "", stride: int = 1,
          room: int = 0) -> None:
    """Xq[dst + j] = Xn[src + stride * j] (or 0 without src) for j < count, in vectors. A strided
    source is read as `stride` whole vectors per output vector, deinterleaved by a shuffle, while
    those reads stay within `room` elements from src (the rest of the input row)."""
    if count <= 0:
        return
    nv, tail = divmod(count, lanes)
    if src and stride > 1:
        nv = min(nv, room // (stride * lanes))
        tail = count - nv * lanes
        if nv:
            loads = ", ".join(f"Xn[T.ramp({src} + j0 * {stride * lanes} + {k * lanes}, 1, {lanes})]"
                              for k in range(stride))
            pick = [stride * lane for lane in range(lanes)]
            with w.block(f"for j0 in T.serial({nv}):"):
                w(f"Xq[T.ramp({dst} + j0 * {lanes}, 1, {lanes})] = T.Shuffle([{loads}], {pick})")
        if tail:
            with w.block(f"for j2 in T.serial({tail}):"):
                w(f"Xq[{dst} + {nv * lanes} + j2] = Xn[{src} + {stride} * ({nv * lanes} + j2)]")
        return

    def value(j: str) -> str:
        return f"Xn[{src} + {stride} * ({j})]" if src else "T.float32(0)"

    if nv:
        with w.block(f"for j0 in T.serial({nv}):"):
            with w.block(f"for j1 in T.vectorized({lanes}):"):
                w(f"Xq[{dst} + j0 * {lanes} + j1] = {value(f'j0 * {lanes} + j1')}")
    if tail:
        with w.block(f"for j2 in T.serial({tail}):"):
            w(f"Xq[{dst} + {nv * lanes} + j2] = {value(f'{nv * lanes} + j2')}")


def emit_padded_copy(w: Emit, g: ConvGeometry, lanes: int, slack: int, channels: int = 0,
                     first: str = "0") -> None:
    """Fills Xq (`channels` planes of g.cplane, default all g.c, then `slack` zeros) from image
    Xn's channels first, first + 1, ..."""
    channels = channels or g.c
    _fill(w, str(channels * g.cplane), slack, lanes)
    with w.block(f"for ci in T.serial({channels}):"):
        for ph in range(g.planes):
            oy, ox = ph // g.sw, ph % g.sw
            base = f"ci * {g.cplane} + {ph * g.plane}"
            # plane row i holds input row oy + sh*i - pt; column j holds input column ox + sw*j - pl
            i0 = max(0, -(-(g.pt - oy) // g.sh))
            i1 = min(g.hq, -(-(g.h + g.pt - oy) // g.sh))
            j0 = max(0, -(-(g.pl - ox) // g.sw))
            j1 = min(g.wq, -(-(g.w + g.pl - ox) // g.sw))
            if i1 <= i0 or j1 <= j0:
                _fill(w, base, g.plane, lanes)
                continue
            _fill(w, base, i0 * g.wq, lanes)
            _fill(w, f"{base} + {i1 * g.wq}", (g.hq - i1) * g.wq, lanes)
            with w.block(f"for i in T.serial({i1 - i0}):"):
                row = f"{base} + (i + {i0}) * {g.wq}"
                src = f"({first} + ci) * {g.h * g.w} + ({oy - g.pt} + {g.sh} * (i + {i0})) * {g.w} + {ox - g.pl + g.sw * j0}"
                _fill(w, row, j0, lanes)
                _fill(w, f"{row} + {j0}", j1 - j0, lanes, src, g.sw, g.w - (ox - g.pl + g.sw * j0))
                _fill(w, f"{row} + {j1}", g.wq - j1, lanes)
