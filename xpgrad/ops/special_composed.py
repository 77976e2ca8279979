"""``xg.special`` functions composed of others, under SciPy's names: the Box-Cox transforms
(``boxcox``, ``boxcox1p``, ``inv_boxcox``, ``inv_boxcox1p``), ``log_expit``, ``erfcinv``,
``cosm1``, ``rgamma``, ``gammasgn``, real ``loggamma`` and the distribution functions of the
Gamma (``gdtr``, ``gdtrc``), Poisson (``pdtr``, ``pdtrc``), binomial (``bdtr``) and negative
binomial (``nbdtr``) laws.

SciPy's array-API dispatch (``SCIPY_ARRAY_API=1``) looks these names up in ``xg.special``, and
NumPy's ufunc dispatch does for SciPy's plain ufuncs (``log_expit``, ``erfcinv``), so
``scipy.special.boxcox(t, 0.5)`` of a Tensor records on a tape; without them SciPy converts the
Tensor with ``np.asarray``. Each is a composition of differentiable functions: gradients
follow in every continuous argument (the count ``k`` of the discrete laws is floored, as SciPy
floors it, so it has none).

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 4.0], dtype=xg.float64)
>>> [round(v, 12) for v in xg.special.boxcox(x, 0.5).tolist()]   # (x**0.5 - 1) / 0.5
[0.0, 2.0]
"""
from __future__ import annotations

import math

from .elementwise import exp, expm1, floor, isfinite, isinf, isnan, log, log1p, signbit, sin
from .elementwise_unary import abs as absolute
from ..creation import ones_like
from .casting import astype
from ..dtypes import float32, float64
from .gamma_function import gamma
from .incomplete_beta import _same_dtype, betainc, betaincc
from .incomplete_gamma import gammainc, gammaincc
from .selection import where
from .special import _real, gammaln
from .special_more import ndtri
from .activations_torch import log_sigmoid

_SQRT_HALF = math.sqrt(0.5)


def _count(k):
    """``floor(k)``, NaN where ``k < 0`` (SciPy's domain error for a negative count)."""
    return where(k < 0, math.nan, floor(k))


#: below it (of ``z = |lmbda L|``, ``|lmbda y|``) the Box-Cox series to ``z**5`` is exact in
#: float64 (next term ~1e-18): ``expm1(lmbda L) / lmbda`` loses ``eps / z`` of its gradient to
#: cancelling (at 1e-20 it was -16384, not 0.42), and at subnormal lmbda its value too
_BOX_COX_SERIES = 1e-3


def _box_cox(name, x, lmbda, log_of):
    """``(exp(lmbda log_of(x)) - 1) / lmbda``, ``log_of(x)`` where ``lmbda == 0``, with no
    0/0 on the branch ``where`` leaves (its gradient would be NaN). Where ``|lmbda L|`` is
    below 1e-3 (``L = log_of(x)`` finite) the value is the series
    ``L (1 + z / 2 + z**2 / 6 + ... + z**5 / 720)``, ``z = lmbda L``."""
    x, lmbda = _same_dtype(name, [x, lmbda], ("x", "lmbda"))
    logged = log_of(x)
    finite = where(isfinite(logged), logged, 0.0)
    small = (lmbda == 0) | (isfinite(logged) & (absolute(lmbda * finite) < _BOX_COX_SERIES))
    safe = where(small, 1.0, lmbda)
    z = where(small, lmbda, 0.0) * finite     # no inf z**5 (its gradient NaN) where not used
    series = logged + finite * z * (1 / 2 + z * (1 / 6 + z * (1 / 24 + z * (1 / 120 + z / 720))))
    return where(small, series, expm1(safe * logged) / safe)


def boxcox(x, lmbda, /):
    """The Box-Cox transform ``(x**lmbda - 1) / lmbda``, ``log(x)`` for ``lmbda == 0``
    (``scipy.special.boxcox``; accurate for small ``lmbda``, by ``expm1``). Differentiable in
    both arguments; NaN for ``x < 0``.

    >>> import xpgrad as xg
    >>> [round(v, 12) for v in xg.special.boxcox(xg.asarray([1.0, 9.0]), 0.5).tolist()]
    [0.0, 4.0]
    """
    return _box_cox("boxcox", x, lmbda, log)


