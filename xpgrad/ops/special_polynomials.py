"""The classical orthogonal polynomials of integer degree under SciPy's names and argument
order: ``eval_legendre``, ``eval_chebyt``, ``eval_chebyu``, ``eval_hermite``,
``eval_hermitenorm``, ``eval_laguerre`` (``torch.special.legendre_polynomial_p``,
``chebyshev_polynomial_t``, ``..._u``, ``hermite_polynomial_h``, ``..._he``,
``laguerre_polynomial_l``, which take ``(x, n)``). Each is its three-term recurrence written
with differentiable operations, so gradients for ``x`` of any order follow (the derivative of
the recurrence is the recurrence of the derivatives); the degree ``n`` gets none.

``n`` is an int, or an integer array or Tensor broadcast against ``x`` (one recurrence up to
the largest degree, each degree picked out where ``n`` holds it). Negative degrees as SciPy's:
``P_-n = P_(n-1)``, ``T_-n = T_n``, ``U_-n = -U_(n-2)``; NaN for the Hermite polynomials and
0 for Laguerre's.

>>> import xpgrad as xg
>>> x = xg.asarray([0.5], dtype=xg.float64)
>>> p2 = lambda x: xg.sum(xg.special.eval_legendre(2, x))       # (3x^2 - 1) / 2
>>> p2(x).item(), xg.grad(p2)(x).tolist()
(-0.125, [1.5])
"""
from __future__ import annotations

import math
import sys

import numpy as np

from ..tensor import Tensor
from .selection import where
from .special import _real, integer_orders, whole


def _legendre(x, k, previous, current):
    return ((2 * k + 1) * x * current - k * previous) / (k + 1)


def _chebyshev(x, k, previous, current):
    return 2.0 * x * current - previous


def _hermite(x, k, previous, current):
    return 2.0 * x * current - (2.0 * k) * previous


def _hermitenorm(x, k, previous, current):
    return x * current - k * previous


def _laguerre(x, k, previous, current):
    return ((2 * k + 1 - x) * current - k * previous) / (k + 1)


# name: (degree-1 polynomial of x, the recurrence from (P_(k-1), P_k) to P_(k+1), and the
# mirror of a negative degree n: (the degree m >= 0, the factor of P_m) as SciPy's)
_FAMILIES = {
    "eval_legendre": (lambda x: x, _legendre, lambda n: (-n - 1, 1.0)),
    "eval_chebyt": (lambda x: x, _chebyshev, lambda n: (-n, 1.0)),
    "eval_chebyu": (lambda x: 2.0 * x, _chebyshev,
                    lambda n: (0, 0.0) if n == -1 else (-n - 2, -1.0)),
    "eval_hermite": (lambda x: 2.0 * x, _hermite, lambda n: (0, math.nan)),
    "eval_hermitenorm": (lambda x: x, _hermitenorm, lambda n: (0, math.nan)),
    "eval_laguerre": (lambda x: 1.0 - x, _laguerre, lambda n: (0, 0.0)),
    # PyTorch's third and fourth kinds (special_chebyshev_torch.py): 0 for n < 0, as PyTorch's
    "chebyshev_polynomial_v": (lambda x: 2.0 * x - 1.0, _chebyshev, lambda n: (0, 0.0)),
    "chebyshev_polynomial_w": (lambda x: 2.0 * x + 1.0, _chebyshev, lambda n: (0, 0.0)),
    "shifted_t": (lambda x: x, _chebyshev, lambda n: (0, 0.0)),
    "shifted_u": (lambda x: 2.0 * x, _chebyshev, lambda n: (0, 0.0)),
    # PyTorch's names of the SciPy families above (special_torch_aliases.py): 0 for n < 0
    "chebyshev_polynomial_t": (lambda x: x, _chebyshev, lambda n: (0, 0.0)),
    "chebyshev_polynomial_u": (lambda x: 2.0 * x, _chebyshev, lambda n: (0, 0.0)),
    "hermite_polynomial_h": (lambda x: 2.0 * x, _hermite, lambda n: (0, 0.0)),
    "hermite_polynomial_he": (lambda x: x, _hermitenorm, lambda n: (0, 0.0)),
    "laguerre_polynomial_l": (lambda x: 1.0 - x, _laguerre, lambda n: (0, 0.0)),
    "legendre_polynomial_p": (lambda x: x, _legendre, lambda n: (0, 0.0)),
}


