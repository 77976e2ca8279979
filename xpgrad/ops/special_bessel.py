"""The Bessel functions of orders 0 and 1 of the first and second kind ``j0``, ``j1``, ``y0``,
``y1`` and the modified ones of the second kind ``k0``, ``k1`` and their exponentially scaled
``k0e``, ``k1e`` (SciPy's names; ``torch.special.bessel_j0``, ``bessel_y1``,
``modified_bessel_k0``, ``scaled_modified_bessel_k1``, ...), differentiable to any order:
``J0' = -J1``, ``J1' = J0 - J1 / x`` (1/2 at 0), the same for Y, ``K0' = -K1``,
``K1' = -K0 - K1 / x``, and the scaled ones' from those with ``e^x``'s. Formulas:
``bessel_formulas.py`` (within ~2e-15 of mpmath relative to ``max(|f|, sqrt(2 / (pi x)))``,
closer than SciPy's J and Y, whose phase is 1e-14 off near x = 25 and 1e-6 at 1e10).

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0], dtype=xg.float64)
>>> [round(v, 12) for v in xg.grad(lambda x: xg.sum(xg.special.j0(x)))(x).tolist()]  # -j1
[-0.440050585745, -0.576724807757]
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from . import bessel_formulas as formulas
from .bessel import _over_x
from .special import _call, _in_float64, _quiet, _real

#: below it ``J1' = 1/2`` in float64 (``3 x^2 / 8`` is lost), float32 too
TINY = 1e-9


def _forward(formula, *args):
    return _quiet(_in_float64(lambda xp, x: formula(xp, x, *args)))


def _j1_slope(xp, g, ans, x):
    """``g (J0 - J1 / x)``: 1/2 where ``|x| < 1e-9`` (``J0 - J1 / x = 1/2 - 3 x^2 / 8``;
    at subnormal x, ``J1 = x / 2`` rounds and ``J1 / x`` would be 0 or NaN)."""
    return g * (_call(_j0, xp, x) - _over_x(xp, ans, x, 0.5))


def _y1_slope(xp, g, ans, x):
    return g * (_call(_y0, xp, x) - ans / x)


def _k1_slope(xp, g, ans, x):
    return g * (-_call(_k0, xp, x) - ans / x)


def _far_slope(xp, x, name, near):
    """``near`` (the slope from the functions) up to x = 25, the asymptotic series of the
    slope itself beyond (``formulas.scaled_slope``: the difference of k0e and k1e there loses
    ``eps x`` of it)."""
    far = x > formulas.ASYMPTOTIC_FROM
    return xp.where(far, formulas.scaled_slope(xp, xp.where(far, x, 30.0), name), near)


def _k0e_slope(xp, g, ans, x):
    return g * _far_slope(xp, x, "k0e", ans - _call(_k1e, xp, x))


def _k1e_slope(xp, g, ans, x):
    return g * _far_slope(xp, x, "k1e", ans - _call(_k0e, xp, x) - ans / x)


_j0 = Primitive("special_j0", _forward(formulas.first_kind, 0),
                _quiet(lambda xp, g, ans, x: -g * _call(_j1, xp, x)), saves=(0,))
_j1 = Primitive("special_j1", _forward(formulas.first_kind, 1), _quiet(_j1_slope),
                saves=(0, "output"))
_y0 = Primitive("special_y0", _forward(formulas.second_kind, 0),
                _quiet(lambda xp, g, ans, x: -g * _call(_y1, xp, x)), saves=(0,))
_y1 = Primitive("special_y1", _forward(formulas.second_kind, 1), _quiet(_y1_slope),
                saves=(0, "output"))
_k0 = Primitive("special_k0", _forward(formulas.modified_second_kind, 0, False),
                _quiet(lambda xp, g, ans, x: -g * _call(_k1, xp, x)), saves=(0,))
_k1 = Primitive("special_k1", _forward(formulas.modified_second_kind, 1, False),
                _quiet(_k1_slope), saves=(0, "output"))
_k0e = Primitive("special_k0e", _forward(formulas.modified_second_kind, 0, True),
                 _quiet(_k0e_slope), saves=(0, "output"))
_k1e = Primitive("special_k1e", _forward(formulas.modified_second_kind, 1, True),
                 _quiet(_k1e_slope), saves=(0, "output"))


def j0(x, /):
    """The Bessel function of the first kind of order 0 (``scipy.special.j0``,
    ``torch.special.bessel_j0``): even, 1 at 0, NaN at +-inf (as SciPy's); its derivative is
    ``-j1``.

    >>> import xpgrad as xg
    >>> round(xg.special.j0(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.765197686558
    """
    return apply(_j0, _real("j0", x))


def j1(x, /):
    """The Bessel function of the first kind of order 1 (``scipy.special.j1``,
    ``torch.special.bessel_j1``): odd; its derivative is ``j0 - j1 / x`` (1/2 at 0).

    >>> import xpgrad as xg
    >>> round(xg.special.j1(xg.asarray(-1.0, dtype=xg.float64)).item(), 12)
    -0.440050585745
    """
    return apply(_j1, _real("j1", x))


def y0(x, /):
    """The Bessel function of the second kind of order 0 (``scipy.special.y0``,
    ``torch.special.bessel_y0``): -inf at 0, NaN below 0 and at inf (SciPy's); its derivative
    is ``-y1``.

    >>> import xpgrad as xg
    >>> round(xg.special.y0(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.088256964216
    """
    return apply(_y0, _real("y0", x))


def y1(x, /):
    """The Bessel function of the second kind of order 1 (``scipy.special.y1``,
    ``torch.special.bessel_y1``); its derivative is ``y0 - y1 / x``.

    >>> import xpgrad as xg
    >>> round(xg.special.y1(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    -0.7812128213
    """
    return apply(_y1, _real("y1", x))


def k0(x, /):
    """The modified Bessel function of the second kind of order 0 (``scipy.special.k0``,
    ``torch.special.modified_bessel_k0``): inf at 0, NaN below, 0 past x = 745; its derivative
    is ``-k1``.

    >>> import xpgrad as xg
    >>> round(xg.special.k0(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.421024438241
    """
    return apply(_k0, _real("k0", x))


def k1(x, /):
    """The modified Bessel function of the second kind of order 1 (``scipy.special.k1``,
    ``torch.special.modified_bessel_k1``); its derivative is ``-k0 - k1 / x``.

    >>> import xpgrad as xg
    >>> round(xg.special.k1(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.601907230197
    """
    return apply(_k1, _real("k1", x))


def k0e(x, /):
    """``e^x K0(x)``, finite for every x > 0 (``scipy.special.k0e``,
    ``torch.special.scaled_modified_bessel_k0``); its derivative is ``k0e - k1e``.

    >>> import xpgrad as xg
    >>> round(xg.special.k0e(xg.asarray(1000.0, dtype=xg.float64)).item(), 12)
    0.039628321601
    """
    return apply(_k0e, _real("k0e", x))


def k1e(x, /):
    """``e^x K1(x)`` (``scipy.special.k1e``, ``torch.special.scaled_modified_bessel_k1``); its
    derivative is ``k1e - k0e - k1e / x``.

    >>> import xpgrad as xg
    >>> round(xg.special.k1e(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    1.636153486263
    """
    return apply(_k1e, _real("k1e", x))


__all__ = ["j0", "j1", "k0", "k0e", "k1", "k1e", "y0", "y1"]