def boxcox1p(x, lmbda, /):
    """``((1 + x)**lmbda - 1) / lmbda``, ``log1p(x)`` for ``lmbda == 0``
    (``scipy.special.boxcox1p``), accurate for small ``x`` and ``lmbda``.

    >>> import xpgrad as xg
    >>> xg.special.boxcox1p(xg.asarray([0.0, 3.0], dtype=xg.float64), 0.5).tolist()
    [0.0, 2.0]
    """
    return _box_cox("boxcox1p", x, lmbda, log1p)


def _inverse_box_cox(name, y, lmbda, exp_of):
    """``exp_of(log1p(lmbda y) / lmbda)``; where ``z = lmbda y`` is below 1e-3 in magnitude
    (and at ``lmbda == 0``) the exponent is the series ``y (1 - z / 2 + z**2 / 3 - ... -
    z**5 / 6)``."""
    y, lmbda = _same_dtype(name, [y, lmbda], ("y", "lmbda"))
    finite = where(isfinite(y), y, 0.0)
    small = (lmbda == 0) | (isfinite(y) & (absolute(lmbda * finite) < _BOX_COX_SERIES))
    safe = where(small, 1.0, lmbda)
    z = where(small, lmbda, 0.0) * finite     # as _box_cox's
    series = y - finite * z * (1 / 2 - z * (1 / 3 - z * (1 / 4 - z * (1 / 5 - z / 6))))
    return exp_of(where(small, series, log1p(safe * y) / safe))


def inv_boxcox(y, lmbda, /):
    """The inverse of ``boxcox``: ``(1 + lmbda y)**(1 / lmbda)``, ``exp(y)`` for
    ``lmbda == 0`` (``scipy.special.inv_boxcox``).

    >>> import xpgrad as xg
    >>> [round(v, 12) for v in xg.special.inv_boxcox(xg.asarray([0.0, 4.0]), 0.5).tolist()]
    [1.0, 9.0]
    """
    return _inverse_box_cox("inv_boxcox", y, lmbda, exp)


def inv_boxcox1p(y, lmbda, /):
    """The inverse of ``boxcox1p``: ``(1 + lmbda y)**(1 / lmbda) - 1``, ``expm1(y)`` for
    ``lmbda == 0`` (``scipy.special.inv_boxcox1p``).

    >>> import xpgrad as xg
    >>> xg.special.inv_boxcox1p(xg.asarray([0.0, 2.0], dtype=xg.float64), 0.5).tolist()
    [0.0, 3.0]
    """
    return _inverse_box_cox("inv_boxcox1p", y, lmbda, expm1)


def log_expit(x, /):
    """``log(expit(x))``, finite far in the left tail (``scipy.special.log_expit``;
    ``torch.nn.functional.logsigmoid``, ``xg.nn.log_sigmoid``).

    >>> import xpgrad as xg
    >>> xg.special.log_expit(xg.asarray([-800.0, 0.0], dtype=xg.float64)).tolist()[0]
    -800.0
    """
    return log_sigmoid(_real("log_expit", x))


def erfcinv(y, /):
    """The inverse of ``erfc`` on ``[0, 2]``: ``-ndtri(y / 2) / sqrt(2)``
    (``scipy.special.erfcinv``), accurate for small ``y``; ``+-inf`` at 0 and 2, NaN outside.

    >>> import xpgrad as xg
    >>> round(xg.special.erfcinv(xg.special.erfc(xg.asarray(0.5, dtype=xg.float64))).item(), 12)
    0.5
    """
    y = _real("erfcinv", y, "y")
    # in float64: float32's y / 2 rounds 1e-45 to 0 (erfcinv inf, not 10.02); and there y / 2
    # rounds -5e-324 to -0.0, which ndtri takes for 0
    wide = astype(y, float64)
    return astype(where(wide < 0, math.nan, -ndtri(wide * 0.5) * _SQRT_HALF), y.dtype)


