"""NumPy kernels of activations whose generic rules take many passes: a few in-place ufunc
calls each, on float32/float64 (anything else: the generic rule), over blocks that stay in
cache (``blocks.py``). GELU's kernel has its own module (``gelu.py``).

``silu``: the generic forward computes a stable sigmoid (two branches and a select) and guards
the limits with two more selects; its rule computes two sigmoids. Here the forward is
``x / (1 + exp(-x))`` in five passes; a taped one also keeps the derivative
``(1 + x e / (1 + e)) / (1 + e)``, ``e = exp(-x)`` (no second exponential), so that the
backward is one product. ``exp(-x)`` overflows to inf below x ~ -88 (float32), where the
sigmoid is 0 instead of a subnormal; ``x`` is clipped to the finite range where it would meet a
zero (-inf in the value, both infinities in the derivative), so the limits at +-inf come out as
the generic rule's (0 and inf, gradients 0 and 1) with no inf * 0.

``hardswish``, ``hardsigmoid`` and ``log_sigmoid``: the generic forwards and gradients are
selects; here they are arithmetic (``_hardswish_forward``, ...). ``log_sigmoid`` keeps
``exp(-|x|)`` for its backward, the others nothing beyond ``x``. ``elu`` and ``softplus`` have
their own module (``exponential_units.py``).

>>> import numpy as np
>>> x = np.array([-np.inf, 0.0, 1.0, np.inf])
>>> y, slope = KERNELS["silu"].forward(x)
>>> y.round(4).tolist()
[-0.0, 0.0, 0.7311, inf]
>>> KERNELS["silu"].vjp(np.ones(4), slope, x)[0].round(4).tolist()
[-0.0, 0.5, 0.9277, 1.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .blocks import blocked, gradient_by_blocks
from .ufuncs import clip

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def _finite(x, out):
    """``x`` clipped to its dtype's finite range, into ``out`` (NaN stays NaN)."""
    big = np.finfo(x.dtype).max
    return clip(x, -big, big, out=out)


#: ``x`` above which ``exp(-x)`` and ``1 + exp(-x)`` are finite, by dtype
_EXP_FINITE_ABOVE = {np.dtype(np.float32): -88.0, np.dtype(np.float64): -709.0}
_least, _largest = np.minimum.reduce, np.maximum.reduce


def _silu_into(x, y, e, finite, ones_plus):
    """``y`` <- ``x / (1 + e)``, ``e`` <- ``exp(-x)``, ``ones_plus`` <- ``1 + e``: five passes
    (``exp(-x)`` overflows to inf below x ~ -88 (float32): the value there is -0.0, and ``x``
    is clipped to the finite range, into ``finite``, so that -inf / inf is no NaN; ``exp`` of
    the clipped values is that of ``x``'s, inf and 0 at the ends)."""
    clip(x, -float(np.finfo(x.dtype).max), np.inf, out=finite)
    _silu_unclipped_into(finite, y, e, ones_plus)


def _silu_unclipped_into(x, y, e, ones_plus):
    """``_silu_into`` without the clip, for ``x`` holding no -inf (-inf / inf would be NaN)."""
    np.negative(x, out=e)
    np.exp(e, out=e)
    np.add(e, 1.0, out=ones_plus)
    np.divide(x, ones_plus, out=y)


