"""``XPGRAD_TEST_SHUFFLE=<seed>`` (tests/conftest.py) runs the suite in a shuffled order that the
seed reproduces, to find tests that pass only in some orders; unset, the order is pytest's."""
import doctest
import os
import subprocess
import sys
from pathlib import Path

import conftest

ROOT = Path(__file__).resolve().parents[1]
#: eight plain tests (an order is visible) in a file that imports neither PyTorch nor
#: Hypothesis: each collection here is a fresh interpreter, and those imports were most of it
COLLECTED = "tests/test_optim_state_dict.py"


def _collected(seed=None):
    env = {k: v for k, v in os.environ.items() if k != "XPGRAD_TEST_SHUFFLE"}
    if seed is not None:
        env["XPGRAD_TEST_SHUFFLE"] = seed
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider", "-p", "no:hypothesispytest", COLLECTED], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    ids = [line for line in run.stdout.splitlines() if line.startswith(COLLECTED + "::")]
    return run, ids


def test_a_seed_shuffles_the_collected_tests_the_same_way_in_every_process():
    _, plain = _collected()
    _, seeded = _collected("3")
    assert len(plain) > 5
    assert seeded != plain and sorted(seeded) == sorted(plain)
    assert seeded == conftest.shuffled(plain, "3")     # drawn alike here: as xdist requires


def test_a_seed_that_is_not_an_integer_is_refused_by_name():
    run, _ = _collected("abc")
    assert run.returncode == 4, run.stdout + run.stderr
    assert "XPGRAD_TEST_SHUFFLE must be a non-negative integer, got 'abc'" in run.stderr


def test_the_helper_draws_a_permutation():
    items = list(range(50))
    assert sorted(conftest.shuffled(items, "7")) == items
    assert conftest.shuffled(items, "7") == conftest.shuffled(items, "7")
    assert conftest.shuffled(items, "7") != conftest.shuffled(items, "8")
    assert doctest.testmod(conftest).failed == 0
