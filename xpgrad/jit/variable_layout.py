"""A Variable's array in C order, as programs trace and replay it.

A trace reads each Variable's array (``tracer.read_variable``) and records what ran on it:
kernels that take C-ordered arrays only (and decline others), reshapes that were views (an
optimizer writes through them). An array of another layout -- a transposed or strided array
rebound into the Variable (``Variable._replace``, an optimizer's or a library's own write) --
would make those kernels decline and those reshapes copy. So a trace first makes a
Variable's array C-ordered (``c_ordered``), and a replay checks each Variable's array it
reads (``flags.c_contiguous``, ~50 ns) and makes it C-ordered again where a write since
changed its layout: the values are the same, the layout the traced one.

>>> import numpy as np
>>> import xpgrad as xg
>>> v = xg.Variable(np.zeros((2, 3)))
>>> v._data = np.asfortranarray(np.arange(6.0).reshape(2, 3))
>>> c_ordered(v).flags.c_contiguous, v._data.flags.c_contiguous, v.numpy().tolist()
(True, True, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
"""
from __future__ import annotations


def c_ordered(var):
    """``var``'s array as a C-ordered copy, which the Variable holds from now on."""
    be = var._backend
    data = be.owned_copy(var._data)           # NumPy's: C-ordered and aligned
    if not data.flags.c_contiguous:
        data = be.xp.ascontiguousarray(data)
    var._data = data
    return data


def needs_c_order(data) -> bool:
    """Whether a Variable's array ``data`` has elements but another layout than C order."""
    flags = getattr(data, "flags", None)
    return flags is not None and bool(getattr(data, "shape", ())) \
        and not getattr(flags, "c_contiguous", True)


__all__ = ["c_ordered", "needs_c_order"]
