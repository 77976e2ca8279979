"""Scaled dot-product attention, PyTorch's ``torch.nn.functional.scaled_dot_product_attention``,
composed of differentiable operations (matmul, where, softmax), so its gradients are exact.

A boolean ``attn_mask`` is True where a query may attend; a float one is added to the scores.
A query row that may attend to no key (every entry masked out) gives zeros, in the output and
in the weights, and no gradient, as ``torch.nn.functional.scaled_dot_product_attention`` in
PyTorch 2.x (``torch.nn.MultiheadAttention`` with ``need_weights=True`` gives NaN there).

>>> import xpgrad as xg
>>> q = xg.ones((2, 3, 4))
>>> kv = xg.ones((2, 5, 4))
>>> xg.nn.scaled_dot_product_attention(q, kv, kv, is_causal=True).shape
(2, 3, 4)
"""
from __future__ import annotations

import math

import numpy as np

from .._args import flag
from ..creation import arange, asarray
from ..dtypes import isdtype
from ..ops.activations import softmax
from ..ops.casting import astype
from ..ops.linalg import matmul, matrix_transpose
from ..ops.rearranging import repeat
from ..ops.reductions import any as reduce_any
from ..ops.selection import where
from ..tensor import Tensor
from . import _checks
from . import init as _init

_WHO = "scaled_dot_product_attention"


def as_tensor(x, name, who, **kwargs):
    """``x`` if a Tensor, else ``asarray(x, **kwargs)``; TypeError naming ``name`` for None
    and for what is not an array of numbers or bools (asarray's own message after it)."""
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise TypeError(f"{who}: {name} must be an array, got None")
    try:
        return asarray(x, **kwargs)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{who}: {name} must be an array of numbers, got "
                        f"{type(x).__name__} ({e})") from None


def _tensor(x, name, like=None, who=_WHO):
    """``x`` as a floating Tensor of at least 2 axes (on ``like``'s backend for arrays), with
    ``like``'s dtype; TypeError/ValueError naming ``name`` otherwise."""
    x = as_tensor(x, name, who, backend=None if like is None else like.backend)
    if not isdtype(x.dtype, "real floating"):
        raise TypeError(f"{who}: {name} must hold real floating-point numbers, got {x.dtype}")
    if like is not None and x.dtype != like.dtype:
        raise TypeError(f"{who}: {name} is {x.dtype} but query is {like.dtype}; cast it with "
                        "xg.astype (no silent promotion)")
    if x.ndim < 2:
        raise ValueError(f"{who}: {name} must have shape (..., sequence, features), got shape "
                         f"{x.shape}")
    return x


def _check_shapes(q, k, v, who=_WHO):
    """The batch shape the three broadcast to; ValueError naming the argument that does not
    fit."""
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"{who}: key's last axis must equal query's (E = {q.shape[-1]}), got "
                         f"key shape {k.shape} and query shape {q.shape}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"{who}: value must have as many positions as key (S = "
                         f"{k.shape[-2]}, axis -2), got value shape {v.shape} and key shape "
                         f"{k.shape}")
    try:
        return np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{who}: the batch axes of query {q.shape[:-2]}, key {k.shape[:-2]} "
                         f"and value {v.shape[:-2]} do not broadcast together") from None


