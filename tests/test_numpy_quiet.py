"""``backends/numpy/quiet.py``: the kinds named are silenced, the others keep the state they
had (a caller's ``np.errstate(all="raise")`` included), and ``restore`` brings that state
back, also after an error inside; a state made in one context does not leak into another."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from xpgrad.backends.numpy.quiet import OVER, restore, silence

BIG = np.float32(100.0)


def test_silences_the_kinds_named_and_keeps_the_others():
    with np.errstate(all="raise"):
        token = silence(OVER)
        try:
            assert np.exp(BIG) == np.inf
            with pytest.raises(FloatingPointError):
                np.divide(np.float32(1.0), np.float32(0.0))
        finally:
            restore(token)
        with pytest.raises(FloatingPointError):
            np.exp(BIG)


def test_restores_after_an_error_and_in_a_new_state_each_time():
    for _ in range(3):                     # each errstate entered makes a new current state
        with np.errstate(over="raise"):
            token = silence(("over", "invalid"))
            try:
                assert np.isnan(np.subtract(np.inf, np.inf))
                raise KeyError("inside")
            except KeyError:
                pass
            finally:
                restore(token)
            with pytest.raises(FloatingPointError):
                np.exp(BIG)


def test_another_thread_keeps_its_own_state():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(np.geterr()["over"]))
    token = silence(OVER)
    try:
        assert np.geterr()["over"] == "ignore"
        thread.start()
        thread.join()
    finally:
        restore(token)
    assert seen == [np.geterr()["over"]] != ["ignore"]      # a global setting would leak
