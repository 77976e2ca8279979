"""``x * x`` and its rounding error, by Dekker's split: what ``dawsn``, ``fresnel`` and
``owens_t`` correct ``exp(-x^2)`` and ``pi x^2 / 2`` with at large ``x``.

>>> square, error = square_and_error(3.0000000000000004)
>>> square + error == square, abs(error) < 1e-15
(True, True)
"""
from __future__ import annotations

#: 2^27 + 1: Dekker's split of a float64 into two halves of 26 bits
SPLIT = 134217729.0


def square_and_error(x):
    """``(fl(x * x), x^2 - fl(x * x))``: the rounded square and its exact rounding error (for
    float64 ``x`` well inside the range; arrays or numbers)."""
    square = x * x
    scaled = SPLIT * x
    high = scaled - (scaled - x)
    low = x - high
    return square, ((high * high - square) + 2.0 * high * low) + low * low
