"""More of ``xg.special``: the entropies, the Huber losses, ``ndtri``, ``betaln``,
``multigammaln``, ``sinc``, ``exp2``/``exp10`` and SciPy's ``logsumexp``/``softmax``/
``log_softmax``, under SciPy's names and signatures (``scipy.special`` ufuncs on a Tensor
find them through NumPy's dispatch, so they differentiate on a tape too).

Most are compositions of differentiable functions, so gradients of any order follow; the
entropies and ``ndtri`` are primitives whose rules are written with differentiable calls.

>>> import xpgrad as xg
>>> p = xg.asarray([0.5, 0.5], dtype=xg.float64)
>>> q = xg.asarray([0.9, 0.1], dtype=xg.float64)
>>> round(xg.sum(xg.special.rel_entr(p, q)).item(), 6)      # KL(p || q)
0.510826
"""
from __future__ import annotations

import math

import numpy as np

from .._args import refuse_keywords
from ..primitive import Primitive, apply
from . import special_formulas as sf
from .elementwise import abs, exp, hypot, isfinite, isinf, log, log1p, pow, sign, sin, sqrt
from .activations import log_softmax as _log_softmax_along, softmax as _softmax_along
from .reductions import logsumexp as _logsumexp, max as _max, sum as _sum
from .selection import where
from .shape import reshape
from .special import _digamma, _in_float64, _pair, _quiet, _real, gammaln, whole
from .special_gamma_shift import SHIFT_RATIO, log_gamma_shift

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_LN2 = math.log(2.0)


def psi(x, /):
    """``digamma`` under SciPy's other name.

    >>> import xpgrad as xg
    >>> round(xg.special.psi(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    -0.577215664902
    """
    return apply(_digamma, _real("psi", x))


# -- entropies ----------------------------------------------------------------------------------
def _entr(xp, x):
    edge = xp.where(x == 0, xp.zeros_like(x), xp.where(x < 0, xp.full_like(x, -xp.inf), x))
    return xp.where(x > 0, -x * xp.log(xp.where(x > 0, x, 1.0)), edge)     # NaN stays NaN


def _x_log_ratio(xp, x, y):
    """``(x > 0 and y > 0, x log(x / y))``; ``log x - log y`` where ``x / y`` overflows or
    is subnormal (y subnormal: 1.5 log(1.5 / 5e-324) is 1117, not inf)."""
    both = (x > 0) & (y > 0)
    ratio = xp.where(both, x, 1.0) / xp.where(both, y, 1.0)
    in_range = (ratio >= 2.2250738585072014e-308) & (ratio < xp.inf)
    logged = xp.where(in_range, xp.log(xp.where(in_range, ratio, 1.0)),
                      _log_ratio(xp, xp.where(both, x, 1.0), xp.where(both, y, 1.0)))
    return both, x * logged


def _edge(xp, x, y, at_zero):
    """``at_zero`` where x == 0 and y >= 0, NaN where either is NaN, inf elsewhere."""
    edge = xp.where((x == 0) & (y >= 0), at_zero, xp.full_like(at_zero, xp.inf))
    return xp.where((x != x) | (y != y), xp.full_like(at_zero, xp.nan), edge)


def _rel_entr(xp, x, y):
    both, value = _x_log_ratio(xp, x, y)
    return xp.where(both, value, _edge(xp, x, y, xp.zeros_like(value)))


def _kl_div(xp, x, y):
    both, value = _x_log_ratio(xp, x, y)
    return xp.where(both, value - x + y, _edge(xp, x, y, y + xp.zeros_like(value)))


def _log_ratio(xp, x, y):
    return xp.log(x) - xp.log(y)


_entr_prim = Primitive("special_entr", _quiet(_entr),
                       _quiet(lambda xp, g, ans, x: -g * (xp.log(x) + 1.0)), saves=(0,))
_rel_entr_prim = Primitive(
    "special_rel_entr", _quiet(_rel_entr),
    _quiet(lambda xp, g, ans, x, y: g * (_log_ratio(xp, x, y) + 1.0)),
    _quiet(lambda xp, g, ans, x, y: -g * x / y), saves=(0, 1))
