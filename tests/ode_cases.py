"""What the tests of odeint's captured paths share (test_ode_paths.py, test_ode_captures.py):
float64 tensors, the Lotka-Volterra system, and ``fresh_captures``, an autouse fixture (active
in a module that imports it) so that each test starts with no capture kept from an earlier
odeint call."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import ode_captures


@pytest.fixture(autouse=True)
def fresh_captures():
    """Each test starts with no capture kept from an earlier odeint call."""
    ode_captures.clear()
    yield
    ode_captures.clear()


def f64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


def lotka_volterra(state, t, params):
    return xg.stack([params[0] * state[0] - params[1] * state[0] * state[1],
                     params[2] * state[0] * state[1] - params[3] * state[1]])
