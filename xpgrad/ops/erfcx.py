"""``xg.special.erfcx``, the scaled complementary error function ``exp(x**2) erfc(x)``
(``torch.special.erfcx``, ``scipy.special.erfcx``, ``jax.scipy.special``'s): finite where
``erfc`` underflows, about ``1 / (x sqrt(pi))`` far right, and differentiable to any order,
``erfcx'(x) = 2 x erfcx(x) - 2 / sqrt(pi)``.

Right of 10 both the value and its derivative are their asymptotic series in ``1 / (2 x**2)``
(the derivative's formula would cancel all its digits there: ``2 x erfcx(x)`` tends to
``2 / sqrt(pi)``); from 0.5 to 10 the value is erfc's fitted form without its ``exp(-x**2)``
(``formulas.erfc_exponent``), below 0.5 ``exp(x**2) (1 - erf(x))``, and left of 0
``2 exp(x**2) - erfcx(-x)`` (``x**2`` split as ``erfc`` does, so its rounding does not reach the
result), inf past -26.6.

>>> import xpgrad as xg
>>> x = xg.asarray([0.0, 30.0], dtype=xg.float64)
>>> [round(v, 12) for v in erfcx(x).tolist()]
[1.0, 0.018795888861]
"""
from __future__ import annotations

import math

from ..primitive import apply
from . import formulas
from . import special_formulas as sf
from .special import _call, _in_float64, _primitive, _real

_INVERSE_SQRT_PI = 1.0 / math.sqrt(math.pi)
_ASYMPTOTIC_FROM = 10.0
_ASYMPTOTIC_TERMS = 16          # at x = 10 the 16th term, 31!! / 200^16, is 3e-19


def _asymptotic_sum(xp, z, start):
    """``sum_n>=start (-1)^n (2n - 1)!! / (2 z^2)^n``."""
    step = 1.0 / (2.0 * z * z)
    term = xp.ones_like(z)
    total = xp.ones_like(z) if start == 0 else xp.zeros_like(z)
    for n in range(1, _ASYMPTOTIC_TERMS + 1):
        term = term * (-(2 * n - 1) * step)
        total = total + term
    return total


def _right(xp, z):
    """``erfcx(z)`` for z >= 0: below 0.5 ``exp(z**2) (1 - erf(z))`` (erf's Taylor series;
    erfc's fit is 1.8e-15 off at 0)."""
    near = xp.where(z < _ASYMPTOTIC_FROM, z, 1.0)
    t = 2.0 / (2.0 + near)
    fitted = t * xp.exp(formulas.erfc_exponent(xp, t))
    small = xp.where(z < 0.5, z, 0.0)
    fitted = xp.where(z < 0.5, xp.exp(small * small) * (1.0 - sf.erf(xp, small)), fitted)
    far = xp.where(z >= _ASYMPTOTIC_FROM, z, 2.0 * _ASYMPTOTIC_FROM)
    asymptotic = _INVERSE_SQRT_PI / far * _asymptotic_sum(xp, far, 0)
    return xp.where(z >= _ASYMPTOTIC_FROM, asymptotic, fitted)


def scaled_erfc(xp, x):
    """``exp(x**2) erfc(x)``: 0 at inf, inf at -inf (SciPy's), NaN at NaN."""
    magnitude = xp.where(x == x, xp.abs(x), 0.0)
    right = _right(xp, magnitude)
    h = xp.floor(magnitude * 16.0) / 16.0        # h**2 exact: no rounding of x**2 reaches it
    left = 2.0 * xp.exp(h * h) * xp.exp((magnitude - h) * (magnitude + h)) - right
    value = xp.where(x >= 0, right, xp.where(x == -xp.inf, xp.inf, left))
    return xp.where(x != x, xp.nan, value)


def scaled_erfc_slope(xp, x):
    """``erfcx'(x) = 2 x erfcx(x) - 2 / sqrt(pi)``; right of 10 its asymptotic series
    ``2 / sqrt(pi) sum_n>=1 (-1)^n (2n - 1)!! / (2 x^2)^n`` (no cancellation)."""
    far = xp.where(x >= _ASYMPTOTIC_FROM, x, 2.0 * _ASYMPTOTIC_FROM)
    asymptotic = 2.0 * _INVERSE_SQRT_PI * _asymptotic_sum(xp, far, 1)
    direct = 2.0 * x * scaled_erfc(xp, x) - 2.0 * _INVERSE_SQRT_PI
    return xp.where(x >= _ASYMPTOTIC_FROM, asymptotic, direct)


def _slope_rule(xp, g, ans, x):
    """``erfcx'' = 2 erfcx + 2 x erfcx'``, from the slope ``ans``."""
    return g * (2.0 * _call(_erfcx, xp, x) + 2.0 * x * ans)


_erfcx_slope = _primitive("erfcx_derivative", _in_float64(scaled_erfc_slope), _slope_rule,
                          saves=(0, "output"))
_erfcx = _primitive("erfcx", _in_float64(scaled_erfc),
                    lambda xp, g, ans, x: g * _call(_erfcx_slope, xp, x), saves=(0,))


def erfcx(x, /):
    """The scaled complementary error function ``exp(x**2) erfc(x)`` (``torch.special.erfcx``,
    ``scipy.special.erfcx``): ~``1 / (x sqrt(pi))`` far right, where ``erfc`` underflows;
    inf left of -26.6 (overflow), as SciPy's. float64 within 2e-15 relative of mpmath.
    Its derivative ``2 x erfcx(x) - 2 / sqrt(pi)`` is an asymptotic series right of 10 (the
    formula there cancels to nothing; PyTorch's keeps ~``x**2`` ulps of error), to any order.

    >>> import xpgrad as xg
    >>> x = xg.asarray(1e4, dtype=xg.float64)
    >>> f"{erfcx(x).item():.12e}", f"{xg.grad(erfcx)(x).item():.6e}"
    ('5.641895807268e-05', '-5.641896e-09')
    """
    return apply(_erfcx, _real("erfcx", x))


__all__ = ["erfcx"]
