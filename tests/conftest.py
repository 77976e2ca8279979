import numpy as np
import pytest

import xpgrad as xg


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def f64(a):
    return xg.asarray(np.asarray(a, dtype=np.float64))
