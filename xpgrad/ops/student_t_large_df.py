"""Student's t CDF's derivative in its degrees of freedom at large ``df``, from the CDF's
expansion in ``1 / df`` about the normal one: ``stdtr(df, t) = Phi(t) + phi(t) sum_k
q_k(t) / df^k`` (the density's expansion in ``1 / df`` integrated term by term; the
polynomials ``q_k`` derived with SymPy and checked against mpmath), so ``d stdtr / d df =
-phi(t) sum_k k q_k(t) / df^(k + 1)``. There the betainc route's two paths cancel (2e-6
relative at df = 1e5, the wrong sign at 1e10); six terms are within 1e-15 of mpmath (3e-13
near t = 2, df = 320, 3e-11 where df is 4 to 8 times t^4) where ``df >= 300`` and
``df >= 4 t^4`` (the terms fall as ``(t^4 / (4 df))^k / k!``). Below ``4 t^4`` the betainc
route is 5e-8 off at most (t in [-40, 40]); above it, 3e-6 at 19 t^4 (df = 2.9e7, t = -35).

>>> import array_api_compat.numpy as xp
>>> slope = student_t_cdf_by_df_large(xp, xp.asarray([1e10]), xp.asarray([-2.0]))
>>> bool(abs(slope[0] / (-0.053990966513188 * 2.5 / 1e20) - 1) < 1e-9)
True
"""
from __future__ import annotations

import math

#: coefficients of ``-q_k(t) / t`` in powers of ``t^2``, highest first, and their divisor
_POLYNOMIALS = (
    ((1, 1), 4),
    ((3, -7, -5, -3), 96),
    ((1, -11, 14, 6, -3, -15), 384),
    ((15, -375, 2225, -2141, -939, -213, 915, 945), 92160),
    ((3, -133, 1764, -7516, 5994, 2490, 1140, 180, 5355, 17955), 368640),
    ((63, -4347, 101115, -946043, 3237542, -2253390, -876282, -384150, 263115, 129465,
      -2329425, -2463615), 185794560),
)

#: from here on (and from ``TAIL_RATIO t^4`` on; 9e-11 at df = 999, t = -0.3 before) the
#: expansion replaces the betainc route
LARGE_DF = 300.0
#: the expansion from ``df >= TAIL_RATIO t^4`` on (it was 20: the betainc route is 3e-6 off at
#: df = 2.9e7, t = -35, 19 t^4, where the expansion is 4e-14)
TAIL_RATIO = 4.0


def uses_expansion(xp, df, t):
    """Where the six-term expansion is within 1e-15 (3e-13 near t = 2, df = 320, 3e-11 from
    4 t^4 to 8 t^4): ``df >= 300`` and ``df >= 4 t^4``.

    >>> import array_api_compat.numpy as xp
    >>> uses_expansion(xp, xp.asarray([300.0, 1e5, 1e5]), xp.asarray([1.0, 5.0, 20.0])).tolist()
    [True, True, False]
    """
    square = t * t
    return (df >= LARGE_DF) & (df >= TAIL_RATIO * square * square)


def student_t_cdf_by_df_large(xp, df, t):
    """``d stdtr(df, t) / d df`` from the large-df expansion (module docstring); meant for
    the points ``uses_expansion`` picks (elsewhere its terms grow).

    >>> import array_api_compat.numpy as xp
    >>> float(student_t_cdf_by_df_large(xp, xp.asarray(1e4), xp.asarray(0.0)))
    0.0
    """
    square = t * t
    inverse = 1.0 / df
    total = xp.zeros_like(t)
    power = inverse * inverse                                   # 1 / df^(k + 1), k = 1
    for k, (coefficients, divisor) in enumerate(_POLYNOMIALS, start=1):
        polynomial = xp.zeros_like(t)
        for c in coefficients:
            polynomial = polynomial * square + float(c)
        total = total + (k / divisor) * polynomial * power
        power = power * inverse
    density = xp.exp(-0.5 * square) / math.sqrt(2.0 * math.pi)
    return density * t * total