def _by_degree(name, x, degrees):
    """``{m: P_m(x)}`` for each degree in ``degrees`` (ints >= 0), by one recurrence."""
    first, step, _ = _FAMILIES[name]
    wanted = set(degrees)
    # the recurrence runs at 0 in place of +-inf (inf - inf would warn and give NaN): P_0 = 1
    # there, as PyTorch's (SciPy's eval_chebyt(0, inf) is NaN); P_1, linear, is exact at +-inf;
    # _at_infinity gives the higher degrees' limits
    finite = where(abs(x) == math.inf, 0.0, x)
    previous, current = 1.0 + 0.0 * finite, first(finite)
    out = {0: previous} if 0 in wanted else {}
    if 1 in wanted:
        out[1] = first(x)
    for k in range(1, max(wanted)):
        previous, current = current, step(finite, k, previous, current)
        if k + 1 in wanted:
            out[k + 1] = current
    return out


def _at_infinity(name, x, value, odd):
    """``value`` with its limit at ``x = +-inf`` where ``odd`` (bool or bool Tensor) says the
    degree is odd, for degrees >= 2: ``+-inf`` by the leading coefficient's sign (positive,
    Laguerre's ``(-1)^m``) times ``sign(x)^m`` (SciPy's and PyTorch's NaN there from degree 3
    on). The limit is ``t^3`` or ``t^2`` of ``t = +-x`` so that its derivative is the
    polynomial's derivative's limit too (``+-inf``, by the same signs), where ``+-x`` gave
    ``+-1``."""
    infinite = abs(x) == math.inf
    t = where(infinite, -x if name == "eval_laguerre" else x, 0.0)
    # one product, no branch left unselected: 0 * inf would be NaN in a branch's gradient
    cube = t if odd is True else 1.0 if odd is False else where(odd, t, 1.0)
    return where(infinite, t * t * cube, value)


def _mirrored(name, n):
    """``(m, factor)``: ``P_n = factor P_m`` with ``m >= 0``."""
    return (n, 1.0) if n >= 0 else _FAMILIES[name][2](n)


def _evaluate(name, n, x, label=None):
    """The family ``name``'s polynomial of degree(s) ``n`` at ``x``; errors name
    ``xg.special.<label>`` (default ``name``: a shifted family borrows another's recurrence)."""
    label = label or name
    x = _real(label, x)
    if isinstance(n, (list, tuple, np.ndarray, Tensor)):
        return _of_degrees(name, n, x, label)
    degree, factor = _mirrored(name, whole(label, "n", n, -sys.maxsize))
    value = _by_degree(name, x, [degree])[degree]
    if degree >= 2:
        value = _at_infinity(name, x, value, degree % 2 == 1)
    return value if factor == 1.0 else value * factor


def _of_degrees(name, n, x, label=None):
    """``name`` with an integer array of degrees broadcast against ``x`` (errors name
    ``label``, default ``name``)."""
    from ..creation import asarray
    from .shape import broadcast_to

    degrees, shape = integer_orders(label or name, n, x)
    pairs = [_mirrored(name, int(d)) for d in degrees.reshape(-1).tolist()]
    mirrored = np.array([m for m, _ in pairs], dtype=np.int64).reshape(degrees.shape)
    factors = np.array([f for _, f in pairs], dtype=np.float64).reshape(degrees.shape)
    values = _by_degree(name, x, sorted(set(mirrored.reshape(-1).tolist())) or [0])
    here = asarray(mirrored, backend=x.backend)
    out = None
    for degree, value in values.items():
        out = value if out is None else where(here == degree, value, out)
    if (mirrored >= 2).any():
        odd = asarray(mirrored % 2 == 1, backend=x.backend)
        out = where(here >= 2, _at_infinity(name, x, out, odd), out)
    if (factors != 1.0).any():
        out = out * asarray(factors, dtype=x.dtype, backend=x.backend)
    return broadcast_to(out, shape)