def _silu_value(x):
    """The forward for a call no tape records: ``_silu_into``'s five passes, four where the
    block's least value (a reduction, half a pass's time) is no -inf, which the clip leaves
    as it is (a NaN takes the clip, which keeps it: the same bits either way)."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim or not x.size:
        return None
    y = np.empty(x.shape, x.dtype)

    def body(part, y_part, e, finite, ones_plus):
        if _least(part, None) > -np.inf:
            _silu_unclipped_into(part, y_part, e, ones_plus)
            return
        _silu_into(part, y_part, e, finite, ones_plus)
    with np.errstate(over="ignore"):
        blocked(body, (x, y), 3)
    return y, None


def _silu_forward(x):
    """``_silu_into``'s value and, kept for the backward (one product), silu's derivative
    ``(1 + x c) / (1 + e)`` with ``c = sigmoid(-x) = e / (1 + e)`` (not ``1 - s``, which loses
    its digits where s is near 1) from the exponential the value took: seven passes more,
    where the backward from ``e`` took ten (and a product with ``g``). For ``c``, ``e`` is
    capped at the dtype's largest value (where it overflowed, ``c`` is 1: no inf / inf) and
    ``x`` clipped to the finite range (no ``inf * 0``); the division by the uncapped ``1 + e``
    makes the derivative -0.0 where that overflowed, the sign of the rule's underflowed
    value. A block whose least and largest values show neither an infinity, a NaN nor an
    overflow (two reductions, a pass's time together) takes the same values without the three
    clips and the second ``1 + e``: eight passes in all."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim or not x.size:
        return None
    y, slope = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)
    big = float(np.finfo(x.dtype).max)
    lowest = _EXP_FINITE_ABOVE[x.dtype]

    def body(part, y_part, slope_part, e, finite, ones_plus, scratch):
        if _least(part, None) > lowest and _largest(part, None) < np.inf:
            _silu_unclipped_into(part, y_part, e, ones_plus)
            e /= ones_plus
            e *= part
            e += 1.0
            np.divide(e, ones_plus, out=slope_part)
            return
        _silu_into(part, y_part, e, finite, ones_plus)
        clip(e, 0.0, big, out=e)
        np.add(e, 1.0, out=scratch)
        e /= scratch                                     # c
        clip(finite, -np.inf, big, out=finite)
        e *= finite
        e += 1.0
        np.divide(e, ones_plus, out=slope_part)
    with np.errstate(over="ignore"):
        blocked(body, (x, y, slope), 4)
    return y, slope


def _times_slope(g, slope, x):
    """The vjp of a one-input kernel whose taped forward keeps the derivative (silu, mish)."""
    return (np.multiply(g, slope, dtype=slope.dtype),)


def _times_slope_in_place(g, slope, x):
    if type(g) is not np.ndarray or not g.flags.writeable or g.shape != slope.shape \
            or g.dtype != slope.dtype:      # a NumPy scalar, a read-only or broadcast gradient
        return _times_slope(g, slope, x)
    g *= slope
    return (g,)


#: the integers of a float dtype's size: a float's bits and'ed with 0 or -1 (all ones)
_BITS = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def _select_into(values, inside, out, scratch=None):
    """``out`` <- ``values`` where ``inside``, else +0.0, as ``where`` does (an infinite or NaN
    value outside too): the values' bits and'ed with -1 or 0 (made in ``scratch``, or in ``out``
    where ``values`` is another array), no ``inf * 0``. Two integer passes, where the product
    with the boolean mask took as long and ``isfinite`` after it another pass."""
    bits = (out if scratch is None else scratch).view(_BITS[out.dtype])
    np.negative(inside.view(np.int8), out=bits, casting="unsafe")
    np.bitwise_and(values.view(bits.dtype), bits, out=out.view(bits.dtype))
    return out


def _or_generic(out, finite, name, g, x, **params):
    """``(out,)``, or unless ``finite`` (``out`` holds an infinity or a NaN: an infinite or NaN
    ``g`` times a 0 mask is NaN) the gradient by the generic rule of the one-input primitive
    ``name`` (with ``params``)."""
    if finite:
        return (out,)
    from xpgrad.primitive import PRIMITIVES

    from . import namespace
    return (PRIMITIVES[name].vjp(namespace, g, None, [True], [x], params)[0],)


