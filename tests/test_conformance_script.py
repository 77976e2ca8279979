"""tools/array_api_conformance.py without the suite: counting, failures, the table, and the
refusal of a path that is no checkout of the suite."""
from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "tools" / "array_api_conformance.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("array_api_conformance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPORT = {"tests": [
    {"nodeid": "array_api_tests/test_linalg.py::test_det", "outcome": "passed"},
    {"nodeid": "array_api_tests/test_linalg.py::test_inv", "outcome": "failed",
     "call": {"crash": {"message": "AssertionError: out.dtype=float64, but should be float32\n"
                                   "more"}}},
    {"nodeid": "array_api_tests/test_linalg.py::test_qr", "outcome": "skipped"},
    {"nodeid": "array_api_tests/test_fft.py::test_fft", "outcome": "error",
     "setup": {"longrepr": "ImportError: no fft"}},
]}


def test_counts_and_failures(script):
    areas = script.summarize(REPORT)
    assert areas == {"test_linalg": {"passed": 1, "failed": 1, "skipped": 1},
                     "test_fft": {"passed": 0, "failed": 1, "skipped": 0}}
    assert script.failures(REPORT) == [
        ("test_inv", "AssertionError: out.dtype=float64, but should be float32"),
        ("test_fft", "ImportError: no fft")]
    assert script.share(areas["test_linalg"]) == "50.0%"
    assert script.share({"passed": 0, "failed": 0, "skipped": 3}) == "n/a"


def test_table(script):
    results = {"numpy": {"areas": script.summarize(REPORT), "failures": script.failures(REPORT)}}
    table = script.markdown(results, {"commit": "def5678", "suite_commit": "abc1234",
                                      "version": "2023.12", "max_examples": 20,
                                      "date": "2026-12-01"})
    assert table.startswith("Run on 2026-12-01 at xpgrad commit `def5678`, suite commit "
                            "`abc1234`, API version 2023.12, 20 examples per test")
    assert "| test_linalg | 1/2 (50.0%), 1 skipped |" in table
    assert "| **all** | **1/3 (33.3%)**, 1 skipped |" in table
    assert "- `test_inv`: AssertionError: out.dtype=float64" in table


def test_refuses_a_path_that_is_not_the_suite(script, tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.main([str(tmp_path)])
    assert "is not a checkout of array-api-tests" in capsys.readouterr().err


def test_docstring(script):
    assert doctest.testmod(script).failed == 0
