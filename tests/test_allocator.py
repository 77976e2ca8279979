"""xpgrad.allocator: glibc's malloc thresholds set at import, so that a loop freeing several
large arrays per iteration does not hand them back to the system and fault them in again."""
import os
import subprocess
import sys

import pytest

from xpgrad import allocator

# one iteration frees 24 MiB at the heap's top: above glibc's trim threshold (16 MiB after the
# 8 MiB block) unless xpgrad raised it; prints the minor page faults per iteration
LOOP = """
import resource, numpy as np, xpgrad
from xpgrad import allocator
big = np.ones(2 << 20, np.float32); del big           # 8 MiB: glibc's adaptive thresholds rise
def iteration():
    arrays = [np.ones(1 << 18, np.float32) for _ in range(24)]   # 24 x 1 MiB, written
    del arrays
for _ in range(3):
    iteration()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    iteration()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20, allocator.STATE)
"""

glibc_only = pytest.mark.skipif(not allocator._libc_version().startswith("glibc"),
                                reason="the tuning applies to glibc only")


def _faults(**env):
    full = {k: v for k, v in os.environ.items()
            if not (k.startswith("MALLOC_") or k in ("GLIBC_TUNABLES", allocator.ENV))}
    out = subprocess.run([sys.executable, "-c", LOOP], env=dict(full, **env),
                         capture_output=True, text=True, check=True).stdout.split(maxsplit=1)
    return float(out[0]), out[1].strip()


@glibc_only
def test_import_keeps_freed_arrays_for_the_next_iteration():
    tuned, state = _faults()
    assert state.startswith("tuned: mmap threshold 32 MiB"), state
    untuned, state_off = _faults(XPGRAD_MALLOC_TUNING="0")
    assert state_off == "off: XPGRAD_MALLOC_TUNING=0"
    pages = 24 * (1 << 20) // 4096
    assert untuned > 0.5 * pages, untuned      # without: most pages written are faulted again
    assert tuned < 0.05 * pages, tuned          # with: the heap keeps them


@glibc_only
def test_a_user_setting_wins():
    faults, state = _faults(MALLOC_TRIM_THRESHOLD_="1048576")
    assert state == "off: MALLOC_TRIM_THRESHOLD_ is set"


@pytest.mark.parametrize("environ, libc, expected", [
    ({}, "glibc 2.36", "tuned"),
    ({"XPGRAD_MALLOC_TUNING": "1"}, "glibc 2.17", "tuned"),
    ({"XPGRAD_MALLOC_TUNING": " 0 "}, "glibc 2.36", "off: XPGRAD_MALLOC_TUNING=0"),
    ({"MALLOC_TOP_PAD_": "0"}, "glibc 2.36", "off: MALLOC_TOP_PAD_ is set"),
    ({"MALLOC_CHECK_": "3"}, "glibc 2.36", "off: MALLOC_CHECK_ is set"),
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}, "glibc 2.36",
     "off: GLIBC_TUNABLES sets glibc.malloc"),
    ({"GLIBC_TUNABLES": "glibc.pthread.rseq=0"}, "glibc 2.36", "tuned"),
    ({}, "", "off: the C library is not glibc"),
])
def test_plan(environ, libc, expected):
    assert allocator.plan(environ, libc) == expected


def test_tune_with_an_explicit_environment_leaves_the_import_state_alone():
    before = allocator.STATE
    assert allocator.tune({"XPGRAD_MALLOC_TUNING": "0"}) == "off: XPGRAD_MALLOC_TUNING=0"
    assert allocator.STATE == before
