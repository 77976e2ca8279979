"""``group_norm``: each sample's channels normalized in groups, ``(x - mean) / sqrt(var + eps) *
weight + bias`` (``torch.nn.functional.group_norm``), one primitive with one joint rule, exposed
as ``xg.nn.group_norm``; ``xg.nn.InstanceNorm1d/2d/3d`` are it with one channel a group.

The composition (mean, subtract, square, mean, rsqrt, multiply and the affine pair) is some
ten tape nodes, each a full pass with a residual; here the rule recomputes ``xhat`` from ``x``
and shares it between the three gradients. Per group of ``m`` entries (``x`` (N, C, *) seen as
(N, G, C/G * prod(*))), with ``gy = g * weight`` per channel: ``dx = rstd * (gy - mean(gy) -
xhat * mean(gy * xhat))``; ``dweight = sum(g * xhat)``, ``dbias = sum(g)`` over every axis
but 1. Below float64 the first mean's rounding is corrected by the mean of the centred values
(as ``xpgrad.ops.batch_norm._moments``), so a float32 group whose mean is thousands of standard
deviations normalizes as accurately as PyTorch's. Backends' kernels (``backends/numba/
_group_norm.py``, ``backends/numpy/normalization.py``) replace forward and rule; higher orders
use the rule.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 3.0], [5.0, 9.0]]])               # (N, C, L)
>>> [[round(v, 3) for v in row] for row in xg.nn.group_norm(x, 2).tolist()[0]]
[[-1.0, 1.0], [-1.0, 1.0]]
"""
from __future__ import annotations

import math
import numbers

from ..primitive import Primitive, apply
from ..tensor import Tensor
from .moments import mean_kept, normalized
from .nn import _eps, _split_affine


def _channels(xp, x, a):
    """``a`` (C,) shaped to broadcast against ``x``'s channel axis (1)."""
    return xp.reshape(a, (a.shape[0],) + (1,) * (x.ndim - 2))


def _normalize(xp, x, groups, eps):
    """``(xhat, rstd)``: ``x`` (N, C, *) normalized per group, shaped (N, G, m), and 1 /
    sqrt(var + eps) per group, (N, G, 1)."""
    m = math.prod(x.shape[1:]) // groups               # not -1: N may be 0
    # below float64 the first mean's rounding is corrected; rescaled where the sum of squares
    # overflows (``moments.normalized``)
    return normalized(xp, xp.reshape(x, (x.shape[0], groups, m)), (2,), eps, correct_mean=True)


def _forward(xp, x, *affine_arrays, groups, eps, affine):
    xhat, _ = _normalize(xp, x, groups, eps)
    y = xp.reshape(xhat, x.shape)
    weight, bias = _split_affine(affine_arrays, affine)
    if weight is not None:
        y = y * _channels(xp, x, weight)
    return y if bias is None else y + _channels(xp, x, bias)


def _vjp(xp, g, ans, needs, x, *affine_arrays, groups, eps, affine):
    weight, _ = _split_affine(affine_arrays, affine)
    xhat, rstd = _normalize(xp, x, groups, eps)
    axes = (0,) + tuple(range(2, x.ndim))
    dx = None
    if needs[0]:
        gy = g if weight is None else g * _channels(xp, x, weight)
        gy = xp.reshape(xp.broadcast_to(gy, x.shape), xhat.shape)
        dx = rstd * (gy - mean_kept(xp, gy, (-1,)) - xhat * mean_kept(xp, gy * xhat, (-1,)))
        dx = xp.reshape(dx, x.shape)
    out = [dx]
    if affine[0]:
        out.append(xp.sum(g * xp.reshape(xhat, x.shape), axis=axes) if needs[1] else None)
    if affine[1]:
        out.append(xp.sum(xp.broadcast_to(g, x.shape), axis=axes) if needs[len(out)] else None)
    return tuple(out)


#: the rule reads x and the weight (position 1 when there is one; a bias there is small)
_group_norm = Primitive("group_norm", _forward, joint=_vjp, saves=(0, 1))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """PyTorch's ``F.group_norm``: ``input`` (N, C, *) with its C channels split into
    ``num_groups`` groups of consecutive channels, each group of each sample normalized by
    its mean and biased variance, ``(x - mean) / sqrt(var + eps)``, then scaled by ``weight``
    (C,) and shifted by ``bias`` (C,) per channel when given. ``num_groups`` must divide C.

    >>> import xpgrad as xg
    >>> xg.nn.group_norm(xg.ones((2, 6, 4, 4)), 3, weight=xg.ones(6)).shape
    (2, 6, 4, 4)
    """
    owner = "group_norm"
    x = as_input(input, owner, weight)
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or \
            num_groups < 1:
        raise ValueError(f"{owner}: num_groups must be a positive int, got {num_groups!r}")
    c = x.shape[1]
    if c % num_groups:
        raise ValueError(f"{owner}: num_groups={num_groups} does not divide the input's "
                         f"{c} channels (shape {x.shape})")
    eps = _eps(eps, owner)
    arrays = [x]
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None:
            arrays.append(channel_vector(v, name, x, owner))
    return apply(_group_norm, *arrays, groups=int(num_groups), eps=eps,
                 affine=(weight is not None, bias is not None))


def as_input(x, owner, like=None):
    """``x`` as a floating (N, C, ...) Tensor (a non-Tensor takes ``like``'s dtype and backend
    when ``like`` is a Tensor); ValueError/TypeError naming ``owner``."""
    from ..conversion import named_asarray

    if not isinstance(x, Tensor):
        x = named_asarray(x, f"{owner}: input") if like is None or not isinstance(like, Tensor) \
            else named_asarray(x, f"{owner}: input", dtype=like.dtype, backend=like.backend)
    if x.ndim < 2:
        raise ValueError(f"{owner}: input must be (N, C, ...), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{owner}: input must hold real floating-point numbers, got "
                        f"{x.dtype}")
    return x


def channel_vector(v, name, x, owner):
    """``v`` (``weight`` or ``bias``) as a (C,) Tensor of ``x``'s dtype (numbers converted, a
    Tensor of another dtype or shape refused, naming ``owner`` and ``name``)."""
    from ..creation import asarray

    if not isinstance(v, Tensor):
        v = asarray(v, dtype=x.dtype, backend=x.backend)
    if v.shape != (x.shape[1],):
        raise ValueError(f"{owner}: {name} must have shape (C,) = ({x.shape[1]},), got "
                         f"{v.shape}")
    if v.dtype != x.dtype:
        raise TypeError(f"{owner}: {name} is {v.dtype} but the input is {x.dtype}; cast "
                        "with xg.astype")
    return v


__all__: list = []   # exposed through xg.nn
