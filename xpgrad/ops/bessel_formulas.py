"""The formulas behind ``xg.special``'s Bessel functions of orders 0 and 1 of the first and
second kind ``j0``, ``j1``, ``y0``, ``y1`` and the modified ones of the second kind ``k0``,
``k1`` (``special_bessel.py``), for ``x > 0`` in float64 on any array namespace ``xp``:

- ``x <= 2`` (K: ``x <= 1``, where its logarithm and its sum cancel less): the power series
  (no term exceeds 1), with the logarithmic series of the second kind (A&S 9.1.11, 9.6.11);
- up to ``x = 25``: J and Y by Miller's backward recurrence from order 80, normalized by
  ``J0 + 2 sum_k J_2k = 1``, Y by the Neumann series ``Y0 = (2/pi)(log(x/2) + gamma) J0 -
  (4/pi) sum_k (-1)^k J_2k / k`` and its derivative; K by the trapezoidal rule on
  ``e^x K_n(x) = int_0^inf e^(-x (cosh t - 1)) cosh(n t) dt`` (exponentially convergent:
  the integrand is analytic and decays doubly exponentially);
- ``x > 25``: Hankel's asymptotic expansions (their smallest term is ~e^(-2x) < 1e-21).

>>> import array_api_compat.numpy as xp
>>> round(float(first_kind(xp, xp.asarray([1.0]), 0)[0]), 12)
0.765197686558
"""
from __future__ import annotations

import math

SERIES_UP_TO = 2.0
ASYMPTOTIC_FROM = 25.0
K_SERIES_UP_TO = 1.0          # K's series cancels (log(x/2) I against the sum) toward 2
_SERIES_TERMS = 16          # (x^2 / 4)^k / k!^2 at x = 2 is below 1e-26 past k = 16
_MILLER_START = 80          # J_80(25) / J_0(25) ~ 1e-30: the start's error is lost
_ASYMPTOTIC_TERMS = 30      # a_30(nu) / 25^30 ~ 3e-19
_TRAPEZOID_STEP = 0.125     # the rule's error ~exp(-2 pi^2 / (x h^2)) < 1e-21 at x = 25
_TRAPEZOID_NODES = 44       # x (cosh(5.4) - 1) = 110 at x = 1: e^-110 is below every digit
_EULER_GAMMA = 0.5772156649015329
_LN2 = math.log(2.0)


def _series(xp, x, order, modified):
    """``(first, log_part)`` for ``x <= 2``: J_order (I_order if ``modified``) and the series
    of the second kind without its ``log(x / 2)`` term: ``sum_k s^k c_k q^k`` with
    ``q = x^2 / 4``, ``s = 1`` (modified) or -1."""
    q = 0.25 * x * x
    sign = 1.0 if modified else -1.0
    power = xp.ones_like(x) if order == 0 else 0.5 * x          # (x/2)^order q^k / (k! (k+n)!)
    first = power
    harmonic, other = 0.0, 1.0          # H_k and H_(k + order) (psi(k + 1) + gamma, ...)
    log_part = (harmonic + other) * power if order == 1 else xp.zeros_like(x)
    for k in range(1, _SERIES_TERMS):
        power = sign * power * q / (k * (k + order))
        harmonic += 1.0 / k
        other += 1.0 / (k + order)
        first = first + power
        log_part = log_part + (harmonic + other if order == 1 else harmonic) * power
    return first, log_part


def _small(xp, x, order, modified):
    """The series' J or I, and Y or K, for ``0 < x <= 2``."""
    first, log_part = _series(xp, x, order, modified)
    log_half = xp.log(x) - _LN2            # x / 2 underflows at 5e-324
    if order == 0:
        if modified:        # K0 = -(log(x/2) + gamma) I0 + sum H_k q^k / k!^2
            return first, log_part - (log_half + _EULER_GAMMA) * first
        # Y0 = (2/pi)((log(x/2) + gamma) J0 - sum (-q)^k H_k / k!^2)
        return first, (2.0 / math.pi) * ((log_half + _EULER_GAMMA) * first - log_part)
    # psi(k + 1) + psi(k + 2) = H_k + H_(k+1) - 2 gamma
    shifted = log_part - 2.0 * _EULER_GAMMA * first
    if modified:            # K1 = 1/x + log(x/2) I1 - (1/2) sum (psi + psi) (x/2)^(2k+1) / ...
        return first, 1.0 / x + log_half * first - 0.5 * shifted
    return first, (-2.0 / x + 2.0 * log_half * first - shifted) / math.pi


