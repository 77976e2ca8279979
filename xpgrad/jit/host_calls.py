"""Calls a trace makes that a replay will not make again (``HostCalls``): ``print``, a read of
the clock (``time.time()``, ``time.perf_counter()``, ``datetime.now()``) and a ``logging`` call
(``logging.info``, ``logger.warning``) by the user's code. A replay runs no Python, so a print
prints and a log line logs on the trace only, and a time read is a constant of the program (the
trace's time): ``found`` names the first one and its line for a ``SideEffectWarning``.

Only a function whose code, or a helper's it reaches, names one of them (``MAY_CALL``) is
watched, and only while it traces: ``sys.setprofile`` on the tracing thread, as long as no
profiler is set there already. A replay pays nothing.

>>> import io, contextlib
>>> calls = HostCalls(lambda: None, {"print"})
>>> with calls.watched(), contextlib.redirect_stdout(io.StringIO()):
...     print("loss")
>>> calls.found()[0].startswith("the function called print()")
True
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import os
import sys
import time

from .errors import _SKIP, _in_library
from .name_guards import _INSTALLED

_CLOCKS = frozenset(("time", "perf_counter", "monotonic", "process_time", "time_ns",
                     "perf_counter_ns", "monotonic_ns"))
_DATES = frozenset(("now", "utcnow", "today"))
#: the names a function's code reads to make such a call (a loose test: it only turns the
#: watch on; not ``log``, which ``xg.log`` shares)
MAY_CALL = _CLOCKS | _DATES | {"print", "debug", "info", "warning", "error", "critical",
                               "exception"}
_LOGGING = {getattr(owner, level).__code__
            for owner in (logging.Logger, logging.LoggerAdapter, logging)
            for level in ("debug", "info", "warning", "error", "critical", "exception", "log")}

_PRINTS = ("the function called print() while tracing: a replay runs no Python, so it "
           "prints on the trace only, never on a replay. xg.print(...) (tf.print) or "
           "xg.debug.print('loss {x}', x=loss) (jax.debug.print) prints on every call, "
           "replays included, with that call's values; print(tensor) inside raises "
           "TraceError")
_LOGS = ("the function called logging while tracing: a replay runs no Python, so it logs "
         "on the trace only, never on a replay. Return the value and log it outside the "
         "function")
_CLOCK = ("the function read the clock ({}) while tracing: a replay runs no Python, so every "
          "replay sees the trace's time, a constant of the program. Read the time outside the "
          "function and pass it in as a tensor argument if the step needs it")


class HostCalls:
    """The watch of one trace of ``fn`` (module docstring); ``names``: the names its code and
    its helpers' read (name_guards.host_state; None: not walked, nothing watched)."""

    def __init__(self, fn, names):
        self.code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        self.named = names is not None and not MAY_CALL.isdisjoint(names)
        self.first = None

    @contextlib.contextmanager
    def watched(self):
        """Watch the calls the current thread makes inside the block."""
        if not self.named or sys.getprofile() is not None:     # a profiler's: left alone
            yield
            return
        sys.setprofile(self._profile)
        try:
            yield
        finally:
            if sys.getprofile() == self._profile:   # not one the user's code set meanwhile
                sys.setprofile(None)

    def _profile(self, frame, event, arg):
        if event == "c_call":
            # by identity: ``arg`` may be an array's method (==, hash: elementwise, none)
            owner = getattr(arg, "__self__", None)
            if arg is print:
                message = _PRINTS
            elif owner is time and arg.__name__ in _CLOCKS:
                message = _CLOCK.format(f"time.{arg.__name__}()")
            elif (owner is datetime.datetime or owner is datetime.date) and \
                    arg.__name__ in _DATES:
                message = _CLOCK.format(f"{owner.__name__}.{arg.__name__}()")
            else:
                return
        elif event == "call" and frame.f_code in _LOGGING:
            message, frame = _LOGS, frame.f_back
            while frame is not None and frame.f_code in _LOGGING:     # logging.info -> root
                frame = frame.f_back
        else:
            return
        if frame is not None and _users(frame.f_code.co_filename):
            self.first = message, called_at(frame, self.code)
            sys.setprofile(None)        # the first one is all the warning names

    def found(self):
        """``(message, where)`` of the first such call the user's code made, or None."""
        return self.first


def called_at(frame, code) -> str:
    """``file:line`` of ``frame``; where its code is not ``code`` (a helper's), with the line
    of the frame of ``code`` that called into it."""
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    if frame.f_code is code:
        return where
    caller = frame.f_back
    while caller is not None and caller.f_code is not code:
        caller = caller.f_back
    if caller is None:
        return where
    return (f"{where} in {frame.f_code.co_name!r}, called at "
            f"{caller.f_code.co_filename}:{caller.f_lineno}")


def _users(filename) -> bool:
    """Whether ``filename`` is the user's code: not xpgrad's, the standard library's or an
    installed package's."""
    return not filename.startswith(_SKIP) and not _in_library(filename) and \
        not filename.startswith("<frozen") and \
        not os.path.realpath(filename).startswith(_INSTALLED)


__all__ = ["HostCalls", "MAY_CALL"]
