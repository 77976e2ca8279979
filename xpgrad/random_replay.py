"""Noting and replaying random draws, for ``xg.recompute_grad``: ``noting_draws`` records each
Generator drawn from in a block with its state before its first draw, and the seeds given to
the Generators made there without one; ``replaying_fresh`` hands those seeds back, so the
recomputation draws the first run's numbers. ``xpgrad.random`` re-exports both.

>>> import xpgrad as xg
>>> with noting_draws() as notes:
...     _ = xg.random.default_rng().uniform(size=2)      # made in the block, without a seed
>>> with replaying_fresh(notes.fresh):
...     again = xg.random.default_rng().uniform(size=2)
>>> bool(xg.all(again == _))
True
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from .random_seed import next_global_seed


class _Draws(threading.local):
    #: while ``noting_draws`` runs: {id(generator): (generator, its state before its first draw)}
    notes = None
    #: while ``noting_draws`` runs: the seeds given to the Generators made there without one
    fresh = None
    #: while ``replaying_fresh`` runs: the seeds the next Generators made without one take
    replay = None


class _Notes(dict):
    """``noting_draws``' dict, with ``fresh``: the seeds of the Generators made without one
    in the block, in order (``replaying_fresh`` gives them back)."""

    def __init__(self):
        super().__init__()
        self.fresh = []


def fresh_seed():
    """The seed of a Generator made without one: the global seed's next child
    (``xg.random.seed``), else None (the backend's fresh entropy); while ``noting_draws`` runs
    it is noted (fresh entropy made an integer to be noted), and while ``replaying_fresh`` runs
    the noted seeds come back in order, so that ``xg.recompute_grad`` recomputes a block that
    makes its own generator (``scaled_dot_product_attention(..., dropout_p=0.1)``) with the
    first run's numbers."""
    if _DRAWS.replay:
        seed = _DRAWS.replay.pop(0)
    else:
        seed = next_global_seed()
        if seed is None and _DRAWS.fresh is not None:
            seed = int(np.random.SeedSequence().entropy)
        if seed is None:
            return None
    if _DRAWS.fresh is not None:
        _DRAWS.fresh.append(seed)
    return seed


@contextlib.contextmanager
def replaying_fresh(seeds):
    """The Generators made without a seed in the block take ``seeds`` (a ``noting_draws``
    dict's ``fresh``), in order, then fresh entropy again."""
    outer, _DRAWS.replay = _DRAWS.replay, list(seeds)
    try:
        yield
    finally:
        _DRAWS.replay = outer


_DRAWS = _Draws()


def _native_state(rng):
    from .jit.guards import rng_state

    return rng_state(rng)


@contextlib.contextmanager
def noting_draws():
    """Note every Generator drawn from in the block, with its state before its first draw
    there (``xg.recompute_grad`` replays them); yields the dict ``{id: (generator, state)}``,
    whose ``fresh`` lists the seeds given to the Generators made there without one.
    Nested blocks note into their own dict, and what they note is noted outside too.

    >>> import xpgrad as xg
    >>> rng = xg.random.default_rng(0)
    >>> with noting_draws() as notes:
    ...     _ = rng.uniform(size=2)
    >>> list(notes) == [id(rng)]
    True
    """
    outer, outer_fresh = _DRAWS.notes, _DRAWS.fresh
    notes = _DRAWS.notes = _Notes()
    _DRAWS.fresh = notes.fresh
    try:
        yield notes
    finally:
        _DRAWS.notes, _DRAWS.fresh = outer, outer_fresh
        if outer is not None:
            for key, entry in notes.items():
                outer.setdefault(key, entry)
            outer.fresh.extend(notes.fresh)