def check_mask(mask, name, q, target=None, who=_WHO, meaning="True: attend"):
    """``mask`` as a bool or float (query's dtype) Tensor on query's backend, broadcasting to
    ``target`` (the scores' shape; None: not checked); TypeError/ValueError naming ``name``
    otherwise (``meaning``: what True means, for the message). A float mask that is not a
    Tensor (a NumPy array, a list) is cast to query's dtype, as a float Tensor of a narrower
    dtype (float32 for float64 query, as PyTorch's ``scaled_dot_product_attention`` takes);
    a wider float Tensor is refused (PyTorch refuses it too)."""
    given = mask
    mask = as_tensor(mask, name, who, backend=q.backend)
    if (mask.dtype != q.dtype and isdtype(mask.dtype, "real floating")
            and (not isinstance(given, Tensor) or mask.dtype.itemsize < q.dtype.itemsize)):
        mask = astype(mask, q.dtype)        # an array or list, or a Tensor widened losslessly
    if mask.dtype != q.dtype and not isdtype(mask.dtype, "bool"):
        raise TypeError(f"{who}: {name} must be bool ({meaning}) or floating (added to the "
                        f"scores): a Tensor of {q.dtype} as query or narrower, got "
                        f"{mask.dtype}")
    if target is None:
        return mask
    try:
        ok = np.broadcast_shapes(mask.shape, target) == tuple(target)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{who}: {name} of shape {mask.shape} does not broadcast to the "
                         f"attention scores' shape {tuple(target)} (..., L, S)")
    return mask


def causal_mask(L, S, backend):
    """Bool (L, S), True on and below the diagonal (top-left aligned, as PyTorch's
    ``is_causal``): query ``i`` attends to keys ``0..i``.

    >>> causal_mask(2, 3, "numpy").tolist()
    [[True, False, False], [True, True, False]]
    """
    return arange(L, backend=backend)[:, None] >= arange(S, backend=backend)[None, :]


def blocked(allowed, dtype):
    """0 where ``allowed`` (bool), -inf elsewhere, as ``dtype``: added to the scores, it masks
    them as ``where`` would, and its backward pass hands the gradient through untouched."""
    return astype(where(allowed, 0.0, -math.inf), dtype)


def attend(q, k, v, mask=None, dropout_p=0.0, scale=None, rng=None, *, causal=False,
           need_weights=True):
    """``(softmax(q @ k^T * scale + mask) @ v, the weights or None)`` for checked Tensors:
    ``mask`` None, bool (True: attend) or float (added), or ``causal``; rows with nothing to
    attend to give zeros and no gradient; the weights dropped out with probability
    ``dropout_p`` (``rng``, a Generator, draws the mask) and the kept ones scaled by
    ``1 / (1 - dropout_p)``."""
    scale = 1.0 / math.sqrt(max(q.shape[-1], 1)) if scale is None else scale
    # scale an operand, the smaller of query and key, never the product: q @ k^T may overflow
    # where the scaled scores do not (float32 logits near 3e38, as PyTorch's scaled q and k)
    if q.shape[-2] <= k.shape[-2]:
        scores = matmul(q * scale, matrix_transpose(k))
    else:
        scores = matmul(q, matrix_transpose(k * scale))
    live = None         # (..., L, 1): whether each query has a key to attend to
    if causal:          # every query attends to key 0 at least
        scores = scores + blocked(causal_mask(q.shape[-2], k.shape[-2], q.backend), q.dtype)
    elif mask is not None and isdtype(mask.dtype, "bool"):
        # the rows with no key run unmasked (finite, so no NaN in the gradient), and are
        # zeroed after; this costs passes over the mask, not over the scores
        live = reduce_any(mask, axis=-1, keepdims=True)
        scores = scores + blocked(mask | ~live, q.dtype)
    elif mask is not None:
        scores = scores + mask
        live = reduce_any(scores > -math.inf, axis=-1, keepdims=True)
        scores = where(live, scores, 0.0)
    weights = softmax(scores, axis=-1)
    if dropout_p == 1.0:        # every weight dropped: zeros, as torch's dropout(p=1)
        weights = weights * 0.0
    elif dropout_p:
        keep = rng.uniform(size=weights.shape, dtype=weights.dtype) >= dropout_p
        keep = keep.to(weights.backend)
        weights = weights * (astype(keep, weights.dtype) * (1.0 / (1.0 - dropout_p)))
    out = matmul(weights, v)
    if live is not None:
        live = astype(live, q.dtype)
        out = out * live
        weights = weights * live if need_weights else None
    return out, (weights if need_weights else None)


