"""``regularized_gamma``: which of the four evaluations of ``incomplete_gamma_formulas.py`` and
``incomplete_gamma_temme.py`` each element takes, and how the elements reach it.

- Temme's uniform expansion where ``a >= 20`` and ``|x / a - 1| <= 0.3``;
- otherwise Q's continued fraction where ``x > 1.1`` and ``x > a + 1``;
- Q's series for small ``a`` and ``x <= 1.1`` when Q is asked for (P takes its own series
  there);
- P's power series everywhere else.

The other function is one minus the one computed. Outside Temme's region the series and the
fraction converge within a bounded number of steps for every ``a``.

Each evaluation runs on its own elements only (gathered by a mask, scattered back), and the
loops drop the elements that have converged as they go. This reads the values, so under
``xg.function`` the primitives calling it are one step each, run again whole on each replay's
arrays (``incomplete_gamma.py``, ``jit.whole.run_whole``).

>>> import array_api_compat.numpy as xp
>>> a, x = xp.asarray([1.0, 0.5, 100.0, 1e7]), xp.asarray([1.0, 2.0, 100.0, 1e7])
>>> [round(v, 12) for v in regularized_gamma(xp, a, x, upper=False).tolist()]
[0.632120558829, 0.954499736104, 0.513298798279, 0.500042052209]
"""
from __future__ import annotations

from . import incomplete_gamma_formulas as igf
from . import incomplete_gamma_temme as temme


def _regions(xp, a, x, upper):
    """Masks ``(valid, temme, q_series, q_fraction, p_series)``, disjoint, covering ``valid``
    (a and x positive and finite)."""
    valid = (a > 0) & (x > 0) & (a < xp.inf) & (x < xp.inf)
    near = valid & temme.in_region(a, x)
    log_x = xp.log(xp.where(valid & (x < 1.0), x, 0.5))
    small_x = xp.where(x <= 0.5, -0.4 / log_x, 1.1 * x)
    q_series = valid & ~near & (x <= 1.1) & (a < small_x) & upper
    q_fraction = valid & ~near & (x > 1.1) & (x > a + 1.0)
    p_series = valid & ~near & ~q_fraction & ~q_series
    return valid, near, q_series, q_fraction, p_series


def _temme(xp, a, x, eager):
    return temme.temme_upper(xp, a, x)


def _upper_series(xp, a, x, eager):
    return igf.upper_series(xp, a, x)


def _complement(evaluation):
    return lambda xp, a, x, eager: 1.0 - evaluation(xp, a, x, eager)


def _temme_lower(xp, a, x, eager):
    return temme.temme_lower(xp, a, x)


def _evaluations(upper):
    """``(region index, evaluation(xp, a, x, eager))`` for the asked-for function, one per
    region of ``_regions`` (Q's series only for Q)."""
    if upper:
        return ((1, _temme), (2, _upper_series), (3, igf.upper_fraction),
                (4, _complement(igf.lower_series)))
    return ((1, _temme_lower), (3, _complement(igf.upper_fraction)), (4, igf.lower_series))


def _edges(xp, a, x, upper):
    """The values outside ``valid``, SciPy's: P's, or Q = 1 - P."""
    edge = xp.astype(((a == 0) & (x > 0)) | ((x == xp.inf) & (a < xp.inf)), a.dtype)
    edge = xp.where((a < 0) | (x < 0) | (a != a) | (x != x) | ((a == 0) & (x == 0))
                    | ((a == xp.inf) & (x == xp.inf)), xp.nan, edge)
    return 1.0 - edge if upper else edge


def regularized_gamma(xp, a, x, *, upper):
    """``Q(a, x)`` if ``upper`` else ``P(a, x)``, SciPy's ``gammaincc`` / ``gammainc``: NaN
    for a < 0, x < 0 or a NaN; P(0, x) = 1 for x > 0; P(a, 0) = 0 and P(a, inf) = 1 for a > 0;
    P(inf, x) = 0 for finite x."""
    a, x = xp.broadcast_arrays(a, x)
    masks = _regions(xp, a, x, upper)
    out = _edges(xp, a, x, upper)
    shape = out.shape
    out, a, x = (xp.reshape(v, (-1,)) for v in (out, a, x))
    out = xp.asarray(out, copy=True)
    for index, evaluate in _evaluations(upper):
        mask = xp.reshape(masks[index], (-1,))
        if bool(xp.any(mask)):
            out[mask] = evaluate(xp, a[mask], x[mask], True)
    out = xp.reshape(out, shape)
    # a sum rounded up can pass 1 by an ulp (P(1e-300, 1) is e^-1 times a series near e)
    return xp.minimum(xp.maximum(out, 0.0), 1.0)
