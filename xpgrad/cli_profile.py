"""``xpgrad train --profile PATH``: the run under ``xg.profiler.profile``, its Chrome trace
written to PATH and its costliest ops printed on stderr (stdout keeps the run's results).
Without ``--max-steps`` such a run stops after ``PROFILE_STEPS`` optimizer steps: a profile
wants a few steps, not an epoch.

>>> import json, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "trace.json")
>>> import xpgrad as xg
>>> run_profiled(path, lambda: xg.sum(xg.ones(2)).item(), write=lambda text: None)
2.0
>>> [e["name"] for e in json.load(open(path))["traceEvents"] if e["ph"] == "X"]
['sum']
"""
from __future__ import annotations

import os
import sys

#: optimizer steps of a ``--profile`` run given no ``--max-steps``
PROFILE_STEPS = 20
#: rows of the table printed at the end
TABLE_ROWS = 15


def check_profile_path(path):
    """The error message for a ``--profile`` path that cannot be written, else None."""
    if not path:
        return "--profile is empty; give the path of the trace to write"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"--profile {path!r}: the folder {folder!r} does not exist"
    if os.path.isdir(path):
        return f"--profile {path!r} is a folder; give the path of a file to write"
    return None


def run_profiled(path, run, write=None):
    """``run()`` profiled: its result; the trace goes to ``path`` and the table to ``write``
    (stderr's) also when ``run`` raises (an interrupted run shows where it was)."""
    from .profiler import profile

    write = write or sys.stderr.write
    prof = profile(record_shapes=True)
    try:
        with prof:
            return run()
    finally:
        prof.export_chrome_trace(path)
        write(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=TABLE_ROWS)
              + f"\nxpgrad: wrote the profile's trace to {path} (open it in ui.perfetto.dev)\n")
