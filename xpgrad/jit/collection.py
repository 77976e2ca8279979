"""Python's cyclic garbage collector while ``xg.function`` traces: a long trace holds tens of
thousands of small objects (steps, slots, stand-ins), and every collection of the oldest
generation walks all of them -- at 100,000 recorded steps half the recording time went there.

``collection_paused`` turns the collector off for the program passes (no user code runs
there, and they make no cycles); ``full_collections_deferred`` leaves the younger generations
collected while the traced function runs (its own cyclic garbage is freed as eagerly) and
holds back collections of the oldest one until the trace ends.

>>> import gc
>>> before = gc.get_threshold()
>>> with full_collections_deferred():
...     during = gc.get_threshold()
>>> during[:2] == before[:2], during[2] > before[2], gc.get_threshold() == before
(True, True, True)
"""
from __future__ import annotations

import contextlib
import gc

#: the oldest generation's threshold during a trace: no full collection before it ends
_DEFERRED = 1 << 30


@contextlib.contextmanager
def collection_paused():
    """The cyclic collector off for the block (back on after, if it was on)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def full_collections_deferred():
    """No collection of the oldest generation during the block (the younger ones as usual)."""
    thresholds = gc.get_threshold()
    if len(thresholds) < 3 or thresholds[0] == 0:     # off (threshold 0), or another collector
        yield
        return
    gc.set_threshold(thresholds[0], thresholds[1], _DEFERRED)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
