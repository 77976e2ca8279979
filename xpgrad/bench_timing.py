"""How ``xpgrad bench`` times and prints: calls per run calibrated as timeit's autorange
(``calibrate``), the median per call over repeats interleaved across libraries (``measure``),
and the table of times and ratios (``format_time``, ``format_table``).

>>> format_time(0.0123), format_time(4e-8), format_time(None)
('12.3 ms', '40 ns', 'n/a')
>>> print(format_table([["a", "1 ms"]], ["workload", "time"]))
workload  time
--------  ----
a         1 ms
"""
from __future__ import annotations

import statistics
import time


def calibrate(fn, min_time: float) -> int:
    """Calls per timed run so that one run lasts at least ``min_time`` (as timeit's autorange)."""
    number = 1
    while True:
        elapsed = _run(fn, number)
        if elapsed >= min_time:
            return number
        number = max(number * 2, int(number * min_time / max(elapsed, 1e-9) * 1.2))


def _run(fn, number) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def measure(fns: dict, min_time: float, repeats: int) -> dict:
    """Median seconds per call of each callable in ``fns``; the repeats are interleaved
    (a, b, c, then b, c, a, ...) so that a change in machine load hits every library alike,
    and each starts a round in turn: a run right after another library's was measured up to
    10% slower (an LSTM step after PyTorch's, caches left cold), so none always follows the
    same one."""
    if not fns:                 # no library of the row runs here: every cell is n/a
        return {}
    numbers = {k: calibrate(fn, min_time) for k, fn in fns.items()}
    runs = {k: [] for k in fns}
    order = list(fns)
    for r in range(repeats):
        turn = r % len(order)
        for k in order[turn:] + order[:turn]:
            runs[k].append(_run(fns[k], numbers[k]) / numbers[k])
    return {k: statistics.median(v) for k, v in runs.items()}


def format_time(seconds) -> str:
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def format_table(rows, headers) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(headers), "  ".join("-" * w for w in widths),
                      *(line(r) for r in rows)])
