"""What ``x.at[key]`` (``indexed_updates.py``) reads from its key: a mask over several leading
axes raveled with ``x`` (``_mask_raveled``), masks as integer positions
(``_masks_as_positions``), each entry's flat position (``_positions``), and whether an
integer-array key reaches each place once (``_distinct_places``: then no ``ufunc.at``).

>>> import numpy as np
>>> _positions(np, (2, 3), (np.array([1, 0]), slice(None))).tolist()
[3, 4, 5, 0, 1, 2]
>>> [p.tolist() for p in _true_places(np, np.array([[True, False], [False, True]]))]
[[0, 1], [0, 1]]
"""
from __future__ import annotations

from .indexing import _is_bool


#: the fewest entries of ``x[key]`` per index for ``_distinct_places`` to sort the indices
#: (a sort of 128 row ids: a few us; ``multiply.at`` of their 128 rows of 256 float32, 31)
_ROW_MIN = 16


def _distinct_places(backend, x, key) -> bool:
    """Whether ``key`` reaches each place of the raw array ``x`` at most once, where that is
    cheap to know: one integer array (the rest ints, slices, None, Ellipsis) of distinct
    values (negative ones wrapped), on eager arrays of ``backend``, each index picking at
    least ``_ROW_MIN`` entries (a sort of the indices then costs less than ``ufunc.at``).
    False when unsure."""
    arrays = [i for i, k in enumerate(key) if hasattr(k, "shape")]
    if len(arrays) != 1:
        return False
    k = key[arrays[0]]
    array_class = getattr(backend, "array_class", None)
    if array_class is None or type(k) is not array_class or type(x) is not array_class \
            or k.ndim == 0 or _is_bool(k) or x.size < _ROW_MIN * k.size:
        return False
    before = [e for e in key[:arrays[0]] if e is not None]
    axis = len(before)
    if any(e is Ellipsis for e in before):
        axis += x.ndim - sum(1 for e in key if e is not None and e is not Ellipsis) - 1
    xp = backend.xp
    ids = xp.reshape(k, (-1,))
    ids = xp.sort(xp.where(ids < 0, ids + x.shape[axis], ids))   # (unique_values: 5x slower)
    return int(ids.shape[0]) < 2 or bool(xp.all(ids[1:] != ids[:-1]))


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _positions(xp, shape, key):
    """The flat position in an array of ``shape`` of each entry of ``x[key]``, raveled."""
    n = 1
    for s in shape:
        n *= s
    return xp.reshape(xp.reshape(xp.arange(n, dtype=xp.int64), shape)[key], (-1,))


def _masks_as_positions(x, key):
    """``key`` with each boolean mask replaced by the integer arrays of its true places (the
    same selection, NumPy's rule), which every scatter takes. (Under ``xg.function`` the
    places' count sizes ``x[key]``, whose shape is read in Python: the trace guards it, and a
    call with another count takes a program of its own, ``jit/dynamic_shapes.py``.)"""
    if not any(hasattr(k, "shape") and _is_bool(k) for k in key):
        return key
    xp = x._backend.xp
    out = []
    for k in key:
        if hasattr(k, "shape") and _is_bool(k):
            out.extend(_true_places(xp, k) if k.ndim else [k])
        else:
            out.append(k)
    return tuple(out)


def _true_places(xp, mask):
    """``xp.nonzero(mask)``: for a mask of several axes, the positions in the raveled mask
    unraveled (NumPy's nonzero of a (256, 256) random mask takes 280 us, branching on each
    element; its 1-D one 24 us, and the unravel 45)."""
    if mask.ndim == 1:
        return xp.nonzero(mask)
    flat = xp.nonzero(xp.reshape(mask, (-1,)))[0]
    places = []
    for n in reversed(mask.shape[1:]):
        places.append(flat % n)
        flat = flat // n
    return (flat, *reversed(places))


def _is_lone_mask(x, key) -> bool:
    """Whether ``key`` is one 1-D mask over the first axis of ``x`` then whole axes: its
    true places are in range, and ``x[key]`` has their count as its first axis."""
    mask = key[0]
    return (hasattr(mask, "shape") and mask.ndim == 1 and _is_bool(mask)
            and tuple(mask.shape) == tuple(x.shape[:1]) and _whole_axes(key[1:]))


def _whole_axes(key) -> bool:
    return all(k is Ellipsis or (isinstance(k, slice) and k == slice(None)) for k in key)


def _mask_raveled(x, key):
    """``(x, key)``, or for a key that is one mask over several leading axes of ``x``
    followed by whole axes (``x.at[x > 0]``), ``x`` with those axes raveled into one and the
    mask raveled with them: the same places in the same order, picked through a 1-D mask
    (NumPy's nonzero of a random (256, 256) mask takes 280 us, branching on each element,
    its 1-D one 24 us; with the count taken from the positions and the 1-D scatter-add,
    ``x.at[mask].add(1.0)`` on (256, 256) float32 fell from 294 to 140 us forward and
    backward)."""
    mask = key[0]
    if not (hasattr(mask, "shape") and mask.ndim > 1 and _is_bool(mask)
            and tuple(mask.shape) == tuple(x.shape[:mask.ndim]) and _whole_axes(key[1:])):
        return x, key
    xp = x._backend.xp
    return (x.reshape((-1,) + tuple(x.shape[mask.ndim:])),
            (xp.reshape(mask, (-1,)),) + tuple(key[1:]))
