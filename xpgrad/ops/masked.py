"""JAX's ``where=`` masks on ``softmax``, ``log_softmax`` and ``logsumexp``: the entries where
the mask is false take no part. ``softmax`` is 0 there and ``log_softmax`` -inf (an all-masked
slice: all 0, all -inf, as JAX's), and those entries get no gradient.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 5.0, 1.0])
>>> xg.softmax(x, where=xg.asarray([True, False, True])).tolist()
[0.5, 0.0, 0.5]
"""
from __future__ import annotations

import math

from ..tensor import Tensor


def _ns():
    from .. import tensor_methods

    return tensor_methods._ns


def mask_for(x, where, who):
    """``where`` as a boolean Tensor of ``x``'s shape; errors name the argument."""
    xg = _ns()
    mask = where if isinstance(where, Tensor) else xg.asarray(where, backend=x.backend)
    if mask.dtype != xg.bool:
        raise TypeError(f"{who}: where must be a boolean mask, got dtype {mask.dtype}")
    try:
        return xg.broadcast_to(mask, x.shape)
    except ValueError:
        raise ValueError(f"{who}: where of shape {mask.shape} does not broadcast to x's shape "
                         f"{x.shape}") from None


def masked_softmax(primitive_softmax, x, axis, where, log):
    """``softmax`` (``log``: ``log_softmax``) of ``x`` along ``axis`` over the entries where
    ``where`` is true; ``primitive_softmax(x, axis)`` computes the unmasked one."""
    xg = _ns()
    name = "log_softmax" if log else "softmax"
    mask = mask_for(x, where, name)
    kept = xg.any(mask, axis=axis, keepdims=True)
    # masked entries are -inf (weight 0); an all-masked slice reads 0s instead, so it stays
    # finite, and is masked out below
    inputs = xg.where(mask, x, xg.where(kept, -math.inf, 0.0))
    out = primitive_softmax(inputs, axis)
    return xg.where(mask, out, -math.inf if log else 0.0)


def masked_logsumexp(x, where, axis, keepdims, return_sign, **keywords):
    """``logsumexp`` over the entries where ``where`` is true: an all-masked slice gives -inf
    (sign 0) and no gradient."""
    from .special_more import logsumexp

    xg = _ns()
    x = x if isinstance(x, Tensor) else xg.asarray(x)
    mask = mask_for(x, where, "logsumexp")
    kept = xg.any(mask, axis=axis, keepdims=True)
    inputs = xg.where(mask, x, xg.where(kept, -math.inf, 0.0))    # as masked_softmax's
    out = logsumexp(inputs, axis=axis, keepdims=keepdims, return_sign=return_sign, **keywords)
    kept = xg.any(mask, axis=axis, keepdims=keepdims)
    if return_sign:
        return xg.where(kept, out[0], -math.inf), xg.where(kept, out[1], 0.0)
    return xg.where(kept, out, -math.inf)
