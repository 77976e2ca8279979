"""The ``xg.function`` trace this thread runs now: ``THREAD.tracer`` (None outside one). A
module of its own, importing nothing of xpgrad, so that the code a trace must see (an
optimizer's ``apply_gradients`` and ``__init__``) checks it directly instead of being patched
on its class, which every thread shares (``xpgrad.jit.trace_state`` re-exports it).

>>> THREAD.tracer is None, RUNNING[0]
(True, 0)
"""
from __future__ import annotations

import threading


class _Traces(threading.local):
    #: the tracer of the trace this thread runs now (a traced function called inside another's
    #: trace is inlined into it), or None; other threads' traces are not this thread's business
    tracer = None


THREAD = _Traces()
#: how many traces run now, in all threads (a trace holds jit/lock.py's lock alone: 0 or 1):
#: eager code checks it before ``THREAD.tracer`` (a list's item: a quarter of the time of a
#: thread-local's attribute, 25 ns of 100)
RUNNING = [0]
#: how many ``xg.function`` calls run their function as Python now (eager warm-up calls, in all
#: threads): a module attribute set meanwhile is the function's own doing (nn/module.py)
CALLING = [0]


def recording_session():
    """The session of the trace this thread runs now, where it records (not paused), or None:
    what an optimizer made or stepped in a traced call reports to (``jit/capture.py``); eager
    callers test ``RUNNING[0]`` first."""
    tracer = THREAD.tracer
    if tracer is None or tracer.paused:
        return None
    return tracer.session
