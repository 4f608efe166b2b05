"""Helpers of kernels generated as TVMScript text: a small indenting writer, and expression
builders (`exp2`, `tanh`) that the text calls and tvm_api.parse_tvmscript binds at parse time."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

LOG2E = 1.4426950408889634
# 2^f on [-1/2, 1/2], highest degree first: degree-5 minimax on relative error (~1e-7 with FMA,
# the same as _vecmath.EXP2_HALF_POLY), one mul + add less than Cephes' degree-6 exp2f
EXP2_HALF_POLY = (1.3276374666020274e-3, 9.67551488429308e-3, 5.550713464617729e-2,
                  2.4022120237350464e-1, 6.931469440460205e-1, 1.0000001192092896)


def make_exp2(T: Any) -> Callable[[Any], Any]:
    def exp2(x: Any) -> Any:
        """2^x for x <= 0: Cephes exp2f polynomial on [-0.5, 0.5]; every op vectorises."""
        x = T.max(x, T.float32(-127.0))
        n = T.round(x)
        f = x - n
        p = T.float32(EXP2_HALF_POLY[0])
        for c in EXP2_HALF_POLY[1:]:
            p = p * f + T.float32(c)
        # n + 1.5*2^23 + 127 holds n + 127 in its low mantissa bits, so its bits << 23 are 2^n:
        # no float -> int conversion (wasm's saturating one is ~7 instructions in V8)
        bits = T.reinterpret("int32", n + T.float32(12582912.0 + 127.0))
        return p * T.reinterpret("float32", T.shift_left(bits, 23))
    return exp2


def make_tanh(T: Any) -> Callable[[Any], Any]:
    exp2 = make_exp2(T)

    def tanh(x: Any) -> Any:
        """tanh via exp2 of -2|x| (no overflow); vectorises."""
        e = exp2(T.float32(-2.0 * LOG2E) * T.fabs(x))
        t = (T.float32(1.0) - e) / (T.float32(1.0) + e)
        return T.if_then_else(x < T.float32(0.0), -t, t)
    return tanh


HELPERS = {"exp2": make_exp2, "tanh": make_tanh}


def even_odd_lanes(lanes: int) -> tuple[str, str]:
    """T.Shuffle index lists taking the even and the odd lanes of two concatenated vectors."""
    return (", ".join(str(2 * i) for i in range(lanes)),
            ", ".join(str(2 * i + 1) for i in range(lanes)))


class Writer:
    """Lines of generated text; `with w.indent():`, `with w:` or `with w.block(header):` indent
    what is written inside one level."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def indent(self) -> Indent:
        return Indent(self)

    def block(self, header: str) -> Writer:
        self(header)
        return self

    def __enter__(self) -> None:
        self.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1


class Indent:
    def __init__(self, w: Writer) -> None:
        self.w = w

    def __enter__(self) -> None:
        self.w.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.w.depth -= 1
