"""``profile``, the context that collects events, and ``record_function``, a user's range.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0])
>>> with xg.profiler.profile() as prof:
...     with xg.profiler.record_function("my step"):
...         y = xg.exp(x) * 2.0
>>> sorted((r.key, r.phase, r.count) for r in prof.key_averages())
[('exp', 'forward', 1), ('multiply', 'forward', 1), ('my step', 'user', 1)]
"""
from __future__ import annotations

import functools
from time import perf_counter_ns

from . import hooks
from .averages import key_averages
from .chrome_trace import write_chrome_trace
from .recorder import ACTIVE, begin, end


class profile:
    """Collect, while inside, the time of every eager op (per primitive: forward, backward
    rule, optimizer update; backend kernel or generic rule), each backward walk and
    ``apply_gradients`` calls, ``xg.function`` calls, traces and replay steps, and
    ``record_function`` ranges (docs/profiling.md).

    ``record_shapes``: keep each call's array argument shapes (``key_averages(
    group_by_input_shape=True)`` groups by them). ``synchronize``: wait for the device before
    each time read, so a GPU op's time is its work, not its launch: True synchronizes every
    backend made so far that queues work (CuPy's), or pass a function to call.

    Outside a profile nothing is timed and nothing checks for one: the wrappers are put in at
    the first ``__enter__`` and taken out at the last ``__exit__``, also when the block raises.
    Profiles may nest (each gets every event of its span); the ops of every thread are
    recorded, each thread's events nested on their own.

    >>> import xpgrad as xg
    >>> with xg.profiler.profile(record_shapes=True) as prof:
    ...     _ = xg.sum(xg.ones((2, 3)))
    >>> [(e.name, e.shapes) for e in prof.events()]
    [('sum', ((2, 3),))]
    """

    def __init__(self, *, record_shapes=False, synchronize=False):
        if not isinstance(record_shapes, bool):
            raise TypeError(f"record_shapes must be True or False, got {record_shapes!r}")
        if not (isinstance(synchronize, bool) or callable(synchronize)):
            raise TypeError("synchronize must be True, False or a function to call before "
                            f"each time read, got {synchronize!r}")
        self.record_shapes = record_shapes
        self.synchronize = synchronize
        self.sync = None
        self._events: list = []
        self._span = None
        self._entered = False

    def __enter__(self):
        if self._entered:
            raise RuntimeError("a profile is entered once; make a new xg.profiler.profile() "
                               "for another span")
        self._entered = True
        self.sync = _sync_function(self.synchronize)
        with hooks._lock:
            ACTIVE.append(self)
            hooks.install()
        self._span = [perf_counter_ns(), None]
        return self

    def __exit__(self, *exc):
        self._span[1] = perf_counter_ns()
        with hooks._lock:
            ACTIVE.remove(self)
            if not ACTIVE:
                hooks.uninstall()
        return False

    def add(self, event) -> None:
        """Keep one event (``recorder.end`` calls this)."""
        self._events.append(event)

    def events(self) -> list:
        """The events collected, in the order they ended (``recorder.Event``)."""
        return list(self._events)

    def key_averages(self, group_by_input_shape=False):
        """The events summed per name, phase and implementation (and input shapes where
        ``group_by_input_shape``): rows with a ``table(sort_by=..., row_limit=...)``.

        >>> import xpgrad as xg
        >>> with xg.profiler.profile() as prof:
        ...     _ = xg.exp(xg.ones(3))
        >>> "exp" in prof.key_averages().table(sort_by="cpu_time_total", row_limit=5)
        True
        """
        if group_by_input_shape and not self.record_shapes:
            raise ValueError("group_by_input_shape=True needs a profile made with "
                             "record_shapes=True")
        return key_averages(self._events, group_by_input_shape)

    def export_chrome_trace(self, path) -> None:
        """Write the events to ``path`` as a Chrome trace (JSON), which Perfetto
        (ui.perfetto.dev) and chrome://tracing open.

        >>> import json, os, tempfile, xpgrad as xg
        >>> with xg.profiler.profile() as prof:
        ...     _ = xg.exp(xg.ones(3))
        >>> path = os.path.join(tempfile.mkdtemp(), "trace.json")
        >>> prof.export_chrome_trace(path)
        >>> [e["name"] for e in json.load(open(path))["traceEvents"] if e["ph"] == "X"]
        ['exp']
        """
        if self._span is None:
            raise RuntimeError("this profile has not run yet: export its trace after the "
                               "`with` block")
        write_chrome_trace(path, self._events, self._span[0])


def _sync_function(synchronize):
    if callable(synchronize) and not isinstance(synchronize, bool):
        return synchronize
    if not synchronize:
        return None
    from ..backend import Backend, _instances

    queues = [be.synchronize for be in list(_instances.values())
              if type(be).synchronize is not Backend.synchronize]
    if not queues:
        return None

    def sync():
        for wait in queues:
            wait()
    return sync


class record_function:
    """A named range of the user's (phase ``"user"``) in the profiles active around it: a
    context manager, or a decorator timing each call. Outside a profile it costs one check.

    >>> import xpgrad as xg
    >>> @xg.profiler.record_function("loss")
    ... def loss(x):
    ...     return xg.sum(x * x)
    >>> with xg.profiler.profile() as prof:
    ...     _ = loss(xg.ones(2))
    >>> [(e.name, e.depth) for e in prof.events()]
    [('multiply', 1), ('sum', 1), ('loss', 0)]
    """

    def __init__(self, name):
        if not isinstance(name, str) or not name:
            raise TypeError(f"record_function's name must be a non-empty string, got {name!r}")
        self.name = name
        self._starts = []       # one per open use (a `with` of this object inside another)

    def __enter__(self):
        self._starts.append(begin() if ACTIVE else None)
        return self

    def __exit__(self, *exc):
        start = self._starts.pop()
        if start is not None:
            end(start, self.name, "user", "")
        return False

    def __call__(self, fn):
        name = self.name

        @functools.wraps(fn)
        def ranged(*args, **kwargs):
            if not ACTIVE:
                return fn(*args, **kwargs)
            start = begin()
            try:
                return fn(*args, **kwargs)
            finally:
                end(start, name, "user", "")
        return ranged


__all__ = ["profile", "record_function"]
