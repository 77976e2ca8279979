"""``spence`` (SciPy's dilogarithm, ``Li2(1 - z)``) and ``zetac`` (``zeta(x) - 1``), under
SciPy's names, differentiable.

``spence`` is a primitive: the power series ``Li2(u) = sum u^k / k^2`` for ``|u| <= 1/2``,
Euler's reflection ``Li2(u) = pi^2/6 - log(u) log(1 - u) - Li2(1 - u)`` toward ``z = 0``, and
``spence(z) = -spence(1/z) - log(z)^2 / 2`` past 1.5; its derivative ``log(z) / (1 - z)``
(-1 at 1) is written with differentiable calls, so second order works too.
``zetac`` composes: ``zeta(x, 2)`` (the Hurwitz zeta, so no digit is lost to the 1) above 1,
Borwein's alternating series ``eta(x) / (1 - 2^(1 - x))`` on [-1/2, 1), and Riemann's
functional equation below (``sindg`` makes it exactly -1 at the negative even integers).

>>> import xpgrad as xg
>>> round(xg.special.spence(xg.asarray(0.0, dtype=xg.float64)).item(), 12)     # pi^2 / 6
1.644934066848
"""
from __future__ import annotations

import math

import numpy as np

from ..primitive import Primitive, apply
from .elementwise import exp, expm1
from .gamma_function import gamma
from .hurwitz_zeta import zeta
from .selection import where
from .special import _in_float64, _quiet, _real, gammaln
from .special_elementary import sindg

_PI2_6 = math.pi ** 2 / 6.0
_SERIES_TERMS = 56              # 2^-56 / 56^2 is below 1e-20
_FOLD_ABOVE = 1.5               # spence(z) from spence(1 / z) past
_SLOPE_SERIES_WITHIN = 0.125    # the slope's series about z = 1 within (8^-31: below 1e-27)
_SLOPE_SERIES_TERMS = 31


def _series(xp, u):
    """``Li2(u) = sum_k u^k / k^2`` for ``|u| <= 1/2``."""
    power, total = u, u
    for k in range(2, _SERIES_TERMS):
        power = power * u
        total = total + power / (k * k)
    return total


def _unit(xp, z):
    """``spence(z)`` for ``0 <= z <= 1.5``: the series of ``1 - z`` from 1/2 up, Euler's
    reflection below."""
    near = z >= 0.5
    series = _series(xp, 1.0 - xp.where(near, z, 1.0))
    low = xp.where(near, 0.25, z)
    reflected = (_PI2_6 - xp.log(low) * xp.log1p(-low) - _series(xp, low))
    reflected = xp.where(low == 0, _PI2_6, reflected)
    return xp.where(near, series, reflected)


def _spence(xp, z):
    inside = (z >= 0) & (z < xp.inf)
    folded = inside & (z > _FOLD_ABOVE)
    w = xp.where(folded, 1.0 / xp.where(folded, z, 2.0), xp.where(inside, z, 1.0))
    log_z = xp.log(xp.where(folded, z, 2.0))
    value = xp.where(folded, -_unit(xp, w) - 0.5 * log_z * log_z, _unit(xp, w))
    return xp.where(inside, value, xp.nan)            # SciPy's NaN at inf too


def _spence_slope(xp, g, ans, z):
    """``g log(z) / (1 - z)``; where ``|u| = |z - 1| < 1/8`` its series ``-sum_k (-u)^k /
    (k + 1)`` (-1 at z = 1): the quotient's own derivatives cancel there (``eps / |u|^n``
    of the n-th lost; at z = 1 a constant -1 gave spence no second derivative)."""
    near = xp.abs(z - 1.0) < _SLOPE_SERIES_WITHIN
    u = xp.where(near, z - 1.0, 0.0)
    series = xp.zeros_like(u) + 1.0 / _SLOPE_SERIES_TERMS
    for k in range(_SLOPE_SERIES_TERMS - 2, -1, -1):
        series = 1.0 / (k + 1) - u * series
    safe = xp.where(near, 2.0, z)
    return g * xp.where(near, -series, xp.log(safe) / (1.0 - safe))


_spence_prim = Primitive("special_spence", _quiet(_in_float64(_spence)),
                         _quiet(_spence_slope), saves=(0,))


def spence(z, /):
    """SciPy's dilogarithm ``spence(z) = int_1^z log(t) / (1 - t) dt = Li2(1 - z)``
    (``scipy.special.spence``, ``jax.scipy.special.spence``) for real z >= 0: pi^2/6 at 0, 0 at
    1, NaN below 0 and at inf (as SciPy's); its derivative is ``log(z) / (1 - z)``.

    >>> import xpgrad as xg
    >>> round(xg.special.spence(xg.asarray(2.0, dtype=xg.float64)).item(), 12)     # -pi^2/12
    -0.822467033424
    """
    return apply(_spence_prim, _real("spence", z, "z"))


