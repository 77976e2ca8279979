"""What a test leaves behind for the later tests of its process: folders on ``sys.path``
(conftest.py's ``pytest_runtest_teardown`` errors such a test), tqdm's monitor thread (conftest.py
sets ``tqdm.tqdm.monitor_interval = 0``) and JAX's 64-bit switch (a test file turning
``jax_enable_x64`` on for the whole process made later JAX comparisons float64 or not by test
order: the ``jax`` fixture of conftest.py scopes it to a module, ``jax.enable_x64(True)`` to a
block)."""
from __future__ import annotations

import ast
import pathlib
import sys
import threading

import pytest

from conftest import REPOSITORY, repository_folders_added

pytest_plugins = ["pytester"]


def test_a_repository_folder_left_on_sys_path_is_found(monkeypatch):
    before = list(sys.path)
    monkeypatch.syspath_prepend(f"{REPOSITORY}/benchmarks")
    monkeypatch.syspath_prepend("/some/other/place")
    assert repository_folders_added(before) == [f"{REPOSITORY}/benchmarks"]
    monkeypatch.undo()
    assert repository_folders_added(before) == []


def test_a_test_leaving_one_errors_and_the_path_is_put_back(pytester):
    pytester.makeconftest(f"""
        import importlib.util

        spec = importlib.util.spec_from_file_location("suite_conftest", {__file__!r}
                                                      .replace("test_suite_hygiene", "conftest"))
        suite = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(suite)
        pytest_runtest_setup = suite.pytest_runtest_setup
        pytest_runtest_teardown = suite.pytest_runtest_teardown
        """)
    pytester.makepyfile(f"""
        import sys

        def test_leaves():
            sys.path.insert(0, {REPOSITORY + "/benchmarks"!r})

        def test_takes_it_off(monkeypatch):
            monkeypatch.syspath_prepend({REPOSITORY + "/tools"!r})
        """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*test_leaves left *benchmarks* on sys.path*"])
    assert f"{REPOSITORY}/benchmarks" not in sys.path


def test_the_test_modules_imported_leave_no_repository_folder_on_sys_path():
    # tools/gpu_check.py and asv_gate.py put tools/ on the path for their own imports when
    # test_gpu_check.py and test_asv_tools.py load them; test_bad_inputs.py put tests/ there
    # twice
    for name in ("test_gpu_check", "test_bad_inputs", "test_fused_range", "test_asv_tools",
                 "test_asv_gate_pairs"):
        pytest.importorskip(name)
    assert sys.path.count(f"{REPOSITORY}/tests") <= 1, sys.path
    assert f"{REPOSITORY}/tools" not in sys.path, sys.path


def test_a_progress_bar_leaves_no_monitor_thread(capsys):
    tqdm = pytest.importorskip("tqdm")
    for _ in tqdm.tqdm(range(3)):
        pass
    from xpgrad.training import TrainConfig, train

    train(TrainConfig(epochs=1, hidden=(8,), max_steps=2, progress=True), echo=None)
    assert not [t for t in threading.enumerate() if type(t).__name__ == "TMonitor"]


def _global_x64_switches(source: str) -> list:
    """The lines of ``source`` calling ``<anything>.update("jax_enable_x64", ...)``: JAX's
    64-bit switch turned for the rest of the process (a comment naming it is no call)."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "update" and node.args
            and isinstance(node.args[0], ast.Constant) and node.args[0].value == "jax_enable_x64"]


def test_the_finder_of_global_x64_switches_finds_one_and_not_a_comment():
    source = ("import jax\n# jax.config.update('jax_enable_x64', True)\n"
              "jax.config.update('jax_enable_x64', True)\n")
    assert _global_x64_switches(source) == [3]
    assert _global_x64_switches("with jax.enable_x64(True):\n    pass\n") == []


def test_no_test_file_turns_on_jax_x64_for_the_whole_process():
    """Only conftest.py's ``jax`` fixture (or a ``with jax.enable_x64(True):`` block) turns it
    on, so the result of a JAX comparison cannot depend on which test ran before."""
    tests = pathlib.Path(__file__).parent
    found = [f"{path.relative_to(tests)}:{line}" for path in sorted(tests.rglob("*.py"))
             if path.name != "conftest.py"
             for line in _global_x64_switches(path.read_text(encoding="utf-8"))]
    assert found == [], f"use the jax fixture of conftest.py instead: {found}"