def eval_legendre(n, x, /):
    """The Legendre polynomial ``P_n(x)`` (``scipy.special.eval_legendre``,
    ``torch.special.legendre_polynomial_p(x, n)``): ``(k + 1) P_(k+1) = (2k + 1) x P_k -
    k P_(k-1)``.

    >>> import xpgrad as xg
    >>> xg.special.eval_legendre(3, xg.asarray([1.0, 0.5], dtype=xg.float64)).tolist()
    [1.0, -0.4375]
    """
    return _evaluate("eval_legendre", n, x)


def eval_chebyt(n, x, /):
    """The Chebyshev polynomial of the first kind ``T_n(x)``, ``cos(n acos x)`` on [-1, 1]
    (``scipy.special.eval_chebyt``, ``torch.special.chebyshev_polynomial_t(x, n)``).

    >>> import xpgrad as xg
    >>> xg.special.eval_chebyt(2, xg.asarray([0.5, 3.0], dtype=xg.float64)).tolist()
    [-0.5, 17.0]
    """
    return _evaluate("eval_chebyt", n, x)


def eval_chebyu(n, x, /):
    """The Chebyshev polynomial of the second kind ``U_n(x)`` (``scipy.special.eval_chebyu``,
    ``torch.special.chebyshev_polynomial_u(x, n)``).

    >>> import xpgrad as xg
    >>> xg.special.eval_chebyu(2, xg.asarray([0.5, 3.0], dtype=xg.float64)).tolist()
    [0.0, 35.0]
    """
    return _evaluate("eval_chebyu", n, x)


def eval_hermite(n, x, /):
    """The physicists' Hermite polynomial ``H_n(x)`` (``scipy.special.eval_hermite``,
    ``torch.special.hermite_polynomial_h(x, n)``): ``H_(k+1) = 2x H_k - 2k H_(k-1)``; NaN for
    n < 0, as SciPy's.

    >>> import xpgrad as xg
    >>> xg.special.eval_hermite(3, xg.asarray([1.0], dtype=xg.float64)).tolist()   # 8x^3 - 12x
    [-4.0]
    """
    return _evaluate("eval_hermite", n, x)


def eval_hermitenorm(n, x, /):
    """The probabilists' Hermite polynomial ``He_n(x)`` (``scipy.special.eval_hermitenorm``,
    ``torch.special.hermite_polynomial_he(x, n)``); NaN for n < 0.

    >>> import xpgrad as xg
    >>> xg.special.eval_hermitenorm(3, xg.asarray([2.0], dtype=xg.float64)).tolist()  # x^3 - 3x
    [2.0]
    """
    return _evaluate("eval_hermitenorm", n, x)


def eval_laguerre(n, x, /):
    """The Laguerre polynomial ``L_n(x)`` (``scipy.special.eval_laguerre``,
    ``torch.special.laguerre_polynomial_l(x, n)``); 0 for n < 0, as SciPy's.

    >>> import xpgrad as xg
    >>> xg.special.eval_laguerre(2, xg.asarray([1.0], dtype=xg.float64)).tolist()
    [-0.5]
    """
    return _evaluate("eval_laguerre", n, x)


__all__ = ["eval_chebyt", "eval_chebyu", "eval_hermite", "eval_hermitenorm", "eval_laguerre",
           "eval_legendre"]