def _miller(xp, x):
    """``(J0, J1, Y0, Y1)`` for ``2 < x <= 25`` by the backward recurrence
    ``J_(k-1) = (2k / x) J_k - J_(k+1)`` from ``J_81 = 0``, ``J_80 = 1``."""
    above, here = xp.zeros_like(x), xp.ones_like(x)
    norm = xp.zeros_like(x)          # 2 sum_k J_2k
    neumann = xp.zeros_like(x)       # sum_k (-1)^k J_2k / k
    odd = xp.zeros_like(x)           # sum_k (-1)^k (J_(2k-1) - J_(2k+1)) / k
    for k in range(_MILLER_START, 0, -1):
        if k % 2 == 0:
            half = k // 2
            norm = norm + 2.0 * here
            neumann = neumann + ((-1.0) ** half / half) * here
        else:
            coefficient = (-1.0) ** ((k + 1) // 2) / ((k + 1) // 2)
            if k >= 3:
                coefficient -= (-1.0) ** ((k - 1) // 2) / ((k - 1) // 2)
            odd = odd + coefficient * here
        above, here = here, (2.0 * k / x) * here - above
    scale = 1.0 / (here + norm)                 # J0 + 2 sum J_2k = 1
    j0, j1 = here * scale, above * scale
    log_term = xp.log(0.5 * x) + _EULER_GAMMA
    y0 = (2.0 / math.pi) * (log_term * j0 - 2.0 * neumann * scale)
    y1 = (2.0 / math.pi) * (-j0 / x + log_term * j1 + odd * scale)
    return j0, j1, y0, y1


def _hankel(xp, x, order):
    """``(P, Q)`` of Hankel's expansion for ``x > 25``: ``J = sqrt(2 / (pi x)) (P cos chi -
    Q sin chi)``, ``Y = ... (P sin chi + Q cos chi)``, ``chi = x - (order / 2 + 1/4) pi``."""
    mu = 4.0 * order * order
    term = xp.ones_like(x)
    p, q = term, xp.zeros_like(x)
    for k in range(1, _ASYMPTOTIC_TERMS):
        term = term * (mu - (2 * k - 1) ** 2) / (8.0 * k * x)
        sign = (-1.0) ** (k // 2)
        if k % 2 == 0:
            p = p + sign * term
        else:
            q = q + sign * term
    return p, q


def _large(xp, x, order):
    """``(J, Y)`` for ``x > 25``: the phase ``chi`` from ``cos x`` and ``sin x`` (no rounding
    of ``x - pi/4``)."""
    p, q = _hankel(xp, x, order)
    cos, sin = xp.cos(x), xp.sin(x)
    root = math.sqrt(0.5)
    if order == 0:
        cos_chi, sin_chi = root * (cos + sin), root * (sin - cos)
    else:
        cos_chi, sin_chi = root * (sin - cos), -root * (cos + sin)
    amplitude = math.sqrt(2.0 / math.pi) / xp.sqrt(x)     # pi x overflows past 5e307
    return amplitude * (p * cos_chi - q * sin_chi), amplitude * (p * sin_chi + q * cos_chi)


def _pick(xp, x, series_up_to=SERIES_UP_TO):
    """``x`` split three ways, each region's argument kept inside it (the others' formulas see
    a harmless stand-in)."""
    small = x <= series_up_to
    large = x > ASYMPTOTIC_FROM
    return (small, large, xp.where(small, x, 1.0), xp.where(small | large, 3.0, x),
            xp.where(large, x, 30.0))


def first_and_second_kind(xp, x, order):
    """``(J_order(|x|), Y_order(|x|))`` for ``x`` > 0 (edges by the caller)."""
    small, large, s, m, b = _pick(xp, x)
    j_small, y_small = _small(xp, s, order, False)
    j0, j1, y0, y1 = _miller(xp, m)
    j_large, y_large = _large(xp, b, order)
    middle_j, middle_y = (j0, y0) if order == 0 else (j1, y1)
    j = xp.where(small, j_small, xp.where(large, j_large, middle_j))
    y = xp.where(small, y_small, xp.where(large, y_large, middle_y))
    return j, y


def first_kind(xp, x, order):
    """``J_order(x)`` with SciPy's edges: even (order 0) or odd, NaN at +-inf and NaN."""
    z = xp.abs(x)
    j, _ = first_and_second_kind(xp, xp.where((z > 0) & (z < xp.inf), z, 1.0), order)
    if order == 0:
        j = xp.where(z == 0, xp.ones_like(j), j)
    else:
        j = xp.where(x < 0, -j, xp.where(z == 0, x, j))
    return xp.where(z == xp.inf, xp.nan, xp.where(x != x, x, j))


def second_kind(xp, x, order):
    """``Y_order(x)``: -inf at 0, NaN below 0 and at inf, as SciPy's."""
    inside = (x > 0) & (x < xp.inf)
    _, y = first_and_second_kind(xp, xp.where(inside, x, 1.0), order)
    return xp.where(inside, y, xp.where(x == 0, -xp.inf, xp.full_like(x, xp.nan)))


def _trapezoid(xp, x, order):
    """``e^x K_order(x)`` by the trapezoidal rule on ``int_0^inf e^(-x (cosh t - 1))
    cosh(order t) dt`` (the node at 0 halved)."""
    total = 0.5 * xp.ones_like(x)
    for node in range(1, _TRAPEZOID_NODES):
        t = node * _TRAPEZOID_STEP
        weight = math.cosh(order * t)
        total = total + weight * xp.exp(-x * (math.cosh(t) - 1.0))
    return _TRAPEZOID_STEP * total


def _k_large(xp, x, order):
    """``e^x K_order(x)`` for ``x > 25``: ``sqrt(pi / (2x)) sum_k a_k(order) / x^k``."""
    mu = 4.0 * order * order
    term = xp.ones_like(x)
    total = term
    for k in range(1, _ASYMPTOTIC_TERMS):
        term = term * (mu - (2 * k - 1) ** 2) / (8.0 * k * x)
        total = total + term
    return total * xp.sqrt(math.pi / (2.0 * x))


def modified_second_kind(xp, x, order, scaled):
    """``K_order(x)`` (``e^x K_order(x)`` if ``scaled``): inf at 0, NaN below 0 and for NaN,
    0 at inf, as SciPy's."""
    inside = (x > 0) & (x < xp.inf)
    small, large, s, m, b = _pick(xp, xp.where(inside, x, 1.0), K_SERIES_UP_TO)
    _, k_small = _small(xp, s, order, True)
    middle = xp.where(large, _k_large(xp, b, order), _trapezoid(xp, m, order))
    if scaled:
        value = xp.where(small, k_small * xp.exp(s), middle)
    else:
        value = xp.where(small, k_small, middle * xp.exp(-xp.where(small, 1.0, x)))
    edge = xp.where(x == 0, xp.inf, xp.where(x == xp.inf, 0.0, xp.full_like(x, xp.nan)))
    return xp.where(inside, value, edge)


def _hankel_coefficient(order, k):
    """``a_k(order) = prod_(j <= k) (4 order^2 - (2j - 1)^2) / (k! 8^k)``."""
    value = 1.0
    for j in range(1, k + 1):
        value *= (4.0 * order * order - (2 * j - 1) ** 2) / (8.0 * j)
    return value


def _slope_coefficients(name):
    """``c_1, c_2, ...``: the derivative of ``name`` (``k0e``, ``k1e``: ``e^x K_n``,
    ``sqrt(pi / 2x) sum_k a_k(n) / x^k``; ``i0e``, ``i1e``: ``e^-x I_n``, ``sum_k (-1)^k
    a_k(n) / x^k / sqrt(2 pi x)``) as ``scale sum_(k >= 1) c_k / x^k``, each ``c_k`` from the
    two series' terms (``K0e' = K0e - K1e``, ``K1e' = K1e - K0e - K1e / x``, ``I0e' = I1e -
    I0e``, ``I1e' = I0e - I1e - I1e / x`` for x > 0)."""
    alternating = name[0] == "i"
    out = []
    for k in range(1, _ASYMPTOTIC_TERMS):
        sign = (-1.0) ** k if alternating else 1.0
        before = -sign if alternating else 1.0
        difference = sign * (_hankel_coefficient(1, k) - _hankel_coefficient(0, k))
        previous = before * _hankel_coefficient(1, k - 1)
        out.append({"k0e": -difference, "k1e": difference - previous,
                    "i0e": difference, "i1e": -difference - previous}[name])
    return tuple(out)


_SLOPES = {name: _slope_coefficients(name) for name in ("k0e", "k1e", "i0e", "i1e")}


def scaled_slope(xp, x, name):
    """The derivative of ``k0e``, ``k1e`` (``e^x K_n(x)``), ``i0e`` or ``i1e`` (``e^-x
    I_n(x)``) at ``x > 25`` from their asymptotic series, term by term: it is ~1/(2x) of the
    functions, and their difference (``k0e - k1e``) keeps only ``eps x`` of it (2e-9 relative
    at 1e8, 1e-4 at 1e12).

    >>> import array_api_compat.numpy as xp
    >>> slope = float(scaled_slope(xp, xp.asarray([1e12]), "k0e")[0])
    >>> round(slope * 2e12 / math.sqrt(math.pi / 2e12), 9)          # -k0e / (2x)
    -1.0
    """
    total = xp.zeros_like(x)
    for c in reversed(_SLOPES[name]):
        total = (total + c) / x
    scale = math.pi / 2.0 if name[0] == "k" else 0.5 / math.pi
    return total * (math.sqrt(scale) / xp.sqrt(x))
