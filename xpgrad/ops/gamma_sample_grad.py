"""The derivative of a standard-gamma draw with respect to its concentration, and the
primitive that attaches it to a draw (implicit reparameterization, Figurnov et al. 2018).

A draw ``z`` of Gamma(alpha, 1) moves with ``alpha`` along the line of constant CDF:
``dz/dalpha = -(dP/dalpha)(alpha, z) / p(z; alpha)``, ``P`` the regularized lower incomplete
gamma function, ``p`` the density. Both terms share the factor ``z**(alpha-1) exp(-z) /
Gamma(alpha)``, which is divided out analytically, so the ratio neither overflows nor
underflows:

- ``z < alpha + 1``: ``P = p z / alpha * sum_n r_n``, ``r_n = prod_{k<=n} z / (alpha + k)``
  (a series of positive terms), so ``dz/dalpha = -(z / alpha) [(log z - digamma(alpha + 1))
  sum_n r_n - sum_n r_n H_n]`` with ``H_n = sum_{k<=n} 1 / (alpha + k)``;
- ``z >= alpha + 1``: ``Q = 1 - P = p z C``, ``C`` Legendre's continued fraction
  ``1 / (z + 1 - alpha - 1 (1 - alpha) / (z + 3 - alpha - 2 (2 - alpha) / ...))``, so
  ``dz/dalpha = z [(log z - digamma(alpha)) C + dC/dalpha]``, ``dC/dalpha`` carried along the
  convergents' recurrence.

Both converge for every ``alpha > 0``, in at most about ``100 + 9 sqrt(alpha)`` terms (a draw next
to ``alpha``), so the loop is run until every element has converged to float64 precision,
never cut short: an element that has not converged after ``_max_terms`` is NaN, not a guess.

>>> import array_api_compat.numpy as xp
>>> a, z = xp.asarray([1.0, 1.0]), xp.asarray([0.5, 3.0])
>>> [round(v, 10) for v in standard_gamma_grad(xp, a, z).tolist()]
[0.8069791168, 1.9379116938]
>>> from scipy.special import gammainc, gammaincinv    # the inverse CDF's slope at fixed P
>>> u = gammainc(1.0, 3.0)
>>> round(float(gammaincinv(1 + 1e-6, u) - gammaincinv(1 - 1e-6, u)) / 2e-6, 6)
1.937912
"""
from __future__ import annotations

import math

from ..jit.whole import run_quietly
from ..primitive import Primitive, apply
from ..tensor import Tensor
from . import special_formulas as sf

_EPS = 2.0 ** -53
# the continued fraction's convergents stop moving within a few roundings, not one
_CF_TOL = 8 * _EPS
_CHECK_EVERY = 8


def _max_terms(xp, alpha) -> int:
    largest = float(xp.max(alpha)) if alpha.size else 1.0
    return 160 + 12 * int(math.sqrt(max(largest, 1.0)))


def _series(xp, a, z):
    """``dz/da`` from the series of ``P`` (good for ``z < a + 1``)."""
    term, harmonic = xp.ones_like(z), xp.zeros_like(z)
    total, weighted = xp.ones_like(z), xp.zeros_like(z)
    limit = _max_terms(xp, a)
    for n in range(1, limit + 1):
        harmonic = harmonic + 1.0 / (a + n)
        term = term * (z / (a + n))
        total = total + term
        weighted = weighted + term * harmonic
        if n % _CHECK_EVERY == 0 and bool(xp.all(term * (1.0 + harmonic * (a + n))
                                                 <= _EPS * total)):
            break
    else:
        done = term * (1.0 + harmonic * (a + limit)) <= _EPS * total
        total = xp.where(done, total, math.nan)
    return -(z / a) * ((xp.log(z) - sf.digamma(xp, a + 1.0)) * total - weighted)