def cosm1(x, /):
    """``cos(x) - 1`` without the cancellation near 0: ``-2 sin(x / 2)**2``
    (``scipy.special.cosm1``).

    >>> import xpgrad as xg
    >>> f"{xg.special.cosm1(xg.asarray(1e-8, dtype=xg.float64)).item():.6e}"
    '-5.000000e-17'
    """
    half = sin(_real("cosm1", x) * 0.5)
    return -2.0 * half * half


def gamma_pole(x):
    """Where ``Gamma(x)`` has a pole: 0, -1, -2, ... (and ``-inf``)."""
    return (x <= 0) & (x == floor(x))


def rgamma(x, /):
    """``1 / Gamma(x)``, 0 at the poles ``x = 0, -1, -2, ...`` and ``x`` next to 0
    (``scipy.special.rgamma``); its gradient at a pole ``-n`` is 0 here, where the limit is
    ``(-1)**n n!``.

    >>> import xpgrad as xg
    >>> xg.special.rgamma(xg.asarray([0.0, 3.0], dtype=xg.float64)).tolist()
    [0.0, 0.5]
    """
    x = _real("rgamma", x)
    pole = gamma_pole(x)
    # 1 / Gamma(x) = x + euler_gamma x**2 + ...: x itself to the last bit next to 0, where
    # Gamma(x) overflows (below 5.6e-309)
    tiny = absolute(x) < 1e-20
    # Gamma(x) overflows above 171.62, where 1 / Gamma(x) is still subnormal (3.8e-309 at
    # 171.7, the last one, 5e-324, at 178.3): 1 / Gamma(x - 8) (normal) over the product of
    # x - 1, ..., x - 8 (1e18), rounded once into the subnormals; 0 above 179 (float32:
    # above 35.04, down to 1.4e-45 at 41.8)
    start, end = _FAR.get(x.dtype, (171.0, 179.0))
    far = x > start
    huge = x > end
    return where(pole | huge, 0.0, where(tiny, x, where(
        far, _rgamma_far(where(far & ~huge, x, start + 1.0)),
        1.0 / gamma(where(pole | tiny | far, 0.5, x)))))


#: the x past which ``rgamma`` divides 1 / Gamma(x - 8) by a product, and past which it is 0
_FAR = {float32: (35.0, 42.0), float64: (171.0, 179.0)}


def _rgamma_far(x):
    """``1 / Gamma(x)`` for ``171 < x <= 179`` (float32: ``35 < x <= 42``; ``rgamma``):
    ``1 / Gamma(x - 8)`` divided by
    ``(x - 1) (x - 2) ... (x - 8)``, so no step overflows."""
    product = x - 1.0
    for k in range(2, 9):
        product = product * (x - float(k))
    return 1.0 / gamma(x - 8.0) / product


def gammasgn(x, /):
    """The sign of ``Gamma(x)``: 1 for ``x > 0`` and ``x == +0``, -1 for ``x == -0``,
    ``(-1)**ceil(-x)`` between the poles of the negative axis, NaN at them, at ``-inf`` and
    NaN (``scipy.special.gammasgn``). Piecewise constant, so off the tapes (``tape.gradient``
    gives None, as of ``xg.floor``).

    >>> import xpgrad as xg
    >>> xg.special.gammasgn(xg.asarray([2.0, -0.5, -1.5, -1.0], dtype=xg.float64)).tolist()
    [1.0, -1.0, 1.0, nan]
    """
    x = _real("gammasgn", x)
    one = ones_like(x)
    below = floor(x)
    even = below - 2.0 * floor(below * 0.5) == 0
    negative = where(x == 0, where(signbit(x), -one, one), where(even, one, -one))
    pole = (x < 0) & ((x == below) | isinf(x))
    return where(x > 0, one, where(pole | isnan(x), math.nan, negative))


