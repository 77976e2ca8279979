"""``torch.special``'s names for functions ``xg.special`` (or ``xg``) already has under SciPy's
names: each is the same function (one implementation), the polynomials with PyTorch's
``(x, n)`` argument order and its 0 for a negative degree (SciPy mirrors negative degrees:
``eval_chebyt(-n, x) = T_n(x)``). ``round`` takes PyTorch's ``decimals``.

- ``bessel_j0``, ``bessel_j1``, ``bessel_y0``, ``bessel_y1`` are ``j0``, ``j1``, ``y0``, ``y1``;
- ``modified_bessel_i0``, ``_i1``, ``_k0``, ``_k1`` are ``i0``, ``i1``, ``k0``, ``k1``;
- ``scaled_modified_bessel_k0``, ``_k1`` are ``k0e``, ``k1e``;
- ``chebyshev_polynomial_t``, ``_u``, ``hermite_polynomial_h``, ``_he``,
  ``laguerre_polynomial_l``, ``legendre_polynomial_p`` (x, n) run the recurrences of
  ``eval_chebyt``, ``eval_chebyu``, ``eval_hermite``, ``eval_hermitenorm``, ``eval_laguerre``,
  ``eval_legendre`` (n, x);
- ``expm1``, ``log1p`` are ``xg.expm1``, ``xg.log1p``.

>>> import xpgrad as xg
>>> x = xg.asarray([0.5, 2.0], dtype=xg.float64)
>>> xg.special.hermite_polynomial_h(x, 2).tolist()           # 4x^2 - 2
[-1.0, 14.0]
>>> xg.special.bessel_j0 is xg.special.j0
True
"""
from __future__ import annotations

import builtins
import math

from .elementwise import expm1, log1p
from .elementwise import floor_divide, remainder
from .elementwise import round as _round
from .selection import where
from .bessel import i0, i1
from .special_bessel import j0, j1, k0, k0e, k1, k1e, y0, y1
from .special import whole
from .special_polynomials import _evaluate

bessel_j0, bessel_j1, bessel_y0, bessel_y1 = j0, j1, y0, y1
modified_bessel_i0, modified_bessel_i1 = i0, i1
modified_bessel_k0, modified_bessel_k1 = k0, k1
scaled_modified_bessel_k0, scaled_modified_bessel_k1 = k0e, k1e


def chebyshev_polynomial_t(x, n, /):
    """``T_n(x)`` (``torch.special.chebyshev_polynomial_t``): ``eval_chebyt(n, x)``'s
    recurrence, 0 for n < 0 as PyTorch's.

    >>> import xpgrad as xg
    >>> xg.special.chebyshev_polynomial_t(xg.asarray([0.5, 2.0]), 3).tolist()   # 4x^3 - 3x
    [-1.0, 26.0]
    """
    return _evaluate("chebyshev_polynomial_t", n, x)


def chebyshev_polynomial_u(x, n, /):
    """``U_n(x)`` (``torch.special.chebyshev_polynomial_u``): ``eval_chebyu(n, x)``'s
    recurrence, 0 for n < 0 as PyTorch's.

    >>> import xpgrad as xg
    >>> xg.special.chebyshev_polynomial_u(xg.asarray([0.5, 2.0]), 2).tolist()   # 4x^2 - 1
    [0.0, 15.0]
    """
    return _evaluate("chebyshev_polynomial_u", n, x)


def hermite_polynomial_h(x, n, /):
    """The physicists' Hermite polynomial ``H_n(x)`` (``torch.special.hermite_polynomial_h``):
    ``eval_hermite(n, x)``'s recurrence, 0 for n < 0 as PyTorch's.

    >>> import xpgrad as xg
    >>> xg.special.hermite_polynomial_h(xg.asarray([1.0]), 3).tolist()          # 8x^3 - 12x
    [-4.0]
    """
    return _evaluate("hermite_polynomial_h", n, x)


def hermite_polynomial_he(x, n, /):
    """The probabilists' Hermite polynomial ``He_n(x)`` (``torch.special.
    hermite_polynomial_he``): ``eval_hermitenorm(n, x)``'s recurrence, 0 for n < 0.

    >>> import xpgrad as xg
    >>> xg.special.hermite_polynomial_he(xg.asarray([2.0]), 3).tolist()         # x^3 - 3x
    [2.0]
    """
    return _evaluate("hermite_polynomial_he", n, x)


