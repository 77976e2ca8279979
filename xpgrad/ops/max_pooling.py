"""``max_pool``: max pooling over the last one or two axes as one primitive under
``xg.nn.max_pool1d`` / ``max_pool2d``, so that a backend may register one kernel for it (the
Numba backend's: the maximum and its position in one pass, the gradient scattered to those
positions, ``backends/numba/_pool.py``). With ``return_indices`` (``max_pool_with_positions``)
the primitive ``max_pool_positions`` finds the positions and the input is gathered there.

The generic rule is ``nn/pooling.py``'s math written against ``xp``: per window, the position
of its maximum by PyTorch's CPU rule (``val > max || isnan(val)`` over the positions inside
the input, row-major, from ``max = -inf`` at the first of them: the first of tied maxima, the
last NaN), found off the tape; the output is the input gathered there and the gradient goes
to that one position per window (overlapping windows that pick the same one add up). With
``last`` the input and output are channels last, (N, *spatial, C): the generic rule transposes
around the channels-first one; the Numba kernel reads that layout as it is.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
>>> max_pool(x, kernel=(2,), stride=(2,), dilation=(1,), pads=((0, 1),), n_out=(3,)).tolist()
[[[3.0, 5.0, 4.0]]]
"""
from __future__ import annotations

import itertools
import math

from ..primitive import Primitive, apply
from ..tensor import Tensor, _wrap
from .convolution import _pad, window_keys


def argmax_positions(xp, x, kernel, stride, dilation, pads, n_out):
    """Per window, the flat position (``h * W + w``) in ``x``'s (N, C, *spatial) planes of its
    maximum by PyTorch's rule, -1 for a window wholly in the padding (dilation can make one:
    its maximum is -inf and it has no gradient); int64 (N, C, *n_out). ``x``: a raw array of
    namespace ``xp``; ``pads``: ``(left, right)`` per axis, the right one enough for every
    window."""
    lengths = tuple(x.shape[2:])
    plane = [math.prod(lengths[a + 1:]) for a in range(len(lengths))]
    padded = _pad(xp, x, pads)
    best = pick = None
    positions = itertools.product(*(range(k) for k in kernel))
    for position, key in zip(positions, window_keys(kernel, stride, dilation, n_out)):
        piece = padded[key]
        flat = inside = None
        for a, (k, s, d, (left, _), m) in enumerate(zip(position, stride, dilation, pads,
                                                        n_out)):
            shape = (m,) + (1,) * (len(n_out) - 1 - a)
            coord = xp.reshape(xp.arange(m, dtype=xp.int64) * s + (k * d - left), shape)
            ok = (coord >= 0) & (coord < lengths[a])
            flat = coord * plane[a] if flat is None else flat + coord * plane[a]
            inside = ok if inside is None else inside & ok
        if best is None:
            best = xp.full(piece.shape, -math.inf, dtype=x.dtype)
            pick = xp.full(piece.shape, -1, dtype=xp.int64)
        take = inside & ((pick < 0) | (piece > best) | xp.isnan(piece))
        best = xp.where(take, piece, best)
        pick = xp.where(take, flat, pick)
    return pick


def _raw(x):
    return (x._data, x._backend.xp) if isinstance(x, Tensor) else (x, None)


def _to_first(xp, a, last):
    """``a`` (N, *spatial, C) as (N, C, *spatial) where ``last``, else ``a``."""
    return xp.permute_dims(a, (0, a.ndim - 1) + tuple(range(1, a.ndim - 1))) if last else a


def _to_last(xp, a, last):
    """``_to_first``'s inverse."""
    return xp.permute_dims(a, (0,) + tuple(range(2, a.ndim)) + (1,)) if last else a


def _forward(xp, x, *, kernel, stride, dilation, pads, n_out, last=False, backend):
    if last:
        return _to_last(xp, _forward(xp, _to_first(xp, x, True), kernel=kernel, stride=stride,
                                     dilation=dilation, pads=pads, n_out=n_out,
                                     backend=backend), True)
    pick = argmax_positions(xp, x, kernel, stride, dilation, pads, n_out)
    rows = tuple(x.shape[:2])
    flat = xp.reshape(pick, rows + (math.prod(n_out),))
    y = xp.take_along_axis(xp.reshape(x, rows + (math.prod(x.shape[2:]),)),
                           xp.where(flat < 0, 0, flat), axis=2)
    return xp.reshape(xp.where(flat < 0, -math.inf, y), rows + tuple(n_out))


