"""Keys of integer arrays mixed with slices, as the array API indexes: integer arrays (and
ints) only, one per axis.

>>> import numpy as np
>>> x = np.arange(24).reshape(2, 3, 4)
>>> key = (slice(None), np.array([2, 0]), slice(1, 3))
>>> bool((x[integers_only(np, x.shape, key)] == x[key]).all())
True
"""
from __future__ import annotations


def integers_only(xp, shape, key):
    """``key`` (integer arrays and ints mixed with slices) as a key of integers and integer
    arrays only that selects the same values in NumPy's layout: the arrays' broadcast axes in
    place of adjacent advanced indices, else first; the slices' axes in their order."""
    key = tuple(key) + (slice(None),) * (len(shape) - len(key))
    rank = max(k.ndim for k in key if hasattr(k, "shape"))
    advanced = [i for i, k in enumerate(key) if k.__class__ is not slice]
    adjacent = advanced == list(range(advanced[0], advanced[-1] + 1))
    first = sum(1 for k in key[:advanced[0]] if k.__class__ is slice) if adjacent else 0
    total = rank + sum(1 for k in key if k.__class__ is slice)
    out, axis = [], 0
    for size, k in zip(shape, key):
        if k.__class__ is slice:
            axis += rank if axis == first else 0     # (the arrays' axes come here)
            steps = xp.arange(*k.indices(size))
            out.append(xp.reshape(steps, (1,) * axis + (-1,) + (1,) * (total - axis - 1)))
            axis += 1
        elif hasattr(k, "shape"):
            out.append(xp.reshape(k, (1,) * (first + rank - k.ndim) + tuple(k.shape)
                                  + (1,) * (total - first - rank)))
        else:
            out.append(k)
    return tuple(out)
