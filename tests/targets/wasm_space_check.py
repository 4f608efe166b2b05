"""Child process of test_wasm_space: builds every knob point of every kernel of one case for wasm.

An LLVM abort (e.g. an x86-only intrinsic reaching wasm32) kills the process, so the test runs
this in a subprocess: `python -m tests.targets.wasm_space_check CASE` prints one line per point
that failed to build (a KnobError is the template declining a point, not a failure).
"""
from __future__ import annotations

import sys

import onnxjit
from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.tvm_api import IRModule
from onnxjit.schedules import select_template
from tests.targets.wasm_cases import CASES


def main(case: str) -> int:
    model, feeds = CASES[case]()
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    failures = 0
    for kernel in session.compiled(feeds).kernels:
        template = select_template(kernel, session.target)
        for knobs in template.space(kernel, session.target):
            print(f"{case} {kernel.name} {template.name} {dict(knobs)}", file=sys.stderr,
                  flush=True)
            try:
                func = template.instantiate(kernel, knobs, session.target)
            except KnobError:
                continue
            try:
                session.target.build(IRModule({kernel.name: func}))
            except Exception as exc:  # noqa: BLE001  (reported, then the next point)
                failures += 1
                print(f"FAILED {kernel.name} {template.name} {dict(knobs)}: {exc}"[:500])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
