"""How long a rank waits in a collective for the others: a note on stderr after
``XPGRAD_DIST_STALL_WARNING`` seconds (60 by default, Horovod's stall check), and, with a
timeout (``init(timeout=...)`` or ``XPGRAD_DIST_TIMEOUT``), the text of a DistributedError
(raised by ``MPIWorld.wait``) once it has passed -- which ends the job, as PyTorch's
process-group timeout and Horovod's stall shutdown do, where a rank stuck outside
xpgrad.distributed (a deadlocked loader, a debugger, an endless loop) left the others
waiting forever.

>>> watch = StallWatch(rank=0, what="barrier()", warn_after=None, timeout=None)
>>> watch.check(1e9)        # neither a note nor a limit: waits on
"""
from __future__ import annotations

import math
import os
import sys
from datetime import timedelta

STALL_WARNING_VARIABLE = "XPGRAD_DIST_STALL_WARNING"
TIMEOUT_VARIABLE = "XPGRAD_DIST_TIMEOUT"
#: seconds before the note, as Horovod's HOROVOD_STALL_CHECK_TIME_SECONDS
DEFAULT_STALL_WARNING = 60.0


def seconds_or_none(value, name):
    """``value`` as a finite number of seconds > 0, a ``datetime.timedelta`` too (PyTorch's
    ``init_process_group(timeout=)``); None, "", "none" or "0" as None (no limit).

    >>> from datetime import timedelta
    >>> seconds_or_none("2.5", "timeout"), seconds_or_none(None, "timeout")
    (2.5, None)
    >>> seconds_or_none(timedelta(minutes=30), "timeout")
    1800.0
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "0")):
        return None
    try:
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{name} must be a finite number of seconds > 0 (or None: no limit), "
                         f"got {value!r}")
    return seconds


def stall_settings(timeout=None, environ=None):
    """``(warn_after, timeout)`` in seconds (None: never): ``timeout`` as given, else
    ``XPGRAD_DIST_TIMEOUT``; the note after ``XPGRAD_DIST_STALL_WARNING`` seconds (default 60,
    "0" for none), and never later than half the timeout.

    >>> stall_settings(10, environ={})
    (5.0, 10.0)
    >>> stall_settings(environ={"XPGRAD_DIST_STALL_WARNING": "0"})
    (None, None)
    """
    env = os.environ if environ is None else environ
    if timeout is None:
        timeout = seconds_or_none(env.get(TIMEOUT_VARIABLE), TIMEOUT_VARIABLE)
    else:
        timeout = seconds_or_none(timeout, "timeout")
    warn_after = seconds_or_none(env.get(STALL_WARNING_VARIABLE, DEFAULT_STALL_WARNING),
                                 STALL_WARNING_VARIABLE)
    if warn_after is not None and timeout is not None:
        warn_after = min(warn_after, timeout / 2)
    return warn_after, timeout


class StallWatch:
    """One wait of rank ``rank`` in ``what``: ``check(waited)`` writes the note once past
    ``warn_after`` seconds and returns the error's text past ``timeout`` (None: never)."""

    def __init__(self, rank, what, warn_after, timeout):
        self.rank, self.what = rank, what
        self.warn_after, self.timeout = warn_after, timeout
        self.warned = False
        self.roll = None        # which ranks it waits for (roll_call.py), once asked

    def due(self, waited: float) -> bool:
        """Whether the note is to be written now (the moment for a roll call).

        >>> StallWatch(0, "barrier()", 60.0, None).due(61.0)
        True
        """
        return not self.warned and self.warn_after is not None and waited > self.warn_after

    def check(self, waited: float):
        """Write the note, once, for a wait of ``waited`` seconds so far; past the timeout,
        return the text of the error to raise (else None).

        >>> print(StallWatch(1, "allreduce()", None, 5.0).check(6.0))
        rank 1 has waited 6 s in allreduce() for the other ranks, more than its timeout of 5 s \
(init(timeout=...), XPGRAD_DIST_TIMEOUT): a rank is stuck outside xpgrad.distributed, much \
slower than the others, or never makes this call
        """
        roll = f" ({self.roll})" if self.roll else ""
        if self.timeout is not None and waited > self.timeout:
            return (f"rank {self.rank} has waited {waited:.0f} s in {self.what} for the other "
                    f"ranks{roll}, more than its timeout of {self.timeout:g} s (init(timeout="
                    f"...), {TIMEOUT_VARIABLE}): a rank is stuck outside xpgrad.distributed, "
                    f"much slower than the others, or never makes this call")
        if self.due(waited):
            self.warned = True
            limit = (f"it gives up after {self.timeout:g} s" if self.timeout is not None else
                     f"init(timeout=...) or {TIMEOUT_VARIABLE} makes it give up")
            why = roll or (" (one stuck, much slower, or in no call of xpgrad.distributed?)")
            print(f"[rank {self.rank}] xpgrad.distributed: waiting {waited:.0f} s so far in "
                  f"{self.what} for the other ranks{why}; {limit}", file=sys.stderr,
                  flush=True)
        return None