def _continued_fraction(xp, a, z):
    """``dz/da`` from Legendre's continued fraction of ``Q`` (good for ``z >= a + 1``): its
    convergents ``num / den`` and their derivatives in ``a``, rescaled to ``den = 1`` each
    step (the recurrence is linear, so one scale serves all eight)."""
    b = z + 1.0 - a
    # the convergents 0 / 1 and 1 / b, and their derivatives in a (b' = -1)
    num_old, den_old, dnum_old, dden_old = xp.zeros_like(z), 1.0 / b, xp.zeros_like(z), 0.0
    num, den, dnum, dden = 1.0 / b, 1.0, xp.zeros_like(z), -1.0 / b
    log_ratio = xp.log(z) - sf.digamma(xp, a)
    result = answer = log_ratio * num + (dnum - num * dden)
    done = xp.zeros(z.shape, dtype=xp.bool)
    limit = _max_terms(xp, a)
    for m in range(1, limit + 1):
        b = b + 2.0
        partial = m * (a - m)
        new_num = b * num + partial * num_old
        new_den = b * den + partial * den_old
        new_dnum = b * dnum - num + partial * dnum_old + m * num_old
        new_dden = b * dden - den + partial * dden_old + m * den_old
        scale = 1.0 / new_den
        num_old, den_old, dnum_old, dden_old = num * scale, den * scale, dnum * scale, \
            dden * scale
        num, den, dnum, dden = new_num * scale, 1.0, new_dnum * scale, new_dden * scale
        previous, dfraction = result, dnum - num * dden
        result = log_ratio * num + dfraction
        # latched: once converged, an element keeps that value (later convergents wobble by
        # a few roundings while the slowest elements converge)
        done = done | (xp.abs(result - previous) <= _CF_TOL * (xp.abs(log_ratio * num)
                                                                + xp.abs(dfraction)))
        answer = xp.where(done, answer, result)
        if m % _CHECK_EVERY == 0 and bool(xp.all(done)):
            break
    result = xp.where(done, answer, math.nan)
    return z * result


def standard_gamma_grad(xp, alpha, z):
    """``dz/dalpha`` of standard-gamma draws ``z`` of concentrations ``alpha`` (float64
    arrays, broadcast together), keeping the CDF fixed; 0 where ``z == 0`` (an underflowed
    draw), NaN where ``alpha`` is not a positive finite number or ``z`` is negative, infinite
    or NaN."""
    alpha, z = xp.broadcast_arrays(alpha, z)
    if z.size == 0:
        return xp.zeros_like(z)
    valid = (alpha > 0) & (alpha < math.inf) & (z < math.inf)
    small = valid & (z < alpha + 1.0) & (z > 0)
    large = valid & (z >= alpha + 1.0)
    # each branch on harmless stand-ins where the other one answers
    out = xp.zeros_like(z)
    if bool(xp.any(small)):
        out = xp.where(small, _series(xp, xp.where(small, alpha, 1.0),
                                      xp.where(small, z, 0.5)), out)
    if bool(xp.any(large)):
        out = xp.where(large, _continued_fraction(xp, xp.where(large, alpha, 1.0),
                                                  xp.where(large, z, 3.0)), out)
    return xp.where(valid & (z >= 0), out, math.nan)


def standard_log_gamma_grad(xp, alpha, log_z):
    """``d log(z)/dalpha`` of standard-gamma draws given by their logs ``log_z`` (float64):
    ``(dz/dalpha) / z``; where ``z`` underflows (below the smallest normal number) the series'
    limit ``-(log z - digamma(alpha + 1)) / alpha`` (its other terms are ``O(z)``).

    >>> import array_api_compat.numpy as xp
    >>> a = xp.asarray([1.0, 1e-3])
    >>> [round(v, 6) for v in standard_log_gamma_grad(xp, a, xp.asarray([-0.5, -1e4])).tolist()]
    [1.483375, 9999424.428068]
    """
    z = xp.exp(log_z)
    normal = z >= 2.0 ** -1022
    safe = xp.where(normal, z, 1.0)
    ratio = standard_gamma_grad(xp, alpha, safe) / safe
    limit = -(log_z - sf.digamma(xp, alpha + 1.0)) / alpha
    return xp.where(normal, ratio, limit)


