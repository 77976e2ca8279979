"""Results that are views of an argument (``return x[0]``, ``x.T``, ``x.data``) or of a
Variable (``return w.T``): a replay returns them as views again, as ``torch.compile``
regenerates an output view of an input.

An eager call's ``x[0]`` is a ``View`` of ``x``: a write into it lands in ``x``. A replay
computes the result's array, but its Tensor would be one of its own; so the trace notes, for
each result leaf that is a view of an argument or a Variable, which one (the argument's
position among the call's plain tensors, ``arguments.gather``'s order) and how each view of the
chain was taken from its base (``View._how``). The replay, and the traced call itself, then
return a ``View`` of the call's argument taken the same way (a backend view of its buffer: a
few microseconds, paid only by programs whose result holds such views).

>>> import xpgrad as xg
>>> first_row = xg.function(lambda x: x[0])
>>> for _ in range(3):                     # eager, traced, replayed: a view each time
...     x = xg.zeros((2, 2))
...     first_row(x)[1] = 5.0
...     print(x.tolist())
[[0.0, 5.0], [0.0, 0.0]]
[[0.0, 5.0], [0.0, 0.0]]
[[0.0, 5.0], [0.0, 0.0]]
"""
from __future__ import annotations

import itertools

from ..tensor import Tensor, Variable, _wrap
from ..views import View, view_of
from .structure import leaves, map_leaves
from .traced import Traced


class OutputViews:
    """The result leaves a replay returns as views: ``(leaf number, source, hows)`` each, the
    source an argument's position (an int) or a Variable, ``hows`` from the source outward."""

    __slots__ = ("notes", "wanted", "whole")

    def __init__(self, notes, whole=False):
        self.notes = notes
        self.wanted = {number: (source, hows) for number, source, hows in notes}
        self.whole = self.wanted[0] if whole else None   # the result is the one view

    @classmethod
    def of(cls, result, input_slots):
        """The views of ``result`` (the traced call's, its arrays still traced) whose chain
        starts at an argument's stand-in (``input_slots``: its slot -> position) or at a
        Variable; None where there is none (a replay then pays nothing)."""
        notes = []
        for number, leaf in enumerate(leaves(result)):
            if leaf.__class__ is not View:
                continue
            hows, t = [], leaf
            while t.__class__ is View:
                hows.append(t._how)
                t = t._base
            hows.reverse()
            if isinstance(t, Variable):
                notes.append((number, t, tuple(hows)))
            elif type(t._data) is Traced and t._data._slot in input_slots:
                notes.append((number, input_slots[t._data._slot], tuple(hows)))
        return cls(notes, whole=result.__class__ is View) if notes else None

    def rebuilt(self, result, arguments):
        """``result`` (a replay's, or the traced call's with real arrays) with each noted leaf
        a view of its source: of ``arguments[position]`` (the call's plain tensors, in
        ``gather``'s order) or of the Variable."""
        whole = self.whole
        if whole is not None:
            source, hows = whole
            return _view_chain(source if isinstance(source, Tensor) else arguments[source], hows)
        wanted, count = self.wanted, itertools.count()

        def leaf(o):
            note = wanted.get(next(count))
            if note is None:
                return o
            source, hows = note
            return _view_chain(source if isinstance(source, Tensor) else arguments[source], hows)

        return map_leaves(leaf, result)


def _view_chain(base, hows):
    """``base`` viewed as ``hows`` says, each step a ``View`` of the one before (a backend view
    of its buffer, as eagerly; no tape records a replay)."""
    t = base
    for prim, params in hows:
        be = t._backend
        t = view_of(t, _wrap(prim.forward(be.xp, t._data, **params), be), prim, params)
    return t


def argument_tensors(args, kwargs) -> list:
    """The plain tensors (not Variables) among the leaves of ``args`` and ``kwargs``, in the
    order of a replay's arrays (``arguments.gather``)."""
    return [leaf for leaf in leaves((args, kwargs))
            if isinstance(leaf, Tensor) and not isinstance(leaf, Variable)]


__all__ = ["OutputViews", "argument_tensors"]
