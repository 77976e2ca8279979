"""The Bernoulli numbers ``bernoulli(n) = [B_0, ..., B_n]`` (``scipy.special.bernoulli``,
``jax.scipy.special.bernoulli``; ``B_1 = -1/2``), computed exactly as fractions by the
Akiyama-Tanigawa algorithm and rounded once to float64 (+-inf past float64's range, from
B_260 on). Numbers, not a function of an array: nothing to differentiate.

>>> import xpgrad as xg
>>> xg.special.bernoulli(4).tolist()[:3]
[1.0, -0.5, 0.16666666666666666]
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from .special import whole


@lru_cache(maxsize=8)
def _exact(n):
    """``(B_0, ..., B_n)`` as Fractions, ``B_1 = +1/2`` (Akiyama-Tanigawa's)."""
    row, out = [], []
    for m in range(n + 1):
        row.append(Fraction(1, m + 1))
        for j in range(m, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        out.append(row[0])
    return tuple(out)


def _rounded(value):
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def bernoulli(n, /, *, backend=None):
    """The Bernoulli numbers ``B_0, ..., B_n`` as a float64 Tensor of length ``n + 1``
    (``scipy.special.bernoulli(n)``, SciPy's ``B_1 = -1/2``); ``n`` an int >= 0. ``backend``:
    where the Tensor lives (the default backend if None).

    >>> import xpgrad as xg
    >>> [round(v, 12) for v in xg.special.bernoulli(6).tolist()[4:]]
    [-0.033333333333, 0.0, 0.02380952381]
    """
    from ..creation import asarray

    n = whole("bernoulli", "n", n, 0)
    values = [_rounded(v) for v in _exact(n)]
    if n >= 1:
        values[1] = -0.5
    return asarray(values, dtype="float64", backend=backend)


__all__ = ["bernoulli"]
