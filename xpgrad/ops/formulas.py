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


def softmax(xp, x, axis):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum (no overflow). An
    empty axis gives an empty result, as PyTorch's (it has no maximum to shift by)."""
    if x.shape[axis] == 0:
        return x + 0.0
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def log_softmax(xp, x, axis):
    """``x - log(sum(exp(x)))`` along ``axis``, shifted by the maximum (no overflow); an empty
    axis gives an empty result."""
    if x.shape[axis] == 0:
        return x + 0.0
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
