"""What a tape's node keeps of its inputs, and what a vjp rule is handed back: the raw arrays a
rule reads, Python scalars, and for an array input the rule does not read a stand-in, its
``(shape, dtype code)`` (``_stand_in``), which the backward walk hands the rule as a ``Shaped``
(``_stand_ins``); for a rule run on the xpgrad namespace (an outer tape records), the residuals
as Tensors with their recorded keys (``_tensors``).

>>> import numpy as np
>>> fit = _stand_in(np.zeros((20, 50)))
>>> s = _stand_ins((None, 2.0), (fit, None), None)[0]
>>> s.shape, s.ndim, s.size, str(s.dtype)
((20, 50), 2, 1000, 'float64')
"""
from __future__ import annotations

import operator

from .tensor import _keyed

_scalar_types = _exact_scalars = frozenset((int, float, bool, complex))


# An array of at most this many elements is kept even where its rule does not read it: freeing
# it saves nothing, and a node holding a (shape, dtype) tuple takes more GC passes to untrack
# (a small View enters a recorded operation as a copy: appliers._plain_for_tape, which holds
# no base)
_SMALL = 256


class Shaped(tuple):
    """What a rule sees of an input that its primitive does not save: shape and dtype.

    >>> Shaped(((2, 3), "float32")).ndim
    2
    """

    __slots__ = ()
    shape = property(operator.itemgetter(0))
    dtype = property(operator.itemgetter(1))

    @property
    def ndim(self):
        return len(self[0])

    @property
    def size(self):
        n = 1
        for s in self[0]:
            n *= s
        return n


def _stand_in(raw):
    """What a node keeps of an input its rule does not read: ``(shape, dtype code)`` (see
    ``Shaped``)."""
    dt = raw.dtype
    return raw.shape, _DTYPE_CODES.get(id(dt)) or _dtype_code(dt)


def _stand_ins(inputs, fits, be):
    """``inputs`` with a ``Shaped`` for each array input that was not saved (dtypes as
    xpgrad's for rules run on Tensors: ``be`` given)."""
    out = list(inputs)
    i = 0
    for fit in fits:
        if fit is not None:
            dt = fit[1]
            if dt.__class__ is int:
                dt = _DTYPES[dt]
            out[i] = Shaped((fit[0], dt if be is None else be.xg_dtype(dt)))
        i += 1
    return out


# A node names a dtype by a small int (a dtype object would keep the node GC-tracked: CPython
# untracks a tuple only when no item is a GC-capable non-tuple). Backends reuse one dtype object
# per dtype, so the table stays small; past its bound the dtype itself is stored.
_DTYPES: list = [None]          # code 0 is unused: ``get(...) or`` treats it as missing
_DTYPE_CODES: dict = {}


def _dtype_code(dt):
    if len(_DTYPES) > 256:
        return dt
    _DTYPE_CODES[id(dt)] = len(_DTYPES)
    _DTYPES.append(dt)
    return len(_DTYPES) - 1


def _tensors(res, ks, be, variables):
    """A node's residuals as Tensors with their recorded keys (for rules run on the xpgrad
    namespace, which an outer tape records); trainable Variables as themselves; an input only
    another tape knows with that key (``variables`` holds it)."""
    out = []
    for i, r in enumerate(res):
        v = None if variables is None else variables[i]
        if v is not None:
            out.append(_keyed(r, be, v) if v.__class__ is int else v)
        elif r is None or type(r) in _scalar_types:    # a Python constant (np.float64: no)
            out.append(r)
        else:
            out.append(_keyed(r, be, ks[i]))
    return out