def _vjp(xp, g, ans, x, *, kernel, stride, dilation, pads, n_out, last=False, backend):
    from .gathering import _along_scatter, _along_scatter_forward

    raw, raw_xp = _raw(x)
    raw_xp = raw_xp or xp
    raw, g = _to_first(raw_xp, raw, last), _to_first(xp, g, last)
    rows = tuple(raw.shape[:2])
    pick = argmax_positions(raw_xp, raw, kernel, stride, dilation, pads, n_out)
    pick = raw_xp.reshape(pick, rows + (math.prod(n_out),))
    shape = rows + (math.prod(raw.shape[2:]),)
    g = xp.reshape(g, rows + (math.prod(n_out),))
    if any(d > 1 for d in dilation):            # then a window may lie wholly in the padding
        keep = raw_xp.astype(pick >= 0, raw.dtype)
        g = g * (_wrap(keep, backend) if isinstance(g, Tensor) else keep)
        pick = raw_xp.where(pick < 0, 0, pick)
    if isinstance(g, Tensor):
        dx = apply(_along_scatter, g, indices=pick, axis=2, shape=shape, backend=backend)
    else:
        dx = _along_scatter_forward(xp, g, pick, 2, shape, backend)
    return _to_last(xp, xp.reshape(dx, tuple(raw.shape)), last)


_max_pool = Primitive("max_pool", _forward, _vjp, saves=(0,))


def _positions(xp, x, *, kernel, stride, dilation, pads, n_out, last=False):
    return _to_last(xp, argmax_positions(xp, _to_first(xp, x, last), kernel, stride, dilation,
                                         pads, n_out), last)


# no gradient: int64 positions (the Numba backend's kernel: max_pool's loops, in x's layout)
_max_pool_positions = Primitive("max_pool_positions", _positions)


def max_pool(x, *, kernel, stride, dilation, pads, n_out, last=False):
    """Max pooling of ``x`` (N, C, *spatial; real floats) with checked geometry: ``kernel``,
    ``stride``, ``dilation``, ``n_out`` (windows per axis) tuples, ``pads`` ``(left, right)``
    per axis (implicit -inf; the right one enough for ceil mode's last window);
    (N, C, *n_out). ``last``: ``x`` (N, *spatial, C), the output (N, *n_out, C).

    >>> import xpgrad as xg
    >>> max_pool(xg.arange(16.0).reshape((1, 1, 4, 4)), kernel=(2, 2), stride=(2, 2),
    ...          dilation=(1, 1), pads=((0, 0), (0, 0)), n_out=(2, 2)).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    params = dict(kernel=tuple(kernel), stride=tuple(stride), dilation=tuple(dilation),
                  pads=tuple(tuple(p) for p in pads), n_out=tuple(n_out), backend=x._backend)
    if last:        # only then: the kernels' caches and traces key on the params given
        params["last"] = True
    return apply(_max_pool, x, **params)


def max_pool_with_positions(x, *, kernel, stride, dilation, pads, n_out, last=False):
    """``(max_pool(x, ...), the maxima's flat positions h * W + w in x's planes)``, int64 in
    the output's layout, as ``xg.nn.max_pool2d(..., return_indices=True)`` gives them. For a
    backend with a ``max_pool`` kernel: the positions found once, in ``x``'s own layout
    (channels last too), and ``x`` gathered there, which the gradient scatters back. No window
    may lie wholly in the padding (possible only with dilation).

    >>> import xpgrad as xg
    >>> y, at = max_pool_with_positions(xg.asarray([[[1.0, 3.0, 2.0, 5.0]]]), kernel=(2,),
    ...     stride=(2,), dilation=(1,), pads=((0, 0),), n_out=(2,))
    >>> y.tolist(), at.tolist()
    ([[[3.0, 5.0]]], [[[1, 3]]])
    """
    from .indexing import take_along_axis
    from .shape import reshape

    params = dict(kernel=tuple(kernel), stride=tuple(stride), dilation=tuple(dilation),
                  pads=tuple(tuple(p) for p in pads), n_out=tuple(n_out))
    if last:
        params["last"] = True
    at = apply(_max_pool_positions, x, **params)
    if last:                # (N, P, C): the channels stay innermost
        batch, channels = x.shape[0], x.shape[-1]
        flat_x = reshape(x, (batch, math.prod(x.shape[1:-1]), channels))
        flat_at = reshape(at, (batch, math.prod(n_out), channels))
        axis = 1
    else:
        rows = tuple(x.shape[:2])
        flat_x = reshape(x, rows + (math.prod(x.shape[2:]),))
        flat_at = reshape(at, rows + (math.prod(n_out),))
        axis = 2
    return reshape(take_along_axis(flat_x, flat_at, axis=axis), at.shape), at


__all__ = ["max_pool", "max_pool_with_positions", "argmax_positions"]