def _grouped(q, k, v):
    """``k`` and ``v`` with each of their heads (axis -3) repeated to query's head count, as
    PyTorch's ``enable_gqa=True`` (``repeat_interleave``); ValueError when it does not divide."""
    if q.ndim < 3 or k.ndim < 3 or v.ndim < 3:
        raise ValueError(f"{_WHO}: enable_gqa=True reads heads on axis -3: query, key and value "
                         f"need 3 axes or more, got shapes {q.shape}, {k.shape} and {v.shape}")
    Hq, Hk, Hv = q.shape[-3], k.shape[-3], v.shape[-3]
    if Hk != Hv or Hq % Hk:
        raise ValueError(f"{_WHO}: enable_gqa=True needs key and value with one head count "
                         f"that divides query's ({Hq}), got {Hk} and {Hv} (axis -3)")
    if Hq == Hk:
        return k, v
    return repeat(k, Hq // Hk, axis=-3), repeat(v, Hq // Hk, axis=-3)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, *, rng=None):
    """``softmax(query @ key^T * scale + mask) @ value``, as PyTorch's
    ``torch.nn.functional.scaled_dot_product_attention``.

    ``query`` is (..., L, E), ``key`` (..., S, E), ``value`` (..., S, Ev), of one floating
    dtype, their batch axes broadcasting together; the result is (..., L, Ev). ``attn_mask``
    broadcasts to (..., L, S): bool, True where a query may attend to a key, or floating,
    added to the scores (``-inf`` to mask; a Tensor of the query's dtype or narrower, cast up as
    PyTorch does, or a NumPy array or list, cast to it). ``is_causal=True`` lets query ``i`` attend
    to keys ``0..i`` (top-left aligned, as PyTorch's; not together with ``attn_mask``).
    ``scale`` defaults to ``1 / sqrt(E)``. ``dropout_p`` drops attention weights (always, as
    PyTorch's function: pass 0.0 in evaluation) with a mask drawn from ``rng`` (an
    ``xg.random.Generator``, an int seed, or None for fresh entropy); ``dropout_p=1.0`` drops
    every weight (zeros, zero gradients, as PyTorch's). A query that may attend
    to no key gives zeros and no gradient (as PyTorch 2.x's function). ``enable_gqa=True``
    is grouped-query attention: key and value have fewer heads (axis -3) than query, a divisor
    of its count, each repeated for its group of query heads.

    >>> import xpgrad as xg
    >>> q = xg.asarray([[1.0, 0.0]])
    >>> k = xg.asarray([[1.0, 0.0], [0.0, 1.0]])
    >>> v = xg.asarray([[1.0], [3.0]])
    >>> out = xg.nn.scaled_dot_product_attention(q, k, v, attn_mask=xg.asarray([[True, False]]))
    >>> out.tolist()
    [[1.0]]
    """
    q = _tensor(query, "query")
    k, v = _tensor(key, "key", q), _tensor(value, "value", q)
    if flag(enable_gqa, "enable_gqa", _WHO):
        k, v = _grouped(q, k, v)
    batch = _check_shapes(q, k, v)
    target = (*batch, q.shape[-2], k.shape[-2])
    is_causal = flag(is_causal, "is_causal", _WHO)
    if is_causal and attn_mask is not None:
        raise ValueError(f"{_WHO}: pass attn_mask or is_causal=True, not both (PyTorch refuses "
                         "both too); combine the causal mask into attn_mask")
    dropout_p = _checks.probability("dropout_p", dropout_p, _WHO, high_open=False)
    if scale is not None:
        scale = _checks.finite("scale", scale, _WHO)
    rng = _init.check_rng(rng, _WHO)
    mask = None if attn_mask is None else check_mask(attn_mask, "attn_mask", q, target)
    if 0.0 < dropout_p < 1.0:
        rng = _init.as_rng(rng, q.backend)
    return attend(q, k, v, mask, dropout_p, scale, rng, causal=is_causal,
                  need_weights=False)[0]


__all__ = ["scaled_dot_product_attention"]
