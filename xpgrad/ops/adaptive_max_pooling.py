"""``adaptive_max_pool``: adaptive max pooling over the last one or two axes as one primitive
under ``xg.nn.adaptive_max_pool1d`` / ``adaptive_max_pool2d`` (without ``return_indices``,
where the windows do not all have one size), so that a backend may register one kernel for it
(the Numba backend's: each window's maximum and its position in one pass, the gradient added
at those positions, ``backends/numba/_pool.py``).

PyTorch's windows: output ``i`` along an axis of length ``L`` pooled to ``out`` reads ``[floor(i
* L / out), ceil((i + 1) * L / out))`` (``window_bounds``). The generic rule gathers each
window, its entries repeated up to the longest window's size (``window_table``; a repeat never
changes the maximum or where it is), finds per window the position of its maximum by
PyTorch's CPU rule (``val > max || isnan(val)``, row-major: the first of tied maxima, the last
NaN) off the tape, and takes the input there; the gradient goes to that one position per
window (windows that pick the same one add up).

>>> import xpgrad as xg
>>> adaptive_max_pool(xg.asarray([[[1.0, 3.0, 2.0, 4.0, 6.0]]]), out=(2,)).tolist()
[[[3.0, 6.0]]]
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..primitive import Primitive, apply
from ..tensor import Tensor
from .shape import reshape

_LONG = 16          # windows of this many entries or more: argmax, not running comparisons


@functools.lru_cache(maxsize=256)
def window_bounds(length, out):
    """PyTorch's adaptive windows: ``(starts, ends)`` (int64 arrays) of the ``out`` windows
    over ``length`` entries.

    >>> [b.tolist() for b in window_bounds(5, 2)]
    [[0, 2], [3, 5]]
    """
    i = np.arange(out)
    return (i * length) // out, -((-(i + 1) * length) // out)


@functools.lru_cache(maxsize=256)
def window_table(lengths, out):
    """(prod(out), K) int64: per output, the flat (row-major) input positions of its window
    in row-major order, each axis's run padded to the longest window by repeating its last
    entry (K = the product of those longest lengths).

    >>> window_table((5,), (2,)).tolist()
    [[0, 1, 2], [2, 3, 4]]
    """
    flat, total = np.zeros(out + (1,) * len(out), dtype=np.int64), 1
    for axis, (length, n) in enumerate(zip(lengths, out)):
        starts, ends = window_bounds(length, n)
        k = max(int((ends - starts).max(initial=1)), 1)
        where = np.minimum(starts[:, None] + np.arange(k), ends[:, None] - 1)
        shape = [1] * (2 * len(out))
        shape[axis], shape[len(out) + axis] = n, k
        flat, total = flat * length + where.reshape(shape), total * k
    table = flat.reshape(int(np.prod(out)), total)
    table.setflags(write=False)
    return table


def adaptive_argmax(xp, x, out):
    """Per window of PyTorch's adaptive ``out`` grid over ``x``'s (N, C, *spatial) planes
    (``x``: a raw array of namespace ``xp``), the flat position (``h * W + w``) of its
    maximum by PyTorch's rule; int64 (N, C, prod(out))."""
    rows = tuple(x.shape[:2])
    table = window_table(tuple(x.shape[2:]), tuple(out))
    positions = xp.asarray(table)
    planes = xp.reshape(x, rows + (math.prod(x.shape[2:]),))
    gathered = xp.reshape(xp.take(planes, xp.reshape(positions, (-1,)), axis=2),
                          rows + table.shape)                   # (N, C, prod(out), K)
    k = table.shape[1]
    if k < _LONG:            # running comparisons, ``maximum`` (faster than ``where``): j
        best = gathered[..., 0]  # only grows, and a NaN best stays NaN, so a later NaN wins
        pick = xp.zeros(best.shape, dtype=xp.int64)
        for j in range(1, k):
            piece = gathered[..., j]
            better = (piece > best) | xp.isnan(piece)
            best = xp.maximum(best, piece)
            pick = xp.maximum(pick, xp.astype(better, xp.int64) * j)
    else:                    # a few passes instead of one per entry
        nan = xp.isnan(gathered)
        pick = xp.argmax(gathered, axis=-1)
        if bool(xp.any(nan)):           # else skip a slow argmax over the flipped mask
            last_nan = (k - 1) - xp.argmax(xp.flip(nan, axis=-1), axis=-1)
            pick = xp.where(xp.any(nan, axis=-1), last_nan, pick)
        pick = xp.astype(pick, xp.int64)
    full = xp.broadcast_to(positions, rows + table.shape)
    return xp.take_along_axis(full, pick[..., None], axis=3)[..., 0]


def _forward(xp, x, *, out, backend):
    rows = tuple(x.shape[:2])
    pick = adaptive_argmax(xp, x, out)
    planes = xp.reshape(x, rows + (math.prod(x.shape[2:]),))
    return xp.reshape(xp.take_along_axis(planes, pick, axis=2), rows + tuple(out))


def _vjp(xp, g, ans, x, *, out, backend):
    from .gathering import _along_scatter, _along_scatter_forward

    raw, raw_xp = (x._data, x._backend.xp) if isinstance(x, Tensor) else (x, xp)
    rows = tuple(x.shape[:2])
    pick = adaptive_argmax(raw_xp, raw, out)
    shape = rows + (math.prod(x.shape[2:]),)
    g = xp.reshape(g, rows + (math.prod(out),))
    if isinstance(g, Tensor):
        dx = apply(_along_scatter, g, indices=pick, axis=2, shape=shape, backend=backend)
    else:
        dx = _along_scatter_forward(xp, g, pick, 2, shape, backend)
    return xp.reshape(dx, tuple(x.shape))


_adaptive_max_pool = Primitive("adaptive_max_pool", _forward, _vjp, saves=(0,))


def adaptive_max_pool(x, *, out):
    """Adaptive max pooling of ``x`` (N, C, *spatial; one or two non-empty spatial axes; real
    floats) to the grid ``out`` (a tuple of ints, one per spatial axis); (N, C, *out).

    >>> import xpgrad as xg
    >>> adaptive_max_pool(xg.arange(9.0).reshape((1, 1, 3, 3)), out=(2, 2)).tolist()
    [[[[4.0, 5.0], [7.0, 8.0]]]]
    """
    out = tuple(int(n) for n in out)
    if 0 in out:        # no windows: an empty result (the kernels find no maximum of none)
        return reshape(x[..., :0], tuple(x.shape[:2]) + out)
    return apply(_adaptive_max_pool, x, out=out, backend=x._backend)


__all__ = ["adaptive_max_pool", "adaptive_argmax", "window_bounds", "window_table"]
