"""Read-only views of the arrays a loop only reads, so that one compiled version of the loop
serves writeable and read-only inputs alike (Numba types an array's writability: a read-only
gradient, e.g. ``np.broadcast_to``'s view, would otherwise compile the loop a second time).

>>> import numpy as np
>>> a = np.arange(6.0).reshape(2, 3)
>>> v = read_only(a)
>>> v.flags.writeable, a.flags.writeable, bool(np.shares_memory(v, a))
(False, True, True)
"""
from __future__ import annotations

import numpy as np


def read_only(a):
    """A read-only C-ordered view of ``a`` (a copy only where ``a`` is not C-ordered).

    >>> import numpy as np
    >>> read_only(np.ones((2, 2)).T).flags.c_contiguous
    True
    """
    view = np.ascontiguousarray(a).view()
    view.flags.writeable = False
    return view
