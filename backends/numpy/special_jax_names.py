"""The NumPy backend's kernels for ``xg.special.dawsn``, ``sici``, ``fresnel`` and ``hyp1f1``:
their values by SciPy's ufuncs (one C loop) where SciPy is as accurate as the generic formulas
(``xpgrad/ops/special_dawsn.py`` ...; tens to hundreds of array passes), those formulas
elsewhere, and the derivatives by the generic rules' identities (``1 - 2 x dawsn``,
``sin(x) / x``, ...), ``hyp1f1``'s ``a / b 1F1(a + 1; b + 1; x)`` by SciPy too. Where SciPy
cannot be imported, or for other dtypes, the kernels decline (the generic rules run).

Against mpmath (1000s of random points, 2026-12-07): SciPy's ``sici`` is within 2e-15 as the
formula; its ``dawsn`` within 2e-15 from 0.1 on but 1.2e-14 below 0.05, so below 0.2 the
Taylor series ``sum_k (-2 x^2)^k x / (2k + 1)!!`` (4e-16); its ``fresnel`` keeps ``pi x^2 /
2`` unreduced, ``eps x^2`` off relative to the ``1 / (pi x)`` amplitude (3e-15 to 4, 2e-14 at
10, 6e-13 past 20, 7e-9 past 1e4), so past ``|x| = 4`` the formula (its phase reduced
exactly; its continued fraction cut to 16 terms, where 8 already give its 2.6e-15 there);
its ``hyp1f1`` within 8e-13 over 1500 random points (``|a| <= 20``, ``0.05 <= b <= 20``,
``|x| <= 600``; 1.3e-13 where the formula's terms are positive and it is 4e-14),
where the formula's alternating series lose up to 1e-8 (``a > b``, x < 0) and, for ``a < 0``
at large x, every digit (0.9 relative); entries with a non-finite argument or result, or
``|x| > 700``, take the formula (SciPy's ``1F1(1; 2; 710)`` overflows, the formula's ``e^x``
halves do not; SciPy's 0 at x = -inf is the formula's NaN; SciPy's may never return past
1e15). float32 inputs are computed in float64 and rounded once, as the rules do.
1000 float64 points, thread CPU, forward: dawsn 0.81 -> 0.05 ms, sici 5.3 -> 0.05 (each of Si
and Ci was the whole formula), fresnel on [-4, 4] 4.4 -> 0.11 (on [-10, 10] 3.8 -> 1.4),
hyp1f1 4.7 -> 0.26 (``docs/special.md`` has the table).

>>> import numpy as np
>>> out, _ = KERNELS["special_dawsn"].forward(np.array([0.0, 0.5, 1e-3]))
>>> [round(v, 12) for v in out.tolist()]
[0.0, 0.424436383502, 0.000999999333]
"""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np

from xpgrad.backend import Kernel

from .special_scipy import scipy_special

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_DAWSN_TAYLOR_BELOW = 0.2        # 2 x^2 = 0.08: term 12 is below 1e-17 of the sum
_DAWSN_TAYLOR_TERMS = 12
_FRESNEL_SCIPY_UP_TO = 4.0       # SciPy's unreduced phase: 3e-15 of the amplitude there
_HYP1F1_SCIPY_UP_TO = 700.0      # |x| beyond: the formula (SciPy's may not return, see below)
_FRESNEL_TAIL_TERMS = 16         # the formula's fraction past 4: 8 terms reach its 2.6e-15


def _wide(args):
    """``args`` in float64, or None (decline) without SciPy or for non-float dtypes."""
    if scipy_special() is None or any(getattr(v, "dtype", None) not in _FLOATS for v in args):
        return None
    return [np.asarray(v, np.float64) for v in args]


def _narrowed(out, like):
    """``out`` as an array of ``like``'s dtype (float32 rounded once; inf past its range, as the
    rules' cast)."""
    out = np.asarray(out)
    if out.dtype == like.dtype:
        return out
    with np.errstate(over="ignore"):
        return out.astype(like.dtype)


def dawsn_taylor(x):
    """Dawson's integral by its Taylor series ``sum_k (-2 x^2)^k x / (2k + 1)!!``, for
    ``|x| < 0.2``.

    >>> round(float(dawsn_taylor(np.array(0.1))), 14)
    0.09933599239785
    """
    step = -2.0 * x * x
    term, total = x, x
    for k in range(1, _DAWSN_TAYLOR_TERMS):
        term = term * step / (2 * k + 1)
        total = total + term
    return total