# -- zetac ----------------------------------------------------------------------------------
_BORWEIN_TERMS = 24             # error ~3 / (3 + sqrt 8)^24 ~ 1e-18
_REFLECT_BELOW = -0.5           # Borwein's series above (to 1e-15), the functional equation below
_DUPLICATE_BELOW = -170.0        # Gamma(1 - s) overflows float64 below -170.6


def _borwein_weights(n):
    """``-(d_k - d_n) / d_n (-1)^k`` for k < n: eta(s) = sum_k weight_k (k + 1)^-s."""
    partial, d = 0.0, []
    for i in range(n + 1):
        partial += math.factorial(n + i - 1) * 4.0 ** i / (math.factorial(n - i)
                                                          * math.factorial(2 * i))
        d.append(n * partial)
    return [-(-1.0) ** k * (d[k] - d[n]) / d[n] for k in range(n)]


_ETA_WEIGHTS = _borwein_weights(_BORWEIN_TERMS)
_LOGS = [math.log(k + 1.0) for k in range(_BORWEIN_TERMS)]


def _zeta_below_one(s):
    """``zeta(s)`` for ``-1/2 <= s < 1``: Borwein's ``eta(s)``, over ``1 - 2^(1 - s)`` (as
    ``-expm1``: exact toward s = 1)."""
    eta = 0.0
    for weight, log_k in zip(_ETA_WEIGHTS, _LOGS):
        eta = eta + weight * exp(-s * log_k)
    return eta / -expm1((1.0 - s) * math.log(2.0))


def _two_pi_power_gamma(s):
    """``(2 pi)^s Gamma(1 - s)`` for ``s < -1/2``. Below ``_DUPLICATE_BELOW``, where
    ``Gamma(1 - s)`` overflows though ``zeta(s)`` is finite to about -260, as Legendre's
    duplication ``Gamma(1 - s) = 2^-s Gamma((1 - s) / 2) Gamma(1 - s / 2) / sqrt(pi)``: two
    finite halves ``pi^(s / 2) Gamma(.)``, each an ``exp`` of logarithms so that no gradient's
    product overflows (each branch sees a stand-in ``s`` in the other's
    region, so no inf reaches a gradient)."""
    far = s < _DUPLICATE_BELOW
    near_s = where(far, -1.0, s)
    direct = exp(near_s * math.log(2.0 * math.pi)) * gamma(1.0 - near_s)
    half = where(far, s, 2.0 * _DUPLICATE_BELOW) * 0.5
    log_root = half * math.log(math.pi)
    duplicated = (exp(log_root + gammaln(0.5 - half)) * exp(log_root + gammaln(1.0 - half))
                  / math.sqrt(math.pi))
    return where(far, duplicated, direct)


def zetac(x, /):
    """``zeta(x) - 1`` of the Riemann zeta function (``scipy.special.zetac``), accurate for large
    x (it is ``zeta(x, 2)`` there, ~2^-x): inf at 1, -1.5 at 0, exactly -1 at the negative even
    integers, NaN at -inf; within 2e-15 of mpmath from -1/2 up, 5e-14 at -20 (the functional
    equation's gamma and powers; 1e-13 below -170, where ``Gamma(1 - x)`` alone would overflow,
    to about -260, where zeta itself does). Differentiable once (it calls ``zeta``, whose s
    takes no second derivative).

    >>> import xpgrad as xg
    >>> xg.special.zetac(xg.asarray([0.0, -2.0], dtype=xg.float64)).tolist()
    [-1.5, -1.0]
    """
    x = _real("zetac", x)
    above = x > 1
    middle = (x >= _REFLECT_BELOW) & (x < 1)
    below = x < _REFLECT_BELOW
    with np.errstate(all="ignore"):
        large = zeta(where(above, x, 2.0), 2.0)
        central = _zeta_below_one(where(middle, x, 0.5)) - 1.0
        s = where(below, x, -1.0)
        # zeta(s) = 2^s pi^(s - 1) sin(pi s / 2) Gamma(1 - s) zeta(1 - s)
        sine = sindg(90.0 * s)
        # exactly -1 at the even s below -171, where gamma(1 - s) is inf (every s < -2^53)
        reflected = where((sine == 0) & (s < -171.0), -1.0, _two_pi_power_gamma(s) / math.pi
                          * sine * (1.0 + zeta(1.0 - s, 2.0)) - 1.0)
    value = where(above, large, where(middle, central, reflected))
    edges = where(x == 1, math.inf, where(x == -math.inf, math.nan, value))
    edges = where(x == math.inf, 0.0, where(x == 0, -1.5, edges))
    return where(x != x, x, edges)


__all__ = ["spence", "zetac"]
