"""The RetracingWarning of a Function meeting a new signature on nearly every call names the
Python number argument whose value changes and the fix (before 2026-12-07 it named neither: a
learning rate from a schedule passed as a float ran every call eagerly)."""
import numpy as np
import pytest

import xpgrad as xg


def _ones():
    return xg.asarray(np.ones(3))


def test_the_churn_warning_names_the_argument_whose_value_changes():
    # a learning rate passed as a Python float from a schedule: a new signature every call
    def step(x, lr):
        return x * lr

    compiled = xg.function(step, retrace_warning=2)
    with pytest.warns(xg.jit.RetracingWarning) as seen:
        for k in range(10):
            compiled(_ones(), 0.1 * 0.9 ** k)
    message = str(seen[0].message)
    assert "'lr'" in message and f"{0.1 * 0.9 ** 6!r} -> {0.1 * 0.9 ** 7!r}" in message
    assert "xg.asarray" in message