_kl_div_prim = Primitive(
    "special_kl_div", _quiet(_kl_div),
    _quiet(lambda xp, g, ans, x, y: g * _log_ratio(xp, x, y)),
    _quiet(lambda xp, g, ans, x, y: g * (1.0 - x / y)), saves=(0, 1))


def entr(x, /):
    """``-x log x`` for x > 0, 0 at 0, -inf below, NaN for NaN (``scipy.special.entr``,
    ``torch.special.entr``); its gradient ``-(log x + 1)``.

    >>> import xpgrad as xg
    >>> xg.special.entr(xg.asarray([0.0, 1.0, -1.0])).tolist()
    [0.0, -0.0, -inf]
    """
    return apply(_entr_prim, _real("entr", x))


def rel_entr(x, y, /):
    """``x log(x / y)`` for x, y > 0; 0 where x == 0 and y >= 0; inf elsewhere
    (``scipy.special.rel_entr``): ``sum(rel_entr(p, q))`` is the Kullback-Leibler divergence
    of distributions p and q.

    >>> import xpgrad as xg
    >>> xg.special.rel_entr(xg.asarray([0.0, 1.0]), xg.asarray([0.5, 1.0])).tolist()
    [0.0, 0.0]
    """
    return apply(_rel_entr_prim, *_pair("rel_entr", x, y))


def kl_div(x, y, /):
    """``x log(x / y) - x + y`` for x, y > 0; ``y`` where x == 0 and y >= 0; inf elsewhere
    (``scipy.special.kl_div``: the divergence of unnormalized measures).

    >>> import xpgrad as xg
    >>> xg.special.kl_div(xg.asarray([0.0, 1.0]), xg.asarray([0.5, 1.0])).tolist()
    [0.5, 0.0]
    """
    return apply(_kl_div_prim, *_pair("kl_div", x, y))


# -- Huber losses -----------------------------------------------------------------------------
def huber(delta, r, /):
    """``r**2 / 2`` where ``|r| <= delta``, ``delta (|r| - delta / 2)`` beyond; inf for
    ``delta < 0`` (``scipy.special.huber``; ``torch.nn.functional.huber_loss`` per element).

    >>> import xpgrad as xg
    >>> xg.special.huber(1.0, xg.asarray([0.5, 3.0])).tolist()
    [0.125, 2.5]
    """
    delta, r = _pair("huber", delta, r, ("delta", "r"))
    size = abs(r)
    value = where(size <= delta, 0.5 * r * r, delta * (size - 0.5 * delta))
    return where(delta < 0, math.inf, value)


def pseudo_huber(delta, r, /):
    """``delta**2 (sqrt(1 + (r / delta)**2) - 1)``, a smooth Huber loss (finite where ``r**2``
    overflows: ``delta |r|`` there); 0 for ``delta == 0``,
    inf for ``delta < 0`` (``scipy.special.pseudo_huber``).

    >>> import xpgrad as xg
    >>> round(xg.special.pseudo_huber(1.0, xg.asarray([1.0])).item(), 6)
    0.414214
    """
    delta, r = _pair("pseudo_huber", delta, r, ("delta", "r"))
    positive = delta > 0
    infinite = isinf(r)
    finite_r = where(infinite, 0.0, r)
    scaled = finite_r / where(positive, delta, 1.0)
    # no cancelling in sqrt(1 + t**2) - 1, and no overflow of r**2 where delta |r| is finite
    value = where(infinite, math.inf, finite_r * (finite_r / (hypot(1.0, scaled) + 1.0)))
    # a NaN delta is NaN (not the inf of delta < 0)
    return where(positive, value, where(delta == 0, 0.0 * finite_r,
                                        where(delta < 0, math.inf, math.nan)))


