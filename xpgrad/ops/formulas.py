"""Formulas that several primitives' forwards and rules share, each written once against ``xp``.

>>> import array_api_compat.numpy as xp
>>> sigmoid(xp, xp.asarray([-800.0, 0.0, 800.0])).tolist()
[0.0, 0.5, 1.0]
>>> [round(v, 4) for v in log_softmax(xp, xp.asarray([0.0, 0.0]), axis=0).tolist()]
[-0.6931, -0.6931]
"""
from __future__ import annotations


def sigmoid(xp, x):
    """``1 / (1 + exp(-x))`` without overflow, accurate for large negative ``x`` too."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(xp, x):
    """``log(1 + exp(x))`` without overflow."""
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def sigmoid_ce_at_infinity(xp, x, t, per):
    """``per``, the binary cross-entropy ``max(x, 0) - x t + log1p(exp(-|x|))`` of logits
    ``x`` against targets ``t``, with its limits where ``x`` is +-inf (the formula gives
    inf - inf there): inf times the target weight of the side that loses (``1 - t`` for
    +inf, ``t`` for -inf), and 0 where that weight is exactly 0 (0 * inf counts as 0, as a
    masked class does in softmax cross-entropy).

    >>> import array_api_compat.numpy as xp
    >>> x, t = xp.asarray([float("inf"), float("inf"), -1.0]), xp.asarray([1.0, 0.5, 0.0])
    >>> sigmoid_ce_at_infinity(xp, x, t, xp.asarray([0.1, 0.2, 0.3])).tolist()
    [0.0, inf, 0.3]
    """
    losing = xp.where(x > 0, 1.0 - t, t)
    none = losing == 0
    limit = xp.where(none, 0.0, xp.abs(x) * xp.where(none, 1.0, losing))   # no 0 * inf
    return xp.where(xp.isinf(x), limit, per)


def softmax(xp, x, axis):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum (no overflow)."""
    if x.size == 0:             # an empty axis has no maximum: the answer is empty too
        return xp.zeros_like(x)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def log_softmax(xp, x, axis):
    """``x - log(sum(exp(x)))`` along ``axis``, shifted by the maximum (no overflow)."""
    if x.size == 0:
        return xp.zeros_like(x)
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