def _hardswish_forward(x):
    """``x h`` with ``h = clip(-3 - x, -6, 0) / -6``, the generic rule's ``(x + 3) / 6``
    clipped to [0, 1] but -0.0 below -3, so that ``x h`` is +0.0 there (the generic rule's
    select gives 0.0; at x = -3, ``-3 - x`` is +0.0 and ``h`` -0.0), and 1 from 3 on (``x h``
    is ``x`` itself); ``x`` is clipped to the finite range (-inf * -0.0 would be NaN). Five
    passes, no select (the generic rule's two nested ``where`` take about 25); between -3 and
    3 the value is ``x ((x + 3) / 6)``, the rule's ``x (x + 3) / 6`` to two roundings."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    y = np.empty(x.shape, x.dtype)
    blocked(_hardswish_into, (x, y), 1, big=float(np.finfo(x.dtype).max))
    return y, None


def _hardswish_into(x, out, h, big):
    np.subtract(-3.0, x, out=h)
    clip(h, -6.0, 0.0, out=h)
    h /= -6.0
    clip(x, -big, np.inf, out=out)
    out *= h


def _hardswish_slope_times(g, x, out, third, step):
    """``out`` <- ``g (t + 1/2 - trunc(t) / 2)``, ``t = clip(x, -3, 3) / 3`` (``_hardswish_vjp``):
    seven passes, no mask."""
    clip(x, -3.0, 3.0, out=third)
    third /= 3.0
    np.trunc(third, out=step)
    step *= -0.5
    step += 0.5
    third += step
    np.multiply(third, g, out=out)


def _hardswish_vjp(g, saved, x):
    """The generic rule's ``where(x <= -3, 0, where(x < 3, g (x / 3 + 1/2), g))`` as ``g``
    times ``t + 1/2 - trunc(t) / 2`` with ``t`` the slope's ``x / 3`` clipped to [-1, 1]:
    ``trunc(t)`` is -1 at and below -3, 0 strictly inside (``x / 3`` rounds to no +-1 there)
    and 1 from 3 on, so the factor is exactly 0, the rule's ``t + 1/2``, or 1, where boolean
    masks took ten passes. Where the product is not finite (a NaN ``x``, which the generic rule
    gives ``g``; an infinite or NaN ``g``, which times 0 is NaN), the generic rule runs: the
    blocks' sums of squares (in cache, where ``isfinite`` took a pass and a mask) say where
    (one that overflows sends finite values there too, the same gradient by the slower way)."""
    squares = []

    def body(g_part, x_part, out_part, third, step):
        _hardswish_slope_times(g_part, x_part, out_part, third, step)
        squares.append(np.vdot(out_part, out_part))     # infinite or NaN where out_part is
    out = gradient_by_blocks(body, g, (x,), 2, ignore=("invalid", "over"))
    return _or_generic(out, np.isfinite(squares).all(), "hardswish", g, x)


def _hardsigmoid_forward(x):
    """``clip(x + 3, 0, 6) (1/6)`` in three in-place passes (the generic rule's three make new
    arrays, and divide): within an ulp of the rule's quotient, 0 and 1 exactly at the ends."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    y = np.empty(x.shape, x.dtype)

    def body(part, out):
        np.add(part, 3.0, out=out)
        clip(out, 0.0, 6.0, out=out)
        out *= 1.0 / 6.0                # half a division's time; 6 times it rounds to 1
    blocked(body, (x, y), 0)
    return y, None


def _hardsigmoid_inside_times(g, x, out, scratch):
    """``out`` <- ``g / 6`` where ``|x| < 3`` (``-3 < x < 3``, no NaN), else +0.0
    (``_select_into``)."""
    inside = np.less(np.abs(x, out=out), 3.0)
    np.divide(g, 6.0, out=out)
    _select_into(out, inside, out, scratch)


def _hardsigmoid_vjp(g, saved, x):
    """The generic rule's ``where(-3 < x < 3, g / 6, 0)`` bit for bit."""
    return (gradient_by_blocks(_hardsigmoid_inside_times, g, (x,), 1),)


