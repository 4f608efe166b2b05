"""onnx's backend conformance node tests, run through onnxjit (the selection: include.py).

Known failures (include.KNOWN_FAILURES) are strict xfails: a fix turns them into XPASS failures,
so the list is kept true.
"""
from __future__ import annotations

import pytest

from tests.conformance.harness import node_test_case
from tests.conformance.include import known_failure

OnnxBackendNodeModelTest = node_test_case(__name__)
for _name in [n for n in vars(OnnxBackendNodeModelTest) if n.startswith("test_")]:
    if (_why := known_failure(_name)) is not None:
        _func = getattr(OnnxBackendNodeModelTest, _name)
        setattr(OnnxBackendNodeModelTest, _name, pytest.mark.xfail(reason=_why, strict=True)(_func))

OnnxBackendNodeModelTest = pytest.mark.conformance(OnnxBackendNodeModelTest)