# -- ndtri ----------------------------------------------------------------------------------------
def _ndtri(xp, p):
    """The normal quantile: Newton steps on ``log Phi(x) = log p`` (accurate in the far left
    tail, where p underflows near 1e-308) from an erfinv guess; right half by symmetry
    (``1 - p`` is exact for p >= 1/2)."""
    upper = p > 0.5
    q = xp.where(upper, 1.0 - p, p)
    inner = xp.where((q > 0) & (q <= 0.5), q, 0.25)
    log_q = xp.log(inner)
    # central guess, and the tail's asymptotic one: x ~ -sqrt(-2 log q - log(-4 pi log q))
    t = -2.0 * log_q
    tail = -xp.sqrt(xp.where(inner < 1e-3, t - xp.log(2.0 * math.pi * t), 1.0))
    central = math.sqrt(2.0) * sf.erfinv(xp, 2.0 * inner - 1.0)
    x = xp.where(inner < 1e-3, tail, central)
    for _ in range(4):
        x = x - (sf.log_ndtr(xp, x) - log_q) / sf.ndtr_hazard(xp, x)
    # the middle: erfinv itself (2q - 1 is exact for q >= 1/4; Newton's log q cancels there)
    x = xp.where(inner >= 0.25, central, x)
    x = xp.where(q == 0, -xp.inf, xp.where(q == 0.5, 0.0, x))
    x = xp.where((p < 0) | (p > 1) | (p != p), xp.nan, x)
    return xp.where(upper, -x, x)


_ndtri_prim = Primitive(
    "special_ndtri", _quiet(_in_float64(_ndtri)),
    _quiet(lambda xp, g, ans, p: g * _SQRT_2PI * xp.exp(0.5 * ans * ans)), saves=("output",))


def ndtri(p, /):
    """The inverse of ``ndtr``: ``x`` with ``Phi(x) = p`` (``scipy.special.ndtri``,
    ``torch.special.ndtri``); -inf at 0, inf at 1, NaN outside [0, 1]; accurate far in the
    left tail (p down to the smallest subnormal). Its derivative is ``1 / phi(x)``.

    >>> import xpgrad as xg
    >>> p = xg.asarray([0.5, 0.975], dtype=xg.float64)
    >>> [round(v, 10) for v in xg.special.ndtri(p).tolist()]
    [0.0, 1.9599639845]
    """
    return apply(_ndtri_prim, _real("ndtri", p, "p"))


# -- beta and multivariate gamma ------------------------------------------------------------------
def betaln(a, b, /):
    """``log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)`` (``scipy.special.betaln``),
    the normalizer of Beta and Dirichlet likelihoods. Where the larger argument is >= 10, the
    difference of the two large gammalns is Stirling's series written as one sum, so no digits
    cancel (as SciPy's). Where the smaller is below 1e-3 of the larger (positive) one,
    ``gammaln(small) - log_gamma_shift(large, small)``: the larger's gradient
    ``psi(large) - psi(a + b)`` is then ``-small psi'(large)`` to the last bit, not 0.

    >>> import xpgrad as xg
    >>> round(xg.special.betaln(xg.asarray(2.0, dtype=xg.float64), 3.0).item(), 12)  # log 1/12
    -2.484906649788
    """
    a, b = _pair("betaln", a, b, ("a", "b"))
    ordered = a <= b        # not minimum/maximum: at a == b each argument keeps its own gradient
    small, large = where(ordered, a, b), where(ordered, b, a)
    series = (large >= 10.0) & (small > 0)
    s, big = where(series, small, 1.0), where(series, large, 10.0)
    # gammaln(big) - gammaln(big + s), Stirling's terms of each collected
    difference = (-(big - 0.5) * log1p(s / big) - s * log(big + s) + s
                  + sf.stirling_correction(big) - sf.stirling_correction(big + s))
    log_gamma_a, log_gamma_b = gammaln(a), gammaln(b)
    direct = log_gamma_a + log_gamma_b - gammaln(a + b)
    log_gamma_small = where(ordered, log_gamma_a, log_gamma_b)
    shifted = (large > 0) & (abs(small) <= SHIFT_RATIO * large) & isfinite(large)
    at_shifted = log_gamma_small - log_gamma_shift(large, small, shifted)
    # gammaln(small) is one of the two already made (three gammalns, not four)
    return where(shifted, at_shifted, where(series, log_gamma_small + difference, direct))


