"""PyTorch's distance functions: ``normalize``, ``cosine_similarity`` and ``pairwise_distance``
(``torch.nn.functional``'s), composed of ``linalg.vector_norm``, ``where`` and arithmetic, so
every gradient is theirs. Where a norm is 0 the gradients are PyTorch's, finite: ``normalize``
divides by ``max(norm, eps)`` (``clamp_min``: no gradient through a clamped norm),
``cosine_similarity`` clamps each norm at ``eps`` for the value only (PyTorch clamps in place
under ``no_grad``) and ``vector_norm``'s gradient at a zero vector is 0.

>>> import xpgrad as xg
>>> a = xg.asarray([[3.0, 4.0], [0.0, 0.0]], dtype=xg.float64)
>>> xg.nn.normalize(a).tolist()
[[0.6, 0.8], [0.0, 0.0]]
>>> xg.nn.cosine_similarity(a, xg.asarray([[4.0, 3.0], [1.0, 0.0]], dtype=xg.float64)).tolist()
[0.96, 0.0]
"""
from __future__ import annotations

import math

from .._args import flag, refuse_keywords
from ..ops._define import as_tensor, norm_axis
from ..ops.linalg_norms import vector_norm
from ..ops.nn import _eps
from ..ops.reductions import sum
from ..ops.selection import where
from ..ops.shape import broadcast_shapes, broadcast_to
from ..optim._checks import real_number
from ..tape import stop_gradient


def _floating(x, name, owner):
    x = as_tensor(x, owner, name)
    if not x.dtype.is_floating:
        raise TypeError(f"{owner}: {name} must be a real floating-point tensor, got dtype "
                        f"{x.dtype}")
    return x


def _pair(x1, x2, owner):
    """``x1`` and ``x2`` as floating tensors of one dtype, broadcast to their common shape."""
    x1, x2 = _floating(x1, "x1", owner), _floating(x2, "x2", owner)
    if x1.dtype != x2.dtype:
        raise TypeError(f"{owner}: x2 has dtype {x2.dtype} but x1 has dtype {x1.dtype}; cast "
                        f"one with xg.astype so they match")
    try:
        shape = broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"{owner}: x1 of shape {x1.shape} and x2 of shape {x2.shape} do not "
                         f"broadcast together") from None
    if x1.shape != shape:
        x1 = broadcast_to(x1, shape)
    if x2.shape != shape:
        x2 = broadcast_to(x2, shape)
    return x1, x2


def _order(p, owner):
    p = real_number(f"{owner}: p", p)
    if math.isnan(p):
        raise ValueError(f"{owner}: p must be a real number (or inf, -inf), got nan")
    return int(p) if p.is_integer() else p


def clamped_below(n, eps):
    """``max(n, eps)`` in value, ``n``'s gradient (PyTorch's ``clamp_min_`` under
    ``no_grad``): ``n - n`` is exactly 0 for a finite ``n``, so the value is exact."""
    return (n - stop_gradient(n)) + stop_gradient(where(n < eps, eps, n))


def normalize(x, /, p=2.0, axis=1, eps=1e-12, **unexpected):
    """``x / max(||x||_p, eps)`` along ``axis``, as PyTorch's ``F.normalize`` (``dim`` is
    ``axis`` here; its default is 1, PyTorch's, the feature axis of a batch). A zero vector
    stays 0 and its gradient is ``1 / eps`` times the output gradient, as PyTorch's.

    >>> import xpgrad as xg
    >>> xg.nn.normalize(xg.asarray([[1.0, -3.0]]), p=1).tolist()
    [[0.25, -0.75]]
    """
    if unexpected:
        refuse_keywords("normalize", unexpected)
    owner = "normalize"
    x = _floating(x, "x", owner)
    p = _order(p, owner)
    eps = _eps(eps, owner)
    axis = norm_axis(axis, x.ndim)
    n = vector_norm(x, axis=axis, keepdims=True, ord=p)
    return x / where(n >= eps, n, eps)             # clamp_min: the gradient passes at n = eps


def cosine_similarity(x1, x2, /, axis=1, eps=1e-8, **unexpected):
    """``sum(x1 * x2) / (max(||x1||, eps) max(||x2||, eps))`` along ``axis`` of the broadcast
    inputs, as PyTorch's ``F.cosine_similarity`` (``dim`` is ``axis`` here): each input is
    divided by its own clamped norm before the product (in [-1, 1]). Gradients are
    PyTorch's: the clamp is on the value only, and a zero vector's gradient is finite.

    >>> import xpgrad as xg
    >>> round(xg.nn.cosine_similarity(xg.asarray([1.0, 0.0]), xg.asarray([1.0, 1.0]),
    ...                               axis=0).item(), 4)
    0.7071
    """
    if unexpected:
        refuse_keywords("cosine_similarity", unexpected)
    owner = "cosine_similarity"
    x1, x2 = _pair(x1, x2, owner)
    eps = _eps(eps, owner)
    axis = norm_axis(axis, x1.ndim)
    n1 = clamped_below(vector_norm(x1, axis=axis, keepdims=True), eps)
    n2 = clamped_below(vector_norm(x2, axis=axis, keepdims=True), eps)
    return sum((x1 / n1) * (x2 / n2), axis=axis)


def pairwise_distance(x1, x2, /, p=2.0, eps=1e-6, keepdims=False, **unexpected):
    """``||x1 - x2 + eps||_p`` along the last axis of the broadcast inputs, as PyTorch's
    ``F.pairwise_distance`` (``keepdim`` is ``keepdims`` here). The ``eps`` keeps equal
    vectors off the norm's kink; at an exact zero the gradient is 0, as PyTorch's.

    >>> import xpgrad as xg
    >>> d = xg.nn.pairwise_distance(xg.asarray([[0.0, 0.0]]), xg.asarray([[3.0, 4.0]]), eps=0.0)
    >>> d.tolist()
    [5.0]
    """
    if unexpected:
        refuse_keywords("pairwise_distance", unexpected)
    owner = "pairwise_distance"
    x1, x2 = _pair(x1, x2, owner)
    p = _order(p, owner)
    eps = real_number(f"{owner}: eps", eps)
    keepdims = flag(keepdims, "keepdims", owner)
    if x1.ndim < 1:
        raise ValueError(f"{owner}: x1 and x2 need at least one axis (the vectors'), got "
                         f"0-d inputs")
    return vector_norm(x1 - x2 + eps, axis=-1, keepdims=keepdims, ord=p)


__all__ = ["normalize", "cosine_similarity", "pairwise_distance"]
