"""NumPy kernels of ``hardtanh`` (relu6 too) and ``softsign`` on float32/float64 arrays, whose
generic rules are selects (``ops/activations_torch.py``): here in-place ufunc passes over
cache-sized blocks (``blocks.py``).

``hardtanh``: the forward is one clip; the gradient is ``g`` where ``min_val < x < max_val``,
else +0.0 (at NaN too, as the generic rule), picked by bits (``_select_into``: an infinite or
NaN ``g`` outside gives 0, not ``inf * 0``). ``softsign``: ``x / (1 + |x|)`` with
``x`` clipped to the finite range (``max / (1 + max)`` is 1: the generic rule's +-1 at +-inf
without its two selects); the gradient ``g / d / d``, ``d = 1 + |x|``, as the generic rule's.

>>> import numpy as np
>>> x = np.array([-np.inf, -2.0, 0.5, 3.0, np.nan])
>>> KERNELS["softsign"].forward(x)[0].tolist()[:4]
[-1.0, -0.6666666666666666, 0.3333333333333333, 0.75]
>>> KERNELS["hardtanh"].vjp(np.ones(5), None, x, min_val=-1.0, max_val=1.0)[0].tolist()
[0.0, 0.0, 1.0, 0.0, 0.0]
"""
from __future__ import annotations

import functools

import numpy as np

from xpgrad.backend import Kernel

from .activations import _FLOATS, _finite, _select_into
from .blocks import blocked, gradient_by_blocks
from .ufuncs import clip


@functools.lru_cache(maxsize=256)
def _bounds_fit(dtype, min_val, max_val):
    """Whether the bounds keep their values in ``dtype`` (``1e300`` in float32 does not: the
    generic rule then runs); remembered, as a call's bounds are nearly always the last one's
    (the check took 3 us, relu6 at 128x256 float32 4.5)."""
    wanted = np.array([min_val, max_val])
    with np.errstate(over="ignore"):
        bounds = wanted.astype(dtype)
    return bool((np.isfinite(bounds) == np.isfinite(wanted)).all())


def _hardtanh_forward(x, min_val, max_val):
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim \
            or not _bounds_fit(x.dtype, min_val, max_val):
        return None
    return clip(x, min_val, max_val), None


def _hardtanh_inside(g, x, out, min_val, max_val):
    inside, below = np.greater(x, min_val), np.less(x, max_val)
    np.logical_and(inside, below, out=inside)
    _select_into(g, inside, out)


def _hardtanh_vjp(g, saved, x, min_val, max_val):
    """The generic rule's ``where((x > min_val) & (x < max_val), g, 0)`` bit for bit
    (``_select_into``)."""
    if not _bounds_fit(x.dtype, min_val, max_val):
        return (NotImplemented,)
    return (gradient_by_blocks(_hardtanh_inside, g, (x,), 0, min_val=min_val,
                               max_val=max_val),)


def _softsign_forward(x):
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    y = np.empty(x.shape, x.dtype)

    def body(part, out, denominator):
        _finite(part, out)
        np.abs(out, out=denominator)
        denominator += 1.0
        out /= denominator
    blocked(body, (x, y), 1)
    return y, None


def _softsign_vjp(g, saved, x):
    """``g / d / d``, ``d = 1 + |x|`` (not ``/ d**2``, which overflows first)."""
    def body(g_part, x_part, out, d):
        np.abs(x_part, out=d)
        d += 1.0
        np.divide(g_part, d, out=out)
        out /= d
    return (gradient_by_blocks(body, g, (x,), 1),)


KERNELS = {
    "hardtanh": Kernel(_hardtanh_forward, _hardtanh_vjp, saves=(0,)),
    "softsign": Kernel(_softsign_forward, _softsign_vjp, saves=(0,)),
}
