"""The layer benchmarks' interleaved comparison (benchmarks/interleaved.py) counts the
process's CPU time, not wall time: on a shared machine a call that other processes preempt
takes their time-slices into its wall time, and once most calls are preempted the median is
mostly theirs (an eager GRU step beside a PyTorch step read 5.5 ms for its 2.0 ms of CPU).
A step that sleeps spends wall time and almost no CPU, so it shows which clock was read.
"""
import importlib
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SLEEP_S = 0.03


@pytest.fixture
def interleaved(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return importlib.import_module("interleaved")


def _sleeping_step():
    time.sleep(SLEEP_S)
    return np.zeros(3)


def _compare(interleaved, **clock):
    steps = {"numpy": _sleeping_step, "torch": _sleeping_step}
    rows = interleaved.compare([("sleep", steps)], ["numpy"], rounds=1, repeats=3, tol=0.0,
                               show=False, **clock)
    return rows[0][1]


def test_compare_counts_cpu_time_so_time_spent_off_the_cpu_is_left_out(interleaved):
    best = _compare(interleaved)
    assert best["numpy"] < 1e3 * SLEEP_S / 2 and best["torch"] < 1e3 * SLEEP_S / 2, best


def test_compare_with_the_wall_clock_counts_the_time_off_the_cpu(interleaved):
    best = _compare(interleaved, clock=time.perf_counter)
    assert best["numpy"] >= 1e3 * SLEEP_S and best["torch"] >= 1e3 * SLEEP_S, best


@pytest.mark.parametrize("script", ["axis_sums", "multi_margin", "conv_layout"])
def test_the_scripts_timing_single_calls_read_the_cpu_clock_by_default(interleaved, script):
    timed = importlib.import_module(script).median_ms
    assert timed is interleaved.median_ms
    assert timed(lambda: time.sleep(SLEEP_S), 3) < 1e3 * SLEEP_S / 2
    assert timed(lambda: time.sleep(SLEEP_S), 3, clock=time.perf_counter) >= 1e3 * SLEEP_S
