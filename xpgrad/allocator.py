"""Keep glibc's malloc from returning a training step's large arrays to the system every step.

glibc serves a request of ``M_MMAP_THRESHOLD`` bytes or more (128 KiB at start) with its own
``mmap``, and gives the heap's free top back to the system once more than
``M_TRIM_THRESHOLD`` is free there. Both start low and rise on their own: the first time a large
mmap'd block is freed, the threshold becomes that block's size and the trim threshold twice it.
A training step, though, frees several arrays of the largest size at once (a weight gradient,
the update's temporary, ...): the free top passes the trim threshold, the heap shrinks, and the
next step takes a page fault for every 4 KiB it writes again. Whether that happens depends on
where the heap happens to end, so one process of a script runs at full speed and the next up
to three times slower (seen: an MLP 784-256-10 step at batch 32, 360 page faults a step,
0.45 ms -> 1.4 ms; ``benchmarks/page_faults.py``).

At import, xpgrad sets the two thresholds to where glibc's own rule ends up after freeing a
32 MiB array (its largest adaptive threshold): ``M_MMAP_THRESHOLD`` 32 MiB, ``M_TRIM_THRESHOLD``
64 MiB. The cost is up to 64 MiB of freed memory kept by the process for reuse. Nothing is
changed when the C library is not glibc, when any ``MALLOC_*_`` variable or a
``glibc.malloc`` tunable in ``GLIBC_TUNABLES`` says how to tune it, or when
``XPGRAD_MALLOC_TUNING=0``.

>>> plan({"XPGRAD_MALLOC_TUNING": "0"}, "glibc 2.36")
'off: XPGRAD_MALLOC_TUNING=0'
>>> plan({}, "glibc 2.36")
'tuned'
"""
from __future__ import annotations

import ctypes
import os

MMAP_THRESHOLD = 32 << 20           # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # the ratio glibc's own adaptive rule keeps
ENV = "XPGRAD_MALLOC_TUNING"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3     # mallopt's parameter numbers (malloc.h)

STATE = "not applied"


def _libc_version() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return ""


def plan(environ, libc: str) -> str:
    """``"tuned"`` when the thresholds should be set, else ``"off: <why>"``.

    >>> plan({"MALLOC_MMAP_THRESHOLD_": "65536"}, "glibc 2.36")
    'off: MALLOC_MMAP_THRESHOLD_ is set'
    >>> plan({}, "")
    'off: the C library is not glibc'
    """
    if environ.get(ENV, "1").strip() == "0":
        return f"off: {ENV}=0"
    for name in environ:
        if name.startswith("MALLOC_") and name.endswith("_"):
            return f"off: {name} is set"
    if "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
        return "off: GLIBC_TUNABLES sets glibc.malloc"
    if not libc.startswith("glibc"):
        return "off: the C library is not glibc"
    return "tuned"


def tune(environ=None) -> str:
    """Apply the thresholds unless ``plan`` (for ``environ``, default ``os.environ``) says not
    to, and say what was done. ``import xpgrad`` calls it once, with the default, and keeps the
    answer in ``STATE`` (``xpgrad info`` prints it); calling it again does no harm.

    >>> tune({"XPGRAD_MALLOC_TUNING": "0"})
    'off: XPGRAD_MALLOC_TUNING=0'
    """
    global STATE
    decision = plan(os.environ if environ is None else environ, _libc_version())
    if decision == "tuned":
        try:
            mallopt = ctypes.CDLL(None).mallopt
            mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and \
                mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        except (OSError, AttributeError):
            ok = False
        decision = (f"tuned: mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold "
                    f"{TRIM_THRESHOLD >> 20} MiB") if ok else "off: mallopt refused"
    if environ is None:
        STATE = decision
    return decision
