"""Passes over ``xg.data.batches`` that made gradient reductions across ranks: ranks whose
shards hold different numbers of batches finish their passes after different numbers of steps,
and ``xpgrad.distributed`` compares the ranks' counts at each reduction, so that a rank
starting its next epoch while another is still in this one is named (with ``dist.join()`` as
the fix) instead of the ranks pairing steps of different epochs without a word.

>>> before = state()["passes"]
>>> for idx in Batches([1, 2]):
...     note_reduction()                    # a gradient reduction in each step
>>> state()["passes"] - before, state()["last_pass_steps"]
(1, 2)
"""
from __future__ import annotations

#: gradient reductions across ranks this process has made; passes that made some; the
#: reductions of the last such pass; the reductions counted when it ended
_COUNTS = {"reductions": 0, "passes": 0, "last_pass_steps": 0, "at_last_end": 0}
#: the reductions counted when each pass still running began (outermost first)
_OPEN = []


def note_reduction() -> None:
    """Count one gradient reduction (``DistributedGradientTape.gradient``,
    ``DistributedOptimizer``)."""
    _COUNTS["reductions"] += 1


def state() -> dict:
    """The counts: ``passes`` finished with reductions in them, ``last_pass_steps`` (the
    reductions of the last), ``steps_since`` (reductions since the outermost pass still
    running began, else since the last pass ended).

    >>> sorted(state())
    ['last_pass_steps', 'passes', 'steps_since']
    """
    return {"passes": _COUNTS["passes"], "last_pass_steps": _COUNTS["last_pass_steps"],
            "steps_since": _COUNTS["reductions"] - (_OPEN[0] if _OPEN else
                                                    _COUNTS["at_last_end"])}


def start_afresh() -> None:
    """Forget the passes counted so far, on every rank at once (a new run: ``xpgrad train``'s
    ``fit``, a new ``DistributedOptimizer``; and each rank as it raises the uneven-epochs
    error): a run that ended in an error, with its ranks at different passes, does not make the
    next run in the same process read as uneven.

    >>> start_afresh(); state()["passes"]
    0
    """
    _COUNTS["passes"] = _COUNTS["last_pass_steps"] = 0


class Batches(list):
    """The list ``xg.data.batches`` returns: a plain list of index arrays whose iteration, when
    it runs to its end with gradient reductions made meanwhile, counts one pass."""

    def __iter__(self):
        start = _COUNTS["reductions"]
        _OPEN.append(start)
        try:
            yield from list.__iter__(self)
        finally:            # ended, or left (a break): no longer running
            _OPEN.remove(start)
        if _COUNTS["reductions"] > start:
            _COUNTS["passes"] += 1
            _COUNTS["last_pass_steps"] = _COUNTS["reductions"] - start
            _COUNTS["at_last_end"] = _COUNTS["reductions"]
