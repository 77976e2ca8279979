"""SciPy's counting functions and two power/log helpers, real-valued and differentiable:
``factorial(n)`` (``Gamma(n + 1)``, 0 below 0), ``comb(N, k)`` (``binom`` where
``0 <= k <= N``, else 0; ``repetition=True`` too), ``perm(N, k)`` (``poch(N - k + 1, k)``
there, a product for a whole k below 20, else 0), all as SciPy's ``exact=False``
(``exact=True``, Python integers, is refused: ``math.factorial``, ``math.comb`` and
``math.perm`` give those); ``powm1(x, y)`` (``x**y - 1`` without cancelling near
``y log x = 0``) and SciPy's ``softplus`` (``log(1 + e^x)``). Compositions of differentiable
functions: gradients of any order.

>>> import xpgrad as xg
>>> xg.special.comb(xg.asarray([5.0, 5.0]), xg.asarray([2.0, 6.0])).tolist()
[10.0, 0.0]
"""
from __future__ import annotations

import numpy as np

from .._args import flag
from .activations import softplus as _softplus
from .elementwise import expm1, floor, isnan, log, pow
from .gamma_function import gamma
from .incomplete_beta import _same_dtype
from .selection import where
from .special import _real
from .special_gamma_ratios import _LARGEST_PRODUCT, binom, poch


def _approximate(name, exact):
    if flag(exact, "exact", name):
        raise ValueError(f"xg.special.{name}: exact=True (Python integers) is not supported: "
                         f"use math.{name} for exact values; exact=False gives differentiable "
                         "floats")


def factorial(n, /, exact=False):
    """``n! = Gamma(n + 1)`` of real ``n`` (``scipy.special.factorial(n, exact=False)``): 0 for
    n < 0, inf past 170; its derivative is ``Gamma(n + 1) digamma(n + 1)``.

    >>> import xpgrad as xg
    >>> xg.special.factorial(xg.asarray([-1.0, 0.0, 5.0], dtype=xg.float64)).tolist()
    [0.0, 1.0, 120.0]
    """
    _approximate("factorial", exact)
    n = _real("factorial", n, "n")
    negative = n < 0
    return where(negative, 0.0, gamma(where(negative, 0.0, n) + 1.0))


def _counted(N, k):
    """Where ``0 <= k <= N`` (False for NaN, where SciPy's are 0), and the arguments replaced
    elsewhere by ``(1, 0)``."""
    valid = (k <= N) & (N >= 0) & (k >= 0)
    return valid, where(valid, N, 1.0), where(valid, k, 0.0)


def comb(N, k, /, exact=False, repetition=False):
    """The number of combinations, ``binom(N, k)`` where ``0 <= k <= N`` and 0 elsewhere
    (``scipy.special.comb(N, k, exact=False)``); with ``repetition=True``,
    ``binom(N + k - 1, k)`` (1 where k == 0 and N >= 0; not zeroed elsewhere, as SciPy's).
    Differentiable in N (and in k off the whole numbers, as ``binom``).

    >>> import xpgrad as xg
    >>> xg.special.comb(5.0, xg.asarray([2.0]), repetition=True).tolist()
    [15.0]
    """
    _approximate("comb", exact)
    N, k = _same_dtype("comb", (N, k), ("N", "k"))
    if flag(repetition, "repetition", "comb"):       # SciPy's: binom itself, 1 at k = 0
        return where((k == 0) & (N >= 0), 1.0, binom(N + k - 1.0, k))
    valid, N, k = _counted(N, k)
    return where(valid, binom(N, k), 0.0)


def perm(N, k, /, exact=False):
    """The number of permutations ``N! / (N - k)! = poch(N - k + 1, k)`` where ``0 <= k <= N``,
    0 elsewhere (``scipy.special.perm(N, k, exact=False)``).

    >>> import xpgrad as xg
    >>> xg.special.perm(xg.asarray([5.0, 5.0], dtype=xg.float64), 2.0).tolist()
    [20.0, 20.0]
    """
    _approximate("perm", exact)
    N, k = _same_dtype("perm", (N, k), ("N", "k"))
    valid, N, k = _counted(N, k)
    product = (k == floor(k)) & (k < _LARGEST_PRODUCT)
    falling = 1.0
    for j in range(_LARGEST_PRODUCT):     # N (N - 1) ... (N - k + 1): exact for small counts
        falling = falling * where(product & (j < k), N - j, 1.0)
    ratio = poch(where(product, 1.0, N - k + 1.0), where(product, 1.0, k))
    return where(valid, where(product, falling, ratio), 0.0)


def powm1(x, y, /):
    """``x**y - 1`` (``scipy.special.powm1``): ``expm1(y log x)`` for x > 0, so digits are kept
    where ``x**y`` is near 1; ``pow(x, y) - 1`` for x <= 0 (NaN for a negative x and a
    non-integer y); 0 where x == 1 or y == 0, even if the other is NaN, as SciPy's.

    >>> import xpgrad as xg
    >>> x = xg.asarray(1.0000001, dtype=xg.float64)
    >>> f"{xg.special.powm1(x, 1e-3).item():.9e}"          # x**y - 1 would keep 7 digits
    '9.999999506e-11'
    """
    x, y = _same_dtype("powm1", (x, y), ("x", "y"))
    positive = x > 0
    with np.errstate(all="ignore"):     # 0**-1, (-2)**0.5: SciPy's inf and NaN, quietly
        via_log = expm1(y * log(where(positive, x, 1.0)))
        direct = pow(where(positive, 1.0, x), y) - 1.0
    value = where(positive, via_log, direct)
    # value is already 0 there unless NaN (1**inf, inf**0): a constant 0 would lose the
    # gradients (y in x at x = 1, log x in y at y = 0)
    return where(((x == 1) | (y == 0)) & isnan(value), 0.0, value)


def softplus(x, /):
    """``log(1 + e^x)`` (``scipy.special.softplus``; ``xg.nn.softplus`` with SciPy's
    signature): ``x`` itself far right, ``e^x`` far left; its derivative is the sigmoid.

    >>> import xpgrad as xg
    >>> round(xg.special.softplus(xg.asarray(0.0, dtype=xg.float64)).item(), 12)   # log 2
    0.69314718056
    """
    return _softplus(_real("softplus", x))


__all__ = ["comb", "factorial", "perm", "powm1", "softplus"]
