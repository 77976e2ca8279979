"""Entries reordered or repeated along axes: flip, roll (their gradients: the inverse
rearrangement), tile and repeat (their gradients sum the copies back).

>>> import xpgrad as xg
>>> xg.tile(xg.flip(xg.asarray([1.0, 2.0])), 2).tolist()
[2.0, 1.0, 2.0, 1.0]
"""
from __future__ import annotations

import builtins

from .. import dtypes as _dt
from .._args import refuse_keywords
from ..primitive import Primitive, apply
from ..tensor import _wrap
from ._define import _int, _ints, as_tensor, norm_axes, norm_axis
from .shape import broadcast_to, expand_dims, reshape


_flip = Primitive("flip", lambda xp, x, axis: xp.flip(x, axis=axis),
                  lambda xp, g, ans, x, axis: xp.flip(g, axis=axis))


def flip(x, /, axis=None, **unexpected):
    """Reverse the order of entries along ``axis`` (all axes when None; by keyword or
    positionally, as ``np.flip(x, 0)``).

    >>> import xpgrad as xg
    >>> xg.flip(xg.asarray([1.0, 2.0, 3.0])).tolist()
    [3.0, 2.0, 1.0]
    """
    if unexpected:
        refuse_keywords("flip", unexpected)
    x = as_tensor(x, "flip")
    return apply(_flip, x, axis=norm_axes(axis, x.ndim, "flip"))


def _neg(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


_roll = Primitive("roll", lambda xp, x, shift, axis: xp.roll(x, shift, axis=axis),
                  lambda xp, g, ans, x, shift, axis: xp.roll(g, _neg(shift), axis=axis))


def roll(x, /, shift, axis=None, **unexpected):
    """Shift entries along ``axis`` cyclically (``axis=None``: over the flattened tensor).
    ``shift`` and ``axis`` may be tuples of one length; an int shift applies to every axis.
    ``axis`` by keyword or positionally, as ``np.roll(x, 1, 0)``.

    >>> import xpgrad as xg
    >>> xg.roll(xg.asarray([1.0, 2.0, 3.0]), 1).tolist()
    [3.0, 1.0, 2.0]
    """
    if unexpected:
        refuse_keywords("roll", unexpected)
    x = as_tensor(x, "roll")
    if axis is None:
        if isinstance(shift, (tuple, list)):
            raise ValueError("roll: a tuple shift needs a tuple axis of the same length")
        return apply(_roll, x, shift=_int(shift, "shift"), axis=None)
    axes = tuple(norm_axis(a, x.ndim, "roll: axis") for a in _ints(axis, "axis"))
    if isinstance(shift, (tuple, list)):
        shift = _ints(shift, "shift")
        if len(shift) != len(axes):
            raise ValueError(f"roll: shift {shift} and axis {axis} differ in length")
    else:
        shift = (_int(shift, "shift"),) * len(axes)
    return apply(_roll, x, shift=shift, axis=axes)


def _tile_vjp(xp, g, ans, x, reps):
    shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    split = []
    for r, n in zip(reps, shape):
        split += [r, n]
    summed = xp.sum(xp.reshape(g, tuple(split)), axis=tuple(range(0, len(split), 2)))
    return xp.reshape(summed, x.shape)


_tile = Primitive("tile", lambda xp, x, reps: xp.tile(x, reps), _tile_vjp)


def tile(x, repetitions, /):
    """``x`` repeated ``repetitions[i]`` times along axis ``i`` (the shorter of the two is
    padded with leading ones); the gradient sums the copies.

    >>> import xpgrad as xg
    >>> xg.tile(xg.asarray([1.0, 2.0]), (2, 2)).tolist()
    [[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]]
    """
    x = as_tensor(x, "tile")
    reps = _ints(repetitions, "repetitions")
    if builtins.any(r < 0 for r in reps):
        raise ValueError(f"tile: repetitions must not be negative, got {reps}")
    reps = (1,) * (x.ndim - len(reps)) + reps
    return apply(_tile, x, reps=reps)


def _counts_alike(lo, hi):
    """The ranges of counts ``repeat`` takes the same way: none negative, or some."""
    return (0, 2 ** 62) if lo >= 0 else (-2 ** 62, -1)


def repeat(x, repeats, /, axis=None, **unexpected):
    """Repeat each entry of ``x`` (flattened when ``axis`` is None) ``repeats`` times: an
    int, or an integer tensor of shape ``(1,)`` (read back to the host: a shape) or
    ``(x.shape[axis],)`` (the output's length depends on its values; under ``xg.function``
    each new length takes a program of its own, docs/function.md). The gradient sums the
    repeats. ``axis`` by keyword or positionally, as ``np.repeat(x, 2, 0)``.

    >>> import xpgrad as xg
    >>> xg.repeat(xg.asarray([1.0, 2.0]), xg.asarray([2, 1])).tolist()
    [1.0, 1.0, 2.0]
    """
    if unexpected:
        refuse_keywords("repeat", unexpected)
    x = as_tensor(x, "repeat")
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    else:
        axis = norm_axis(axis, x.ndim, "repeat: axis")
    m = x.shape[axis]
    if not isinstance(repeats, int) or isinstance(repeats, builtins.bool):
        r = as_tensor(repeats, "repeat", "repeats")
        if r.dtype.kind not in "iu":
            raise TypeError(f"repeat: repeats must be an int or an integer tensor, got {r.dtype}")
        if r.ndim != 1 or r.shape[0] not in (1, m):
            raise ValueError(f"repeat: repeats of shape {r.shape} does not match axis {axis} "
                             f"of length {m} (expected (1,) or ({m},))")
        be = x._backend
        counts = r.to(be)._data
        if r.shape[0] == 1:       # one count for all: a shape (xg.function: guarded exactly)
            repeats = be.index_range(counts)[0]
        else:
            # a bounds check (xg.function: a replay with other counts replays; the output's
            # length is the repeat's, which a trace takes as a shape that depends on values)
            if m and be.check_index_range(counts, within=_counts_alike)[0] < 0:
                raise ValueError("repeat: repeats must not be negative")
            raw = be.xp.repeat(be.xp.arange(m, dtype=be.native_dtype(_dt.int64)), counts)
            from .indexing import take

            return take(x, _wrap(raw, be), axis=axis)
    if repeats < 0:
        raise ValueError(f"repeat: repeats must not be negative, got {repeats}")
    stretched = broadcast_to(expand_dims(x, axis=axis + 1),
                             x.shape[:axis + 1] + (repeats,) + x.shape[axis + 1:])
    return reshape(stretched, x.shape[:axis] + (m * repeats,) + x.shape[axis + 1:])


__all__ = ["flip", "roll", "tile", "repeat"]
