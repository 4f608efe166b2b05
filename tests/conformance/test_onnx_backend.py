"""onnx's backend conformance node tests, run through onnxjit (the selection: include.py).

Known failures (include.KNOWN_FAILURES) are strict xfails: a fix turns them into XPASS failures,
so the list is kept true. Tests of include.SLOW_OPS are also marked `slow`: they run with
`--run-slow` (see tests/conftest.py), as CI runs them.
"""
from __future__ import annotations

import pytest

from tests.conformance.harness import node_test_case
from tests.conformance.include import SLOW_OPS, known_failure, op_of

OnnxBackendNodeModelTest = node_test_case(__name__)
for _name in [n for n in vars(OnnxBackendNodeModelTest) if n.startswith("test_")]:
    _func = getattr(OnnxBackendNodeModelTest, _name)
    if (_why := known_failure(_name)) is not None:
        _func = pytest.mark.xfail(reason=_why, strict=True)(_func)
    if op_of(_name) in SLOW_OPS:
        _func = pytest.mark.slow(_func)
    setattr(OnnxBackendNodeModelTest, _name, _func)

OnnxBackendNodeModelTest = pytest.mark.conformance(OnnxBackendNodeModelTest)
