"""``run_whole``: a computation whose loops and branches read its data (an iteration to
convergence, a choice of series by range) as one step of an ``xg.function`` program, run again
whole on the real arrays of each replay, where tracing it op by op would refuse its ``bool()``.

>>> import numpy as np, xpgrad as xg
>>> from xpgrad.jit.tracer import Tracer
>>> tracer = Tracer(xg.get_backend("numpy"))
>>> x = tracer.input(np.array([1.0, 4.0]))
>>> def halve_until_small(xp, a):
...     while bool(xp.any(a > 1.0)):
...         a = a / 2.0
...     return a
>>> run_whole(tracer.xp, halve_until_small, x)._real.tolist(), len(tracer.steps)
([0.25, 1.0], 2)
>>> tracer.steps[-1].fn(np.array([8.0])).tolist()       # a replay, on other values
[1.0]
"""
from __future__ import annotations

import numpy as np

from ..batching.batched import BatchedArray
from .traced import Traced


class WholeCall:
    """Replay of ``run_whole``: ``fn(xp, *arrays)`` on the replay's arrays."""

    __slots__ = ("fn", "xp")

    def __init__(self, fn, xp):
        self.fn, self.xp = fn, xp

    def __call__(self, *arrays):
        return self.fn(self.xp, *arrays)

    def __repr__(self):
        return f"<run whole {getattr(self.fn, '__name__', self.fn)}>"


def run_whole(xp, fn, *arrays):
    """``fn(xp, *arrays)``; where an array is traced, one recorded step taking the arrays as
    its inputs, which runs ``fn`` with the backend's real namespace (``xp`` is the trace's
    recording stand-in there)."""
    tracer = next((a._tracer for a in arrays if type(a) is Traced and a._tracer.active), None)
    if tracer is None:
        return fn(xp, *arrays)
    return tracer.call(WholeCall(fn, getattr(xp, "_real", xp)), arrays, {})


class _Quiet:
    """``fn(xp, *arrays)`` under ``np.errstate(**errstate)`` (``run_quietly``'s step)."""

    __slots__ = ("fn", "errstate", "__name__")

    def __init__(self, fn, errstate):
        self.fn, self.errstate = fn, errstate
        self.__name__ = f"quiet {getattr(fn, '__name__', fn)}"

    def __call__(self, xp, *arrays):
        with np.errstate(**self.errstate):
            return self.fn(xp, *arrays)


def run_quietly(xp, fn, *arrays, name=None, **errstate):
    """``fn(xp, *arrays)`` under ``np.errstate(**errstate)`` (e.g. ``over="ignore"``), eagerly
    and on every replay of an ``xg.function`` program, which records it as one step
    (``run_whole``): for a computation whose inf or NaN is an expected answer, so that NumPy's
    warnings about it are off there and nowhere else. Inside ``xg.vmap``, examples whose values
    take different branches run one at a time, counted in the vmap's ``fallbacks`` as ``name``
    (default: ``fn``'s).

    >>> import numpy as np, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error")
    ...     run_quietly(np, lambda xp, a: a * a, np.float32([1e30]), over="ignore").tolist()
    [inf]
    """
    for a in arrays:
        if type(a) is Traced and a._tracer.active:
            return run_whole(xp, _Quiet(fn, errstate), *arrays)
    with np.errstate(**errstate):           # eager: no step to record
        for a in arrays:
            if a.__class__ is BatchedArray:     # inside xg.vmap
                from ..batching.namespace import batched_or_per_example

                return batched_or_per_example(fn, xp, arrays, name or _name(fn))
        return fn(xp, *arrays)


def _name(fn):
    """``fn``'s name, a partial's function's."""
    return getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "")


__all__ = ["run_whole", "run_quietly"]
