"""Every test draws the same random numbers on every run: before its setup and again before
its call, ``seed_test`` seeds ``xg.random`` (the Generators made without a seed: layer inits,
``Dropout`` without ``rng=``), NumPy's global ``np.random`` and Python's ``random`` from the
test's id (as pytest-randomly does), so a tolerance that a random init decides fails every run
or none, and the test's own draws do not depend on which tests or fixtures ran before it.
``unseed`` gives all three fresh entropy again after the test.

>>> seed_test("tests/test_x.py::test_a")
>>> a = xg.random.default_rng().normal(size=2).tolist()
>>> seed_test("tests/test_x.py::test_a")
>>> xg.random.default_rng().normal(size=2).tolist() == a
True
>>> unseed()
"""
from __future__ import annotations

import os
import random
import zlib

import numpy as np

import xpgrad as xg


def seed_of(nodeid: str) -> int:
    """The seed of the test ``nodeid``: a stable hash (not Python's ``hash``, which varies per
    process), the same in every xdist worker."""
    return zlib.crc32(nodeid.encode())


def seed_test(nodeid: str) -> None:
    seed = seed_of(nodeid)
    xg.random.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def unseed() -> None:
    xg.random.seed(None)
    # seeds from the OS's entropy: np.random.seed(None) takes 60 times as long (0.3 ms a test)
    fresh = int.from_bytes(os.urandom(4), "little")
    np.random.seed(fresh)
    random.seed(fresh)
