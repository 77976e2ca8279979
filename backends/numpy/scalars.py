"""Python scalar operands as cached 0-d arrays (``Backend.scalar_arrays``).

NumPy 2 casts a Python scalar beside a float32 array to float32 (NEP 50's weak scalars), but
through a slow path: ``x * 1.5`` on 4 floats takes ~0.6 us, ``x * c`` with ``c`` a 0-d float32
array ~0.3 us, with the same result. A value is kept only where the two are the same for every
``x``: finite, nonzero (``-0.0 == 0.0`` would share one entry), an int exact in the dtype, a
value the dtype holds without overflow; the arrays are read-only, and a table stops growing at
``BOUND`` values (a learning-rate schedule makes a new float every step).

>>> import numpy as np
>>> SCALAR_ARRAYS[np.dtype(np.float32)].clear()    # room in the table, as in a new process
>>> a = scalar_array(np.dtype(np.float32), 1.5)
>>> a.dtype, a.shape, a.flags.writeable, scalar_array(np.dtype(np.float32), 1.5) is a
(dtype('float32'), (), False, True)
>>> scalar_array(np.dtype(np.float32), -0.0), scalar_array(np.dtype(np.float32), 1e300)
(-0.0, 1e+300)
"""
from __future__ import annotations

import math

import numpy as np

#: one table per real floating dtype: {Python value: read-only 0-d array of that dtype}
SCALAR_ARRAYS = {np.dtype(np.float32): {}, np.dtype(np.float64): {}}
BOUND = 256
_EXACT_INT = 2 ** 24            # ints below this in magnitude are exact in float32 and float64


def scalar_array(dtype, value):
    """``value`` as the table's 0-d array of ``dtype`` (made and kept on first use) where it
    computes what the Python scalar does; else ``value`` itself."""
    table = SCALAR_ARRAYS.get(dtype)
    if table is None:
        return value
    cls = value.__class__
    if cls is float:
        keep = value != 0.0 and math.isfinite(value)
    elif cls is int:
        keep = value != 0 and -_EXACT_INT < value < _EXACT_INT
    else:                       # bool, complex: as given
        keep = False
    if not keep or len(table) >= BOUND:
        return value
    with np.errstate(over="ignore"):
        array = np.asarray(value, dtype=dtype)
    if not np.isfinite(array):  # 1e300 in float32: NumPy's own path says so (inf, a warning)
        return value
    array.flags.writeable = False
    return table.setdefault(value, array)
