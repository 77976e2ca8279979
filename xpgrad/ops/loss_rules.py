"""The losses' primitives (``softmax_cross_entropy``, ``sigmoid_cross_entropy_with_logits``,
``mse``, ``sigmoid_mse``, ``l1``, ``huber``) and their generic forward and vjp rules written
against ``xp``, the reference a backend's fused kernel of the same name is checked against, with
the pieces the other losses' rules share (``_reduce``, ``_scale``, ``_onehot``). The public
functions, which check their arguments and apply these, are ``losses.py``'s.

>>> import numpy as np
>>> float(_mse_forward(np, np.array([1.0, 3.0]), np.array([0.0, 1.0]), "mean"))
2.5
"""
from __future__ import annotations

from math import prod

from ..primitive import Primitive
from . import formulas
from ._define import is_floating


# -- shared pieces of the generic rules --------------------------------------------------------
def _reduce(xp, per, reduction):
    if reduction == "mean":
        # no entries: NaN, as PyTorch's mean, without NumPy's "Mean of empty slice" warning
        return xp.mean(per) if _size(per) else xp.sum(per) * float("nan")
    if reduction == "sum":
        return xp.sum(per)
    return per


def _scale(g, reduction, n):
    """The output gradient spread over ``n`` entries: mean divides by ``n``.

    An empty batch has an empty gradient, so any finite factor serves there.
    """
    return g * (1.0 / max(n, 1)) if reduction == "mean" else g


def _is_int(xp, a):
    return not is_floating(xp, a.dtype)


def _onehot(xp, labels, logits):
    """One-hot rows of ``labels`` with ``logits``' dtype, on ``logits``' backend."""
    cols = xp.cumulative_sum(xp.ones_like(logits), axis=1) - 1.0   # 0..C-1 per row, any device
    return xp.astype(xp.astype(labels, logits.dtype)[:, None] == cols, logits.dtype)


def _targets(xp, labels, logits):
    return _onehot(xp, labels, logits) if _is_int(xp, labels) else labels


# -- softmax cross-entropy ---------------------------------------------------------------------
def _sce_forward(xp, logits, labels, reduction):
    log_probs = formulas.log_softmax(xp, logits, 1)
    t = _targets(xp, labels, logits)
    # 0 * log(0) counts as 0, so a masked class (logit -inf) with no target weight costs nothing;
    # a row without a softmax (no finite logit, a NaN) has NaN log-probabilities: NaN, as PyTorch
    per = -xp.sum(t * xp.where((t == 0) & (log_probs == -float("inf")), 0.0, log_probs), axis=1)
    return _reduce(xp, per, reduction)


def _sce_dlogits(xp, g, ans, logits, labels, reduction):
    t = _targets(xp, labels, logits)
    probs = formulas.softmax(xp, logits, 1)
    # d/dx of -sum(t * log_softmax(x)) is softmax(x) * sum(t) - t (sum(t) = 1 for a distribution)
    d = probs * xp.sum(t, axis=1, keepdims=True) - t
    if reduction == "none":
        return g[:, None] * d
    return _scale(g, reduction, logits.shape[0]) * d


def _sce_dlabels(xp, g, ans, logits, labels, reduction):
    if _is_int(xp, labels):
        return None
    log_probs = formulas.log_softmax(xp, logits, 1)
    if reduction == "none":
        return -g[:, None] * log_probs
    return -_scale(g, reduction, logits.shape[0]) * log_probs


_softmax_ce = Primitive("softmax_cross_entropy", _sce_forward, _sce_dlogits, _sce_dlabels)


# -- sigmoid cross-entropy with logits ---------------------------------------------------------
def _bce_forward(xp, x, t, reduction):
    return _reduce(xp, formulas.sigmoid_ce(xp, x, t), reduction)


_sigmoid_ce = Primitive(
    "sigmoid_cross_entropy_with_logits", _bce_forward,
    lambda xp, g, ans, x, t, reduction: _scale(g, reduction, _size(x)) * (formulas.sigmoid(xp, x) - t),
    lambda xp, g, ans, x, t, reduction: -_scale(g, reduction, _size(x)) * x)


# -- squared errors ----------------------------------------------------------------------------
def _size(x):
    return prod(x.shape)


def _mse_forward(xp, p, t, reduction):
    d = p - t
    return _reduce(xp, d * d, reduction)


def _mse_dpred(xp, g, ans, p, t, reduction):
    return (2.0 * _scale(g, reduction, _size(p))) * (p - t)


_mse = Primitive("mse", _mse_forward, _mse_dpred,
                 lambda xp, g, ans, p, t, reduction: -_mse_dpred(xp, g, ans, p, t, reduction))


def _smse_forward(xp, x, t, reduction):
    d = formulas.sigmoid(xp, x) - t
    return _reduce(xp, d * d, reduction)


def _smse_dlogits(xp, g, ans, x, t, reduction):
    s = formulas.sigmoid(xp, x)
    return (2.0 * _scale(g, reduction, _size(x))) * (s - t) * s * (1.0 - s)


def _smse_dtarget(xp, g, ans, x, t, reduction):
    return (-2.0 * _scale(g, reduction, _size(x))) * (formulas.sigmoid(xp, x) - t)


_sigmoid_mse = Primitive("sigmoid_mse", _smse_forward, _smse_dlogits, _smse_dtarget)


# -- absolute and Huber errors -------------------------------------------------------------------
def _l1_forward(xp, p, t, reduction):
    return _reduce(xp, xp.abs(p - t), reduction)


def _l1_dpred(xp, g, ans, p, t, reduction):
    return _scale(g, reduction, _size(p)) * xp.sign(p - t)


_l1 = Primitive("l1", _l1_forward, _l1_dpred,
                lambda xp, g, ans, p, t, reduction: -_l1_dpred(xp, g, ans, p, t, reduction))


# scale * (0.5 d**2 where |d| < delta, else delta (|d| - delta / 2)), d = pred - target; with
# scale = 1 / delta it is smooth_l1 with beta = delta. The square reads d clipped to [-delta,
# delta], so the unused branch cannot overflow.
def _huber_forward(xp, p, t, reduction, delta, scale):
    d = p - t
    dc = xp.clip(d, -delta, delta)
    ad = xp.abs(d)
    per = xp.where(ad < delta, (0.5 * scale) * dc * dc, (scale * delta) * (ad - 0.5 * delta))
    return _reduce(xp, per, reduction)


def _huber_dpred(xp, g, ans, p, t, reduction, delta, scale):
    return (scale * _scale(g, reduction, _size(p))) * xp.clip(p - t, -delta, delta)


_huber = Primitive(
    "huber", _huber_forward, _huber_dpred,
    lambda xp, g, ans, p, t, reduction, delta, scale:
        -_huber_dpred(xp, g, ans, p, t, reduction, delta, scale))
