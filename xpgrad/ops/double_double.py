"""Double-double arithmetic on arrays: a value as an unevaluated sum ``hi + lo`` of two floats
of its dtype (about 32 digits in float64), by the error-free sums and products of Dekker and
Knuth (no fused multiply-add needed). For sums whose terms cancel (``hyp1f1``'s alternating
series): each term and the running sum carry the digits that plain floats would lose.

>>> import numpy as np
>>> hi, lo = two_sum(np, np.asarray(1.0), np.asarray(1e-20))
>>> float(hi), float(lo)
(1.0, 1e-20)
"""
from __future__ import annotations

_SPLITTER = 134217729.0      # 2^27 + 1: Dekker's split of a float64 into two 26-bit halves


def two_sum(xp, a, b):
    """``(s, e)`` with ``s = fl(a + b)`` and ``s + e = a + b`` exactly (Knuth).

    >>> import numpy as np
    >>> [float(v) for v in two_sum(np, np.asarray(1e16), np.asarray(1.0))]
    [1e+16, 1.0]
    """
    s = a + b
    back = s - a
    return s, (a - (s - back)) + (b - back)


def _split(xp, a):
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(xp, a, b):
    """``(p, e)`` with ``p = fl(a b)`` and ``p + e = a b`` exactly (Dekker; for
    ``|a|, |b| < 1e300``).

    >>> import numpy as np
    >>> p, e = two_prod(np, np.asarray(1.0 + 2.0 ** -30), np.asarray(1.0 + 2.0 ** -30))
    >>> float(e) == 2.0 ** -60
    True
    """
    p = a * b
    ah, al = _split(xp, a)
    bh, bl = _split(xp, b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _normalize(xp, hi, lo):
    s = hi + lo
    return s, lo - (s - hi)


def dd_add(xp, x, y):
    """``x + y`` of two double-doubles ``(hi, lo)``.

    >>> import numpy as np
    >>> [float(v) for v in dd_add(np, (np.asarray(1.0), np.asarray(1e-20)),
    ...                                (np.asarray(-1.0), np.asarray(0.0)))]
    [1e-20, 0.0]
    """
    s, e = two_sum(xp, x[0], y[0])
    return _normalize(xp, s, e + (x[1] + y[1]))


def dd_mul(xp, x, y):
    """``x y`` of two double-doubles.

    >>> import numpy as np
    >>> third = dd_div(np, (np.asarray(1.0), np.asarray(0.0)), (np.asarray(3.0), np.asarray(0.0)))
    >>> [float(v) for v in dd_mul(np, third, (np.asarray(3.0), np.asarray(0.0)))]
    [1.0, 0.0]
    """
    p, e = two_prod(xp, x[0], y[0])
    return _normalize(xp, p, e + (x[0] * y[1] + x[1] * y[0]))


def dd_div(xp, x, y):
    """``x / y`` of two double-doubles (a long division in two float quotients).

    >>> import numpy as np
    >>> hi, lo = dd_div(np, (np.asarray(1.0), np.asarray(0.0)), (np.asarray(3.0), np.asarray(0.0)))
    >>> float(hi), abs(float(lo) - 1.850371707708594e-17) < 1e-32
    (0.3333333333333333, True)
    """
    q = x[0] / y[0]
    rest = dd_add(xp, x, _negate(dd_mul(xp, (q, xp.zeros_like(q)), y)))
    return _normalize(xp, q, rest[0] / y[0])


def _negate(x):
    return -x[0], -x[1]


__all__ = ["two_sum", "two_prod", "dd_add", "dd_mul", "dd_div"]
