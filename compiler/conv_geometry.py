"""Geometry of a 2-d convolution run as shifted contiguous rows (XNNPACK-style, NCHW kept).

Every conv becomes Y[co, q] = sum over (ci, tap) of w * Xq[ci * cplane + tap_offset + q]: the input
is zero-padded and split into stride phases (`planes` = sh*sw planes of hq x wq each), so each tap
reads a contiguous row shifted by a constant, and output pixel (y, x) sits at q = y * wq + x.
A 1x1 stride-1 unpadded conv reads X itself (direct: wq = w, no copy). Columns x >= wo of the
q grid are computed but never stored. `wa` rounds the copy's rows up to a multiple of wa elements
(wq, so every plane and row starts wa-aligned: conv_rewrite.row_alignment).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ConvGeometry:
    n: int
    c: int
    h: int
    w: int
    m: int
    group: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pl: int
    pb: int
    pr: int
    wa: int = 1       # the padded copy's row stride is a multiple of this (elements)

    @property
    def ho(self) -> int:
        return (self.h + self.pt + self.pb - (self.kh - 1) * self.dh - 1) // self.sh + 1

    @property
    def wo(self) -> int:
        return (self.w + self.pl + self.pr - (self.kw - 1) * self.dw - 1) // self.sw + 1

    @property
    def cg(self) -> int:
        return self.c // self.group

    @property
    def mg(self) -> int:
        return self.m // self.group

    @property
    def taps(self) -> int:
        return self.kh * self.kw

    @property
    def direct(self) -> bool:
        """X already is the row layout: no padded copy needed."""
        return (self.kh == self.kw == self.sh == self.sw == 1
                and not (self.pt or self.pl or self.pb or self.pr))

    @property
    def planes(self) -> int:
        return 1 if self.direct else self.sh * self.sw

    @property
    def wq(self) -> int:
        if self.direct:
            return self.w
        width = self.wo + ((self.kw - 1) * self.dw) // self.sw
        return -(-width // self.wa) * self.wa

    @property
    def hq(self) -> int:
        # one spare row: the flat q grid's last columns read past the last output row
        return self.h if self.direct else self.ho + ((self.kh - 1) * self.dh) // self.sh + 1

    @property
    def plane(self) -> int:
        return self.hq * self.wq

    @property
    def cplane(self) -> int:
        return self.planes * self.plane

    @property
    def xq_len(self) -> int:
        return self.c * self.cplane

    @property
    def nq(self) -> int:
        """Length of the flat output grid (ho rows of wq)."""
        return self.ho * self.wq

    def tap_offset(self, ky: int, kx: int) -> int:
        if self.direct:
            return 0
        py, iy = divmod(ky * self.dh, self.sh)[::-1]
        px, ix = divmod(kx * self.dw, self.sw)[::-1]
        return (py * self.sw + px) * self.plane + iy * self.wq + ix

    def macs(self) -> int:
        return self.n * self.m * self.ho * self.wo * self.cg * self.taps

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


WEIGHT_BLOCKS = (16, 8, 4, 2, 1)


def weight_block(channels: int) -> int:
    """Output channels per contiguous weight block: a whole vector (16 or 8 fp32 lanes, a 64-byte
    line at 16) when it divides `channels`."""
    return next(b for b in WEIGHT_BLOCKS if channels % b == 0)


def is_same_3x3(g: ConvGeometry) -> bool:
    """A 3x3, stride-1, undilated, ungrouped conv with padding 1 all round ("same" size)."""
    return ((g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.group) == (3, 3, 1, 1, 1, 1, 1)
            and (g.pt, g.pl, g.pb, g.pr) == (1, 1, 1, 1))


def geometry_from(spec: dict[str, Any]) -> ConvGeometry:
    """From a spec or node attributes; `wa` may be absent (1: rows unaligned)."""
    return ConvGeometry(**{k: int(spec[k]) for k in ConvGeometry.__dataclass_fields__
                           if k != "wa" or "wa" in spec})
