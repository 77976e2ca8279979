"""What a test leaves behind for the later tests of its process: folders on ``sys.path``
(conftest.py's ``pytest_runtest_teardown`` errors such a test) and tqdm's monitor thread (conftest.py
sets ``tqdm.tqdm.monitor_interval = 0``)."""
from __future__ import annotations

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
