"""PyTorch's Chebyshev polynomials that SciPy has no ``eval_`` function for, under PyTorch's
names and ``(x, n)`` argument order: the third and fourth kinds ``chebyshev_polynomial_v``
(``V_0 = 1``, ``V_1 = 2x - 1``) and ``chebyshev_polynomial_w`` (``W_1 = 2x + 1``), both
``P_(k+1) = 2x P_k - P_(k-1)``, and the shifted ``shifted_chebyshev_polynomial_t``, ``_u``,
``_v``, ``_w`` (the same at ``2x - 1``, on [0, 1]). 0 for n < 0, as PyTorch's (NaN at NaN
for every n, as ``eval_chebyt``'s: PyTorch's is 1 for n = 0, 0 for n < 0). The recurrences of
``special_polynomials.py``, so gradients in x of any order; n gets none (an int, or an integer
array or Tensor broadcast against x; a whole float such as 2.0 as PyTorch's). +-inf at
x = +-inf by the leading coefficient (PyTorch's NaN from degree 3 on).

>>> import xpgrad as xg
>>> x = xg.asarray([0.3, 2.0], dtype=xg.float64)
>>> [round(v, 12) for v in xg.special.chebyshev_polynomial_v(x, 3).tolist()]
[-0.344, 41.0]
"""
from __future__ import annotations

from .special import _real
from .special_polynomials import _evaluate


def _degree(name, n):
    """``n`` with a whole Python float taken as its int, as PyTorch's ``2.0``; a fractional
    one refused naming it (PyTorch truncates 2.5 to 2, a silent change of degree).

    >>> _degree("chebyshev_polynomial_v", 2.0)
    2
    """
    if isinstance(n, float):
        if not n.is_integer():
            raise TypeError(f"xg.special.{name}: n must be a whole number, got {n!r} "
                            "(PyTorch truncates it)")
        return int(n)
    return n


def _shifted(name, family, x, n):
    """``family``'s polynomial at ``2x - 1``, its errors naming ``xg.special.<name>``."""
    return _evaluate(family, _degree(name, n), 2.0 * _real(name, x) - 1.0, label=name)


def chebyshev_polynomial_v(x, n, /):
    """The Chebyshev polynomial of the third kind ``V_n(x)`` (``torch.special.
    chebyshev_polynomial_v``): ``V_1 = 2x - 1``; ``V_n(cos t) = cos((n + 1/2) t) / cos(t/2)``.

    >>> import xpgrad as xg
    >>> xg.special.chebyshev_polynomial_v(xg.asarray([1.0, 0.5]), 2).tolist()
    [1.0, -1.0]
    """
    return _evaluate("chebyshev_polynomial_v", _degree("chebyshev_polynomial_v", n), _real("chebyshev_polynomial_v", x))


def chebyshev_polynomial_w(x, n, /):
    """The Chebyshev polynomial of the fourth kind ``W_n(x)`` (``torch.special.
    chebyshev_polynomial_w``): ``W_1 = 2x + 1``; ``W_n(cos t) = sin((n + 1/2) t) / sin(t/2)``.

    >>> import xpgrad as xg
    >>> xg.special.chebyshev_polynomial_w(xg.asarray([1.0, 0.5]), 2).tolist()
    [5.0, 1.0]
    """
    return _evaluate("chebyshev_polynomial_w", _degree("chebyshev_polynomial_w", n), _real("chebyshev_polynomial_w", x))


def shifted_chebyshev_polynomial_t(x, n, /):
    """``T*_n(x) = T_n(2x - 1)`` (``torch.special.shifted_chebyshev_polynomial_t``), 0 for
    n < 0 as PyTorch's.

    >>> import xpgrad as xg
    >>> xg.special.shifted_chebyshev_polynomial_t(xg.asarray([0.0, 0.5, 1.0]), 2).tolist()
    [1.0, -1.0, 1.0]
    """
    return _shifted("shifted_chebyshev_polynomial_t", "shifted_t", x, n)


def shifted_chebyshev_polynomial_u(x, n, /):
    """``U*_n(x) = U_n(2x - 1)`` (``torch.special.shifted_chebyshev_polynomial_u``), 0 for
    n < 0 as PyTorch's.

    >>> import xpgrad as xg
    >>> xg.special.shifted_chebyshev_polynomial_u(xg.asarray([0.5, 1.0]), 2).tolist()
    [-1.0, 3.0]
    """
    return _shifted("shifted_chebyshev_polynomial_u", "shifted_u", x, n)


def shifted_chebyshev_polynomial_v(x, n, /):
    """``V*_n(x) = V_n(2x - 1)`` (``torch.special.shifted_chebyshev_polynomial_v``).

    >>> import xpgrad as xg
    >>> xg.special.shifted_chebyshev_polynomial_v(xg.asarray([0.75, 1.0]), 2).tolist()
    [-1.0, 1.0]
    """
    return _shifted("shifted_chebyshev_polynomial_v", "chebyshev_polynomial_v", x, n)


def shifted_chebyshev_polynomial_w(x, n, /):
    """``W*_n(x) = W_n(2x - 1)`` (``torch.special.shifted_chebyshev_polynomial_w``).

    >>> import xpgrad as xg
    >>> xg.special.shifted_chebyshev_polynomial_w(xg.asarray([0.75, 1.0]), 2).tolist()
    [1.0, 5.0]
    """
    return _shifted("shifted_chebyshev_polynomial_w", "chebyshev_polynomial_w", x, n)


__all__ = ["chebyshev_polynomial_v", "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
           "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
           "shifted_chebyshev_polynomial_w"]
