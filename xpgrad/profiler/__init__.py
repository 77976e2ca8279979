"""``xg.profiler``: where a program's time goes, per primitive, as ``torch.profiler`` shows it.

``with xg.profiler.profile() as prof:`` times every eager op (its forward, the backward walk's
vjp of each node, attributed to the op that recorded it, optimizer updates; whether a
backend's kernel or the generic rule ran), the backward walks and ``apply_gradients``
calls, ``xg.function`` calls, traces and each step of a replay, and the ranges the user marks
with ``record_function``. ``prof.key_averages().table(sort_by=..., row_limit=...)`` sums them
per name; ``prof.export_chrome_trace(path)`` writes them for Perfetto. Nothing is timed, or
checked, outside a profile (``hooks.py``). docs/profiling.md has the details.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0])
>>> with xg.profiler.profile() as prof:
...     with xg.GradientTape() as tape:
...         loss = xg.sum(w * w)
...     _ = tape.gradient(loss, w)
>>> sorted((r.key, r.phase) for r in prof.key_averages())      # doctest: +NORMALIZE_WHITESPACE
[('backward walk', 'autograd'), ('multiply', 'backward'), ('multiply', 'forward'),
 ('sum', 'backward'), ('sum', 'forward')]
"""
from __future__ import annotations

from .averages import FunctionEventAvg, KeyAverages
from .recorder import Event
from .session import profile, record_function

__all__ = ["Event", "FunctionEventAvg", "KeyAverages", "profile", "record_function"]