def _log_sigmoid_forward(x):
    """``-(max(-x, 0) + log1p(e))``, ``e = exp(-|x|)``: the generic rule's ``-softplus(-x)``
    in place, keeping ``e`` for the backward."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    y, e = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)

    def body(part, out, e_part, positive):
        np.abs(part, out=e_part)
        np.negative(e_part, out=e_part)
        np.exp(e_part, out=e_part)
        np.log1p(e_part, out=out)
        clip(part, -np.inf, 0.0, out=positive)
        np.negative(positive, out=positive)
        out += positive
        np.negative(out, out=out)
    blocked(body, (x, y, e), 1)
    return y, e


def _log_sigmoid_slope_times(g, e, x, out, below):
    """``out`` <- ``g sigmoid(-x)``: ``f / (1 + e)`` with ``f`` 1 where ``x <= 0``, else ``e``
    (a 0/1 mask picks it), the generic rule's ``1 / (1 + e)`` or ``e / (1 + e)`` exactly."""
    np.less_equal(x, 0.0, out=below)
    np.subtract(1.0, below, out=out)
    out *= e
    out += below
    np.add(e, 1.0, out=below)
    out /= below
    out *= g


def _log_sigmoid_vjp(g, e, x):
    return (gradient_by_blocks(_log_sigmoid_slope_times, g, (e, x), 1),)


def _glu_halves(x, axis):
    axis %= x.ndim
    n = x.shape[axis] // 2
    lead = (slice(None),) * axis
    return x[lead + (slice(0, n),)], x[lead + (slice(n, None),)]


def _glu_forward(x, axis):
    """``a / (1 + e)``, ``e = exp(-b)`` kept for the backward (``a``, ``b`` the halves along
    ``axis``): four passes over a half, where the composition of two slices, a sigmoid and a
    product took five and made four tape nodes (whose backward filled a zero array of ``x``'s
    shape per half). ``exp(-b)`` overflows to inf below b ~ -88 (float32): ``a / inf`` is then
    the signed zero the sigmoid's 0 gives, and an infinite ``a`` NaN, as there."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    a, b = _glu_halves(x, axis)
    e = np.negative(b)
    y = np.empty(a.shape, x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):         # inf / inf: NaN, as inf * 0
        np.exp(e, out=e)
        np.add(e, 1.0, out=y)
        np.divide(a, y, out=y)
    return y, e


def _glu_vjp(g, e, x, axis):
    """``g s`` for the first half and ``g s a sigmoid(-b)`` for the second, both from the
    forward's ``e = exp(-b)``: ``s = 1 / (1 + e)`` and ``sigmoid(-b) = e' / (1 + e')`` with
    ``e'`` capped at the dtype's largest value (``_silu_forward``'s ``c``: no inf / inf
    where ``e`` overflowed), written into the halves of one array of ``x``'s shape."""
    a = _glu_halves(x, axis)[0]
    out = np.empty(x.shape, x.dtype)
    first, second = _glu_halves(out, axis)
    ones_plus = np.add(e, 1.0)
    np.divide(g, ones_plus, out=first)                   # g s
    complement = clip(e, 0.0, float(np.finfo(x.dtype).max))
    np.add(complement, 1.0, out=ones_plus)
    complement /= ones_plus                              # sigmoid(-b)
    with np.errstate(invalid="ignore", over="ignore"):   # 0 * inf: NaN, as the rule's
        np.multiply(first, a, out=second)
        second *= complement
    return (out,)


KERNELS = {
    "silu": Kernel(_silu_forward, _times_slope, saves=(), vjp_in_place=_times_slope_in_place,
                   value=_silu_value),
    "hardswish": Kernel(_hardswish_forward, _hardswish_vjp, saves=(0,)),
    "hardsigmoid": Kernel(_hardsigmoid_forward, _hardsigmoid_vjp, saves=(0,)),
    "log_sigmoid": Kernel(_log_sigmoid_forward, _log_sigmoid_vjp, saves=(0,)),
    "glu": Kernel(_glu_forward, _glu_vjp, saves=(0,)),
}