def multigammaln(a, d, /):
    """The log of the multivariate gamma function of dimension ``d`` (a Python int >= 1):
    ``d (d - 1) / 4 log(pi) + sum_j gammaln(a - j / 2)``, j = 0 .. d - 1
    (``scipy.special.multigammaln``, ``torch.special.multigammaln``); the Wishart's normalizer.
    Every ``a`` must exceed ``(d - 1) / 2`` (ValueError otherwise, as SciPy's).

    >>> import xpgrad as xg
    >>> round(xg.special.multigammaln(xg.asarray(3.0, dtype=xg.float64), 1).item(), 12)  # log 2
    0.69314718056
    """
    d = whole("multigammaln", "d", d, 1)
    a = _real("multigammaln", a, "a")
    bound = 0.5 * (d - 1)
    # value_range: inside xg.function a guard, so a replay checks it too
    lo = a.backend.value_range(a._data, (math.nextafter(bound, math.inf), math.inf))[0] \
        if a.size else math.inf
    if not lo > bound:
        raise ValueError(f"xg.special.multigammaln: every a must be > (d - 1) / 2 = {bound} "
                         f"for d = {d}, got a minimum of {lo}")
    total = gammaln(a)
    for j in range(1, d):
        total = total + gammaln(a - 0.5 * j)
    return total + 0.25 * d * (d - 1) * math.log(math.pi)


# -- sinc, exp2, exp10 ----------------------------------------------------------------------------
def sinc(x, /):
    """The normalized sinc ``sin(pi x) / (pi x)``, 1 at 0 (``numpy.sinc``, ``scipy.special``'s
    ``sinc``, ``torch.special.sinc``); gradients of any order are finite at 0.

    >>> import xpgrad as xg
    >>> xg.special.sinc(xg.asarray([0.0, 0.5], dtype=xg.float64)).tolist()[0]
    1.0
    """
    x = _real("sinc", x)
    small = abs(x) < 0.01
    safe = where(small, 1.0, x) * math.pi
    y = where(small, x, 0.0) * math.pi
    y2 = y * y        # the Taylor series near 0: 1 - y^2/6 + y^4/120 - y^6/5040
    series = 1.0 + y2 * (-1.0 / 6.0 + y2 * (1.0 / 120.0 - y2 / 5040.0))
    return where(small, series, sin(safe) / safe)


def _exp2(xp, x):
    """The namespace's ``exp2`` (NumPy's is 9x faster than its ``pow(2, x)``), else ``pow``."""
    exp2 = getattr(xp, "exp2", None)
    return xp.pow(2.0, x) if exp2 is None else exp2(x)


_exp2_prim = Primitive("special_exp2", _quiet(_exp2),
                       _quiet(lambda xp, g, ans, x: g * ans * _LN2), saves=("output",))


def exp2(x, /):
    """``2**x`` (``scipy.special.exp2``, ``torch.special.exp2``); its derivative is
    ``2**x log 2``. On the NumPy backend a float32 input's result is float64's rounded (within
    half an ulp; NumPy's own float32 ``exp2`` is up to 2.8 ulps off, its ``pow`` 1).

    >>> import xpgrad as xg
    >>> xg.special.exp2(xg.asarray([3.0, -1.0])).tolist()
    [8.0, 0.5]
    """
    return apply(_exp2_prim, _real("exp2", x))


def exp10(x, /):
    """``10**x`` (``scipy.special.exp10``).

    >>> import xpgrad as xg
    >>> xg.special.exp10(xg.asarray([2.0])).tolist()
    [100.0]
    """
    return pow(10.0, _real("exp10", x))


