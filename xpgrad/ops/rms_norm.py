"""``rms_norm``: ``x / sqrt(mean(x ** 2) + eps) * weight`` over the last axes, one primitive with
one joint rule (``torch.nn.functional.rms_norm``), exposed through ``xg.nn``.

The composition (square, mean, add, rsqrt, multiply, multiply) is six tape nodes, each a full
pass with a residual; here the rule recomputes ``rstd`` from ``x`` (one reduction) and shares
``xhat = x * rstd`` between the two gradients. Per row of the last ``k`` axes (``n`` entries),
with ``gy = g * weight``: ``dx = rstd * (gy - xhat * mean(gy * xhat))``, ``dweight = sum over
the rows of g * xhat``.

>>> import xpgrad as xg
>>> [round(v, 4) for v in xg.nn.rms_norm(xg.asarray([[3.0, 4.0]]), 2, eps=0.0).tolist()[0]]
[0.8485, 1.1314]
"""
from __future__ import annotations

from ..dtype_functions import finfo
from ..primitive import Primitive, apply
from ..tensor import Tensor
from ._define import as_tensor
from .moments import mean_kept
from .nn import _array_like, _eps, _normalized_shape, check_normalized_input


def _rms(xp, x, k, eps):
    """``(xhat, rstd)``: x divided by its root mean square over the last ``k`` axes, and
    1 / sqrt(mean(x ** 2) + eps)."""
    axes = tuple(range(x.ndim - k, x.ndim))
    rstd = 1.0 / xp.sqrt(mean_kept(xp, x * x, axes) + eps)
    return x * rstd, rstd


def _rms_norm_forward(xp, x, *weight, k, eps):
    y, _ = _rms(xp, x, k, eps)
    return y * weight[0] if weight else y


def _rms_norm_vjp(xp, g, ans, needs, x, *weight, k, eps):
    xhat, rstd = _rms(xp, x, k, eps)
    dx = None
    if needs[0]:
        axes = tuple(range(x.ndim - k, x.ndim))
        gy = g * weight[0] if weight else g
        dx = rstd * (gy - xhat * mean_kept(xp, gy * xhat, axes))
    if not weight:
        return (dx,)
    lead = tuple(range(x.ndim - k))
    dw = None
    if needs[1]:
        dw = g * xhat
        dw = xp.sum(dw, axis=lead) if lead else dw
    return dx, dw


_rms_norm = Primitive("rms_norm", _rms_norm_forward, joint=_rms_norm_vjp, saves=(0, 1))


def machine_eps(eps, x, owner):
    """``eps`` checked (a finite number >= 0, naming ``owner``), or for None the machine
    epsilon of the tensor ``x``'s dtype (PyTorch's default: ``torch.finfo(x.dtype).eps``),
    asked of ``x``'s backend."""
    if eps is None:
        return float(finfo(x).eps)
    return _eps(eps, owner)


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """Divide ``x`` by its root mean square over its last axes, those of ``normalized_shape``
    (an int or a tuple), then scale by ``weight`` (optional, of shape ``normalized_shape``):
    ``x / sqrt(mean(x ** 2) + eps) * weight``, ``torch.nn.functional.rms_norm``. ``eps=None``
    is the input dtype's machine epsilon (``xg.finfo(x.dtype).eps``), as PyTorch's.

    >>> import xpgrad as xg
    >>> y = xg.nn.rms_norm(xg.asarray([[1.0, -1.0, 1.0]]), 3, weight=[1.0, 2.0, 3.0])
    >>> [round(v, 4) for v in y.tolist()[0]]
    [1.0, -2.0, 3.0]
    """
    shape = _normalized_shape(normalized_shape, "rms_norm")
    x = as_tensor(x, "rms_norm")
    check_normalized_input(x, shape, "rms_norm")
    eps = machine_eps(eps, x, "rms_norm")
    arrays = [x]
    if weight is not None:
        if not isinstance(weight, Tensor):
            weight = _array_like(weight, x, "weight", "rms_norm")
        if weight.shape != shape:
            raise ValueError(f"rms_norm: weight must have shape normalized_shape = {shape}, "
                             f"got {weight.shape}")
        if weight.dtype != x.dtype:
            raise TypeError(f"rms_norm: weight is {weight.dtype} but the input is {x.dtype}; "
                            "cast one with xg.astype")
        arrays.append(weight)
    return apply(_rms_norm, *arrays, k=len(shape), eps=eps)


__all__: list = []   # exposed through xg.nn
