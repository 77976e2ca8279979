"""A profile's events as a Chrome trace (the Trace Event Format's JSON object form), which
Perfetto (ui.perfetto.dev) and chrome://tracing open: one complete event (``"ph": "X"``) per
timed call, ``ts`` and ``dur`` in microseconds from the profile's start, the process and
thread ids, the phase as ``cat``, and ``args`` with the implementation and input shapes.

>>> from xpgrad.profiler.recorder import Event
>>> doc = chrome_trace([Event("exp", "forward", "kernel", 2000, 500, 500, 7, 0, ((3,),))], 0)
>>> event = doc["traceEvents"][-1]
>>> event["ph"], event["ts"], event["dur"], event["tid"], event["args"]
('X', 2.0, 0.5, 7, {'implementation': 'kernel', 'input_shapes': [[3]]})
"""
from __future__ import annotations

import json
import os


def chrome_trace(events, origin_ns) -> dict:
    """The trace of ``events`` (``recorder.Event``), times from ``origin_ns``."""
    pid = os.getpid()
    out = [{"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
            "args": {"name": "xpgrad"}}]
    # parents before their children where they start together: viewers nest by order
    for e in sorted(events, key=lambda e: (e.start_ns, e.depth)):
        args = {"implementation": e.impl} if e.impl else {}
        if e.shapes is not None:
            args["input_shapes"] = [None if s is None else list(s) for s in e.shapes]
        out.append({"name": e.name, "cat": e.phase, "ph": "X",
                    "ts": (e.start_ns - origin_ns) / 1e3, "dur": e.dur_ns / 1e3,
                    "pid": pid, "tid": e.tid, "args": args})
    return {"traceEvents": out, "displayTimeUnit": "ms"}


def write_chrome_trace(path, events, origin_ns) -> None:
    """Write ``chrome_trace(events, origin_ns)`` to ``path`` as JSON."""
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(chrome_trace(events, origin_ns), f)


__all__ = ["chrome_trace", "write_chrome_trace"]