def _dawsn_forward(x):
    wide = _wide([x])
    if wide is None:
        return None
    (wide,) = wide
    out = np.asarray(scipy_special().dawsn(wide))
    near = np.abs(wide) < _DAWSN_TAYLOR_BELOW
    if near.any():
        out[near] = dawsn_taylor(wide[near])
    return _narrowed(out, x), None


def _sici_forward(index):
    def forward(x):
        wide = _wide([x])
        if wide is None:
            return None
        return _narrowed(scipy_special().sici(wide[0])[index], x), None
    return forward


def _fresnel_forward(index):
    from xpgrad.ops.special_fresnel import _fresnel

    def forward(x):
        wide = _wide([x])
        if wide is None:
            return None
        (wide,) = wide
        with np.errstate(invalid="ignore"):         # NaN compares false: SciPy's NaN kept
            beyond = ~(np.abs(wide) <= _FRESNEL_SCIPY_UP_TO) & ~np.isnan(wide)
        out = np.asarray(scipy_special().fresnel(np.where(beyond, 0.0, wide))[index])
        if beyond.any():
            with np.errstate(all="ignore"):
                out[beyond] = _fresnel(npx, wide[beyond], _FRESNEL_TAIL_TERMS)[index]
        return _narrowed(out, x), None
    return forward


def hyp1f1_values(a, b, x):
    """``1F1(a; b; x)`` of float64 arrays by SciPy, broadcast; entries with a non-finite
    argument or value, or ``|x| > 700``, by the generic formula (SciPy 1.17's loops without
    end at ``hyp1f1(-0.5, 2, x)`` from x ~ 1e15 on, inf included, and its ``1F1(-0.5; 2;
    1e4)`` is +inf, not -inf; past 700 ``e^x`` overflows or underflows, the formula's
    asymptotic series holds).

    >>> f"{float(hyp1f1_values(np.array(1.0), np.array(2.0), np.array(710.0))):.6e}"
    '3.146472e+305'
    """
    from xpgrad.ops.special_hyp1f1 import _hyp1f1

    a, b, x = np.broadcast_arrays(a, b, x)
    with np.errstate(all="ignore"):
        usual = np.isfinite(a) & np.isfinite(b) & (np.abs(x) <= _HYP1F1_SCIPY_UP_TO)
        out = np.array(scipy_special().hyp1f1(np.where(usual, a, 1.0), np.where(usual, b, 1.0),
                                              np.where(usual, x, 0.0)), dtype=np.float64)
        redo = ~usual | ~np.isfinite(out)
        if redo.any():
            out[redo] = _hyp1f1(npx, a[redo], b[redo], x[redo])
    return out


def _hyp1f1_forward(a, b, x):
    wide = _wide([a, b, x])
    if wide is None:
        return None
    return _narrowed(hyp1f1_values(*wide), x), None


def _hyp1f1_vjp(g, saved, a, b, x):
    """a and b by the generic rule (it refuses, as JAX's); x: ``g a / b 1F1(a + 1; b + 1; x)``."""
    wide_a, wide_b, wide_x = (np.asarray(v, np.float64) for v in (a, b, x))
    with np.errstate(all="ignore"):
        slope = (wide_a / wide_b) * hyp1f1_values(wide_a + 1.0, wide_b + 1.0, wide_x)
    return NotImplemented, NotImplemented, _narrowed(g * slope, x)


def _generic_vjp(g, saved, x):
    return (NotImplemented,)        # the generic rule's identity: a few array passes


KERNELS = {"special_dawsn": Kernel(_dawsn_forward, _generic_vjp, saves=(0, "output")),
           "special_si": Kernel(_sici_forward(0), _generic_vjp, saves=(0,)),
           "special_ci": Kernel(_sici_forward(1), _generic_vjp, saves=(0,)),
           "special_fresnel_s": Kernel(_fresnel_forward(0), _generic_vjp, saves=(0,)),
           "special_fresnel_c": Kernel(_fresnel_forward(1), _generic_vjp, saves=(0,)),
           "special_hyp1f1": Kernel(_hyp1f1_forward, _hyp1f1_vjp, saves=(0, 1, 2))}
