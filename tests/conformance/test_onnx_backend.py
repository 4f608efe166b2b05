"""onnx's backend conformance node tests, run through onnxjit (selection: include.py).

Only the foundation-set tests named by include.py become pytest cases: the other ~1,800 node tests
and the CUDA duplicates are dropped rather than reported as thousands of skips.
"""
from __future__ import annotations

import unittest
import warnings

import onnx.backend.test
import pytest

from tests.conformance.harness import ConformanceBackend
from tests.conformance.include import exclusion_reason, known_failure, op_of

with warnings.catch_warnings():
    # Generating the cases (cast/reduce expectations) warns about overflow and log(0) on purpose.
    warnings.simplefilter("ignore", RuntimeWarning)
    _backend_test = onnx.backend.test.BackendTest(ConformanceBackend, __name__)

OnnxBackendNodeModelTest = _backend_test.test_cases["OnnxBackendNodeModelTest"]
for _name in [n for n in vars(OnnxBackendNodeModelTest) if n.startswith("test_")]:
    _func = getattr(OnnxBackendNodeModelTest, _name)
    if not _name.endswith("_cpu") or op_of(_name) is None:
        delattr(OnnxBackendNodeModelTest, _name)
    elif (_why := exclusion_reason(_name)) is not None:
        setattr(OnnxBackendNodeModelTest, _name, unittest.skip(f"excluded: {_why}")(_func))
    elif (_why := known_failure(_name)) is not None:
        setattr(OnnxBackendNodeModelTest, _name, pytest.mark.xfail(reason=_why, strict=True)(_func))

OnnxBackendNodeModelTest = pytest.mark.conformance(OnnxBackendNodeModelTest)