def loggamma(x, /):
    """``log(Gamma(x))`` of real ``x``: ``gammaln(x)`` for ``x >= 0``, NaN for ``x < 0``
    (``scipy.special.loggamma`` of real input; its complex branch is refused).

    >>> import xpgrad as xg
    >>> round(xg.special.loggamma(xg.asarray(4.0, dtype=xg.float64)).item(), 12)  # log 6
    1.791759469228
    """
    x = _real("loggamma", x)
    return where(x < 0, math.nan, gammaln(where(x < 0, 1.0, x)))


def gdtr(a, b, x, /):
    """The Gamma distribution's CDF at ``x`` with rate ``a`` and shape ``b``:
    ``gammainc(b, a x)`` (``scipy.special.gdtr``).

    >>> import xpgrad as xg
    >>> round(xg.special.gdtr(1.0, 1.0, xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.632120558829
    """
    a, b, x = _same_dtype("gdtr", [a, b, x], ("a", "b", "x"))
    return gammainc(b, a * x)


def gdtrc(a, b, x, /):
    """``1 - gdtr(a, b, x)``, the Gamma survival function: ``gammaincc(b, a x)``
    (``scipy.special.gdtrc``).

    >>> import xpgrad as xg
    >>> round(xg.special.gdtrc(1.0, 1.0, xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.367879441171
    """
    a, b, x = _same_dtype("gdtrc", [a, b, x], ("a", "b", "x"))
    return gammaincc(b, a * x)


def pdtr(k, m, /):
    """The Poisson CDF: the probability of at most ``floor(k)`` events at mean ``m``,
    ``gammaincc(floor(k) + 1, m)`` (``scipy.special.pdtr``; NaN for ``k < 0`` or ``m < 0``).

    >>> import xpgrad as xg
    >>> round(xg.special.pdtr(0.0, xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.367879441171
    """
    k, m = _same_dtype("pdtr", [k, m], ("k", "m"))
    return gammaincc(_count(k) + 1.0, m)


def pdtrc(k, m, /):
    """``1 - pdtr(k, m)``: ``gammainc(floor(k) + 1, m)`` (``scipy.special.pdtrc``).

    >>> import xpgrad as xg
    >>> round(xg.special.pdtrc(0.0, xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.632120558829
    """
    k, m = _same_dtype("pdtrc", [k, m], ("k", "m"))
    return gammainc(_count(k) + 1.0, m)


def bdtr(k, n, p, /):
    """The binomial CDF: at most ``floor(k)`` successes in ``n`` trials of probability ``p``,
    ``betaincc(floor(k) + 1, n - floor(k), p)``, 1 for ``floor(k) == n``, NaN for
    ``floor(k) > n`` or ``k < 0`` (``scipy.special.bdtr``; a whole ``n``, ``0 <= p <= 1``).

    >>> import xpgrad as xg
    >>> round(xg.special.bdtr(1.0, 2.0, xg.asarray(0.5, dtype=xg.float64)).item(), 12)
    0.75
    """
    k, n, p = _same_dtype("bdtr", [k, n, p], ("k", "n", "p"))
    whole = _count(k)
    beyond = whole >= n
    tail = betaincc(whole + 1.0, where(beyond, 1.0, n - whole), p)
    return where(whole == n, 1.0, where(whole > n, math.nan, tail))


def nbdtr(k, n, p, /):
    """The negative binomial CDF: at most ``floor(k)`` failures before the ``n``-th success
    of probability ``p``, ``betainc(n, floor(k) + 1, p)`` (``scipy.special.nbdtr``).

    >>> import xpgrad as xg
    >>> round(xg.special.nbdtr(0.0, 1.0, xg.asarray(0.25, dtype=xg.float64)).item(), 12)
    0.25
    """
    k, n, p = _same_dtype("nbdtr", [k, n, p], ("k", "n", "p"))
    return betainc(n, _count(k) + 1.0, p)


__all__ = ["bdtr", "boxcox", "boxcox1p", "cosm1", "erfcinv", "gammasgn", "gdtr", "gdtrc",
           "inv_boxcox", "inv_boxcox1p", "log_expit", "loggamma", "nbdtr", "pdtr", "pdtrc",
           "rgamma"]
