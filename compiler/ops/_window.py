"""Sliding-window geometry shared by Conv and the pooling ops: pads, output sizes, auto_pad."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from onnxjit.compiler.lower_context import LowerContext


@dataclass(frozen=True)
class Window:
    """Per spatial axis: kernel, stride, dilation, pads before/after, input and output size.
    (A ConvTranspose's pads may be negative: output_shape asking for more than the full scatter.)"""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pad_begin: tuple[int, ...]
    pad_end: tuple[int, ...]
    in_size: tuple[int, ...]
    out_size: tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.kernel)

    def extent(self, axis: int) -> int:
        """Input span of one window along `axis`."""
        return (self.kernel[axis] - 1) * self.dilations[axis] + 1


def window(ctx: LowerContext, in_size: Sequence[int], kernel: Sequence[int],
           ceil_mode: bool = False) -> Window:
    """The window of a Conv/pool node from its attributes (strides, dilations, pads, auto_pad)."""
    rank = len(in_size)
    if len(kernel) != rank:
        raise ctx.error(f"kernel_shape {list(kernel)} does not match {rank} spatial dims")
    strides = axis_ints(ctx, "strides", rank, 1)
    dilations = axis_ints(ctx, "dilations", rank, 1)
    pads = [int(p) for p in (ctx.attr("pads") or [0] * (2 * rank))]
    if len(pads) != 2 * rank or any(p < 0 for p in pads):
        raise ctx.error(f"pads {pads} must be {2 * rank} non-negative values")
    if any(int(k) < 1 for k in kernel) or any(s < 1 for s in strides) or any(d < 1 for d in dilations):
        raise ctx.error("kernel_shape, strides and dilations must be positive")
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    begin, end, out = list(pads[:rank]), list(pads[rank:]), []
    for i in range(rank):
        span = (int(kernel[i]) - 1) * dilations[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            size = -(-int(in_size[i]) // strides[i])
            total = max(0, (size - 1) * strides[i] + span - int(in_size[i]))
            small = total // 2
            begin[i], end[i] = (small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small)
        elif auto_pad == "VALID":
            begin[i] = end[i] = 0
        elif auto_pad != "NOTSET":
            raise ctx.error(f"unknown auto_pad {auto_pad!r}")
        room = int(in_size[i]) + begin[i] + end[i] - span
        if room < 0:
            raise ctx.error(f"window ({span}) larger than padded input ({room + span}) on axis {i}")
        if ceil_mode:
            size = -(-room // strides[i]) + 1
            # the last window must start inside the input or the begin padding (onnx/torch rule)
            if (size - 1) * strides[i] >= int(in_size[i]) + begin[i]:
                size -= 1
        else:
            size = room // strides[i] + 1
        out.append(size)
    return Window(tuple(int(k) for k in kernel), tuple(strides), tuple(dilations), tuple(begin),
                  tuple(end), tuple(int(s) for s in in_size), tuple(out))


def axis_ints(ctx: LowerContext, key: str, rank: int, default: int) -> list[int]:
    """Attribute `key` with one int per spatial axis (`default` each when absent)."""
    values = [int(v) for v in (ctx.attr(key) or [default] * rank)]
    if len(values) != rank:
        raise ctx.error(f"{key} {values} must have {rank} values")
    return values