def laguerre_polynomial_l(x, n, /):
    """The Laguerre polynomial ``L_n(x)`` (``torch.special.laguerre_polynomial_l``):
    ``eval_laguerre(n, x)``'s recurrence, 0 for n < 0.

    >>> import xpgrad as xg
    >>> xg.special.laguerre_polynomial_l(xg.asarray([1.0]), 2).tolist()   # (x^2 - 4x + 2) / 2
    [-0.5]
    """
    return _evaluate("laguerre_polynomial_l", n, x)


def legendre_polynomial_p(x, n, /):
    """The Legendre polynomial ``P_n(x)`` (``torch.special.legendre_polynomial_p``):
    ``eval_legendre(n, x)``'s recurrence, 0 for n < 0 (SciPy's mirrors: ``P_(-n-1) = P_n``).

    >>> import xpgrad as xg
    >>> xg.special.legendre_polynomial_p(xg.asarray([0.5]), 2).tolist()   # (3x^2 - 1) / 2
    [-0.125]
    """
    return _evaluate("legendre_polynomial_p", n, x)


def round(x, /, *, decimals=0):  # noqa: A001 (torch.special.round's name)
    """``x`` rounded half to even (``torch.special.round``, ``xg.round``); ``decimals`` rounds
    ``x * 10**decimals`` and divides back, a negative ``decimals`` rounds ``x / 10**-decimals``
    and multiplies back (so float32's 1000 stays 1000, not 1 / 0.001f = 999.99994), as
    PyTorch's; a power of ten past float64's range is inf there, as PyTorch's (NaN results).
    Integers (PyTorch's refuses them) keep their dtype and round exactly, half to even, as
    NumPy's ``np.round`` (a result past the dtype wraps). Its gradient is 0.

    >>> import xpgrad as xg
    >>> xg.special.round(xg.asarray([2.5, 1.2345], dtype=xg.float64), decimals=2).tolist()
    [2.5, 1.23]
    >>> xg.special.round(xg.asarray([904.8, -1550.0], dtype=xg.float32), decimals=-3).tolist()
    [1000.0, -2000.0]
    """
    decimals = whole("round", "decimals", decimals, -400)
    if decimals == 0 or (decimals > 0 and _is_integer(x)):
        return _round(x)
    if _is_integer(x):
        return _round_integers(x, 10 ** -decimals)
    scale = _power_of_ten(builtins.abs(decimals))
    if decimals > 0:
        return _round(x * scale) / scale
    return _round(x / scale) * scale


def _is_integer(x) -> bool:
    """Whether ``x`` is a Tensor of a (signed or unsigned) integer dtype."""
    return getattr(getattr(x, "dtype", None), "kind", None) in ("i", "u")


def _round_integers(x, step):
    """Integers ``x`` rounded to a multiple of ``step`` (a power of ten), half to even, in
    their own dtype, exactly (NumPy's ``np.round(x, -k)``; PyTorch's refuses integers).

    >>> import numpy as np, xpgrad as xg
    >>> _round_integers(xg.asarray(np.array([15, 25, -35, 123456789])), 10).tolist()
    [20, 20, -40, 123456790]
    """
    from ..creation import zeros_like
    from ..dtype_functions import iinfo

    if step > iinfo(x.dtype).max:       # every value is nearer 0 than a step
        return zeros_like(x)
    below = remainder(x, step)                                  # 0 <= below < step
    rest = where((x < 0) & (below != 0), below - step, below)   # toward 0: no overflow
    base = x - rest                                             # |base| <= |x|
    size = abs(rest)
    odd = remainder(floor_divide(base, step), 2) == 1
    away = (size > step - size) | ((size == step - size) & odd)
    return where(away, where(x < 0, base - step, base + step), base)


def _power_of_ten(exponent):
    """``10.0 ** exponent``, inf where that overflows float64 (PyTorch's ``std::pow``).

    >>> _power_of_ten(3), _power_of_ten(400)
    (1000.0, inf)
    """
    try:
        return 10.0 ** exponent
    except OverflowError:
        return math.inf


__all__ = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
           "chebyshev_polynomial_u", "expm1", "hermite_polynomial_h", "hermite_polynomial_he",
           "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "round",
           "scaled_modified_bessel_k0", "scaled_modified_bessel_k1"]
