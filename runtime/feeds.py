"""Model inputs for the CLI and the benchmark: seeded random feeds, or feeds read from an .npz file.

Symbolic dimensions take their value from `dims` (name -> size); a dimension with no name, or a
name not in `dims`, is 1. The same seed always gives the same feeds, whatever runtime consumes them.
"""
from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from onnxjit.compiler.errors import InputError, OnnxJitError
from onnxjit.runtime.session import NodeArg

DEFAULT_DIM = 1


def parse_dims(specs: Sequence[str]) -> dict[str, int]:
    """`["batch=4", "seq=128"]` -> `{"batch": 4, "seq": 128}`."""
    dims: dict[str, int] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        try:
            size = int(value)
        except ValueError:
            size = -1
        if not sep or not name or size < 0:
            raise InputError(f"--dim {spec!r}: expected NAME=SIZE with SIZE a non-negative integer")
        dims[name] = size
    return dims


def concrete_shape(arg: NodeArg, dims: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else dims.get(d, DEFAULT_DIM) if isinstance(d, str)
                 else DEFAULT_DIM for d in arg.shape)


def check_dims_used(args: Sequence[NodeArg], dims: Mapping[str, int]) -> None:
    """A --dim that names no input dimension is almost always a typo: say so."""
    known = {d for a in args for d in a.shape if isinstance(d, str)}
    unused = sorted(set(dims) - known)
    if unused:
        names = ", ".join(sorted(known)) or "none (all input shapes are static)"
        raise InputError(f"--dim {', '.join(unused)}: no input has a dimension of that name; "
                         f"symbolic dimensions are: {names}")


def random_feeds(args: Sequence[NodeArg], seed: int = 0,
                 dims: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """Seeded inputs: floats ~ N(0, 1), integers small and non-negative (safe as indices), bools
    uniform."""
    dims = dims or {}
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for arg in args:
        shape = concrete_shape(arg, dims)
        if not arg.dtype:
            raise InputError(f"input {arg.name!r} has no tensor type; give it with --inputs")
        dtype = np.dtype(arg.dtype)
        if dtype == np.bool_:
            value = rng.random(shape) < 0.5
        elif dtype.kind in "iu":
            value = rng.integers(0, 4, size=shape).astype(dtype)
        elif dtype.kind in "fV" or dtype.name == "bfloat16":  # ml_dtypes floats are kind "V"
            value = rng.standard_normal(shape).astype(dtype)
        else:
            raise InputError(f"input {arg.name!r} has dtype {arg.dtype}; cannot make random "
                             "values of it, give it with --inputs")
        feeds[arg.name] = np.asarray(value, order="C")  # (ascontiguousarray makes 0-d 1-d)
    return feeds


def load_feeds(path: str | Path) -> dict[str, np.ndarray]:
    """Feeds from an .npz file, one array per input name (np.savez(path, x=..., mask=...))."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read inputs from {str(path)!r}: {exc}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputError(f"{str(path)!r} is not an .npz file (save inputs with np.savez)")
    with data:
        try:
            return {name: np.asarray(data[name], order="C") for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise InputError(f"cannot read inputs from {str(path)!r}: {exc}") from None


def save_outputs(path: str | Path, names: Sequence[str], values: Sequence[np.ndarray]) -> None:
    try:
        np.savez(path, **dict(zip(names, values)))
    except OSError as exc:
        raise OnnxJitError(f"cannot write outputs to {str(path)!r}: {exc.strerror or exc}") from None