# -- the primitives: a draw that carries dz/dalpha back to alpha -------------------------------
def _in_float64(xp, alpha, z):
    """``standard_gamma_grad`` in float64, in ``z``'s dtype; run whole (``run_whole``): its
    series choice and iterations read the values, which ``xg.function`` could not trace."""
    return run_quietly(xp, _in_float64_now, alpha, z, name="gamma sample gradient",
                       all="ignore")


def _in_float64_now(xp, alpha, z):
    grad = standard_gamma_grad(xp, xp.astype(alpha, xp.float64), xp.astype(z, xp.float64))
    return xp.astype(grad, z.dtype)


def _no_second_derivative(*_):
    raise NotImplementedError(
        "second derivatives of a gamma-family rsample (through dz/dconcentration) are not "
        "implemented, as in PyTorch; differentiate rsample once, or sample() and use log_prob")


_grad = Primitive("standard_gamma_grad", _in_float64, _no_second_derivative,
                  _no_second_derivative, saves=())
_reparameterized = Primitive(
    "standard_gamma_reparameterized", lambda xp, alpha, z: z,
    lambda xp, g, ans, alpha, z: g * (apply(_grad, alpha, z) if isinstance(alpha, Tensor)
                                      else _grad.forward(xp, alpha, z)),
    None, saves=(0, 1))


def reparameterized(alpha, z):
    """``z`` (standard-gamma draws of concentrations ``alpha``, Tensors of one shape, dtype
    and backend; ``z`` not on any tape) as a Tensor whose gradient reaches ``alpha`` through
    ``dz/dalpha`` (``standard_gamma_grad``).

    >>> import xpgrad as xg
    >>> alpha = xg.asarray([1.0, 1.0], dtype=xg.float64)
    >>> z = xg.asarray([0.5, 3.0], dtype=xg.float64)
    >>> [round(v, 10) for v in xg.grad(lambda a: xg.sum(reparameterized(a, z)))(alpha).tolist()]
    [0.8069791168, 1.9379116938]
    """
    return apply(_reparameterized, alpha, z)


def _log_in_float64(xp, alpha, log_z):
    """``standard_log_gamma_grad`` as ``_in_float64``."""
    return run_quietly(xp, _log_in_float64_now, alpha, log_z, name="gamma sample gradient",
                       all="ignore")


def _log_in_float64_now(xp, alpha, log_z):
    grad = standard_log_gamma_grad(xp, xp.astype(alpha, xp.float64), xp.astype(log_z, xp.float64))
    return xp.astype(grad, log_z.dtype)


_log_grad = Primitive("standard_log_gamma_grad", _log_in_float64,
                      _no_second_derivative, _no_second_derivative, saves=())
_log_reparameterized = Primitive(
    "standard_log_gamma_reparameterized", lambda xp, alpha, log_z: log_z,
    lambda xp, g, ans, alpha, log_z: g * (apply(_log_grad, alpha, log_z)
                                          if isinstance(alpha, Tensor)
                                          else _log_grad.forward(xp, alpha, log_z)),
    None, saves=(0, 1))


def log_reparameterized(alpha, log_z):
    """``log_z`` (the logs of standard-gamma draws of ``alpha``, as ``reparameterized`` takes
    the draws) as a Tensor whose gradient reaches ``alpha`` through ``d log(z)/dalpha``,
    finite where ``z`` itself would underflow (``standard_log_gamma_grad``).

    >>> import xpgrad as xg
    >>> alpha = xg.asarray([1.0, 1.0], dtype=xg.float64)
    >>> log_z = xg.log(xg.asarray([0.5, 3.0], dtype=xg.float64))
    >>> g = xg.grad(lambda a: xg.sum(log_reparameterized(a, log_z)))(alpha)
    >>> [round(v, 10) for v in g.tolist()]                  # dz/dalpha / z
    [1.6139582337, 0.6459705646]
    """
    return apply(_log_reparameterized, alpha, log_z)