# -- SciPy's logsumexp, softmax, log_softmax ------------------------------------------------------
def logsumexp(a, /, axis=None, b=None, keepdims=False, return_sign=False, **unexpected):
    """``log(sum(b * exp(a)))`` over ``axis`` (all axes by default), as
    ``scipy.special.logsumexp`` and ``jax.scipy.special.logsumexp``: ``b`` scales the terms
    (it may be negative); with ``return_sign`` the result is ``(log|sum|, sign of the sum)``,
    without it a negative sum gives NaN.

    >>> import xpgrad as xg
    >>> a = xg.asarray([0.0, 0.0], dtype=xg.float64)
    >>> round(xg.special.logsumexp(a).item(), 12), xg.special.logsumexp(a, b=[1.0, -1.0]).item()
    (0.69314718056, -inf)
    """
    if unexpected:
        refuse_keywords("logsumexp", unexpected)
    from .._args import flag
    from ..tape import stop_gradient

    return_sign = flag(return_sign, "return_sign", "logsumexp")
    keepdims = flag(keepdims, "keepdims", "logsumexp")
    if b is None:
        a = _real("logsumexp", a, "a")
        out = _logsumexp(a, axis=axis, keepdims=keepdims)
        return (out, sign(exp(out))) if return_sign else out    # sign 0 for an empty sum
    a, b = _pair("logsumexp", a, b, ("a", "b"))
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(f"logsumexp: b of shape {tuple(b.shape)} does not broadcast with a's "
                         f"shape {tuple(a.shape)}") from None
    a = where(b == 0, -math.inf, a)     # b = 0 masks its term out, whatever a is (SciPy, JAX)
    top = stop_gradient(_max(a, axis=axis, keepdims=True))
    top = where(isfinite(top), top, 0.0)
    total = _sum(b * exp(a - top), axis=axis, keepdims=keepdims)
    top = top if keepdims else _squeeze(top, axis)
    out = apply(_log_abs_prim, total) + top     # log 0 = -inf: an empty or cancelling sum
    signs = sign(total)
    if return_sign:
        return out, signs
    return where(signs < 0, math.nan, out)


def _log_abs_vjp(xp, g, ans, total):
    """``g / total``; NaN where ``total`` is 0 (JAX's ``1/0 * sign(0)``; its terms are 0 or
    cancel), without NumPy's divide-by-zero warning there nor an invalid ``inf * 0`` after."""
    return xp.where(total == 0, g * math.nan, g / total)


#: ``log|total|`` of the weighted sum, quiet at 0 (-inf; a zero weight masks its term out)
_log_abs_prim = Primitive("special_log_abs", _quiet(lambda xp, total: xp.log(xp.abs(total))),
                          _quiet(_log_abs_vjp), saves=(0,))


def _squeeze(x, axis):
    from .shape import squeeze

    if axis is None:
        return reshape(x, ())
    return squeeze(x, axis=axis if isinstance(axis, tuple) else (axis,))


def _along(fn, name, x, axis):
    """``fn`` (softmax or log_softmax along one axis) over ``axis``: one int, a tuple, or
    None (the whole array, SciPy's default) by flattening those axes."""
    x = _real(name, x)
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_)):
        return fn(x, axis=int(axis))
    shifted = x - _logsumexp(x, axis=axis, keepdims=True)
    return shifted if fn is _log_softmax_along else exp(shifted)


def softmax(x, /, axis=None, **unexpected):
    """``exp(x) / sum(exp(x))`` over ``axis``: the whole array by default, as
    ``scipy.special.softmax`` (``xg.softmax`` takes the last axis by default).

    >>> import xpgrad as xg
    >>> xg.special.softmax(xg.asarray([[0.0, 0.0], [0.0, 0.0]])).tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """
    if unexpected:
        refuse_keywords("softmax", unexpected)
    return _along(_softmax_along, "softmax", x, axis)


def log_softmax(x, /, axis=None, **unexpected):
    """``x - logsumexp(x)`` over ``axis``: the whole array by default, as
    ``scipy.special.log_softmax``.

    >>> import xpgrad as xg
    >>> round(xg.special.log_softmax(xg.asarray([0.0, 0.0], dtype=xg.float64))[0].item(), 12)
    -0.69314718056
    """
    if unexpected:
        refuse_keywords("log_softmax", unexpected)
    return _along(_log_softmax_along, "log_softmax", x, axis)


__all__ = ["betaln", "entr", "exp10", "exp2", "huber", "kl_div", "log_softmax", "logsumexp",
           "multigammaln", "ndtri", "pseudo_huber", "psi", "rel_entr", "sinc", "softmax"]
