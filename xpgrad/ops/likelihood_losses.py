"""Negative log-likelihoods of PyTorch: ``gaussian_nll`` (``F.gaussian_nll_loss``) and
``poisson_nll`` (``F.poisson_nll_loss``), composed of primitives (log, exp, where, ...), so
their gradients are those of the parts; ``xpgrad.losses`` re-exports them.

>>> import xpgrad as xg
>>> x = xg.asarray([0.0, 1.0])
>>> xg.losses.gaussian_nll(x, x, xg.asarray([1.0, 1.0])).item()
0.0
>>> round(xg.losses.poisson_nll(xg.asarray([0.0]), xg.asarray([2.0])).item(), 4)
1.0
"""
from __future__ import annotations

import math
import numbers

from .._args import flag
from ..creation import full as _full
from ..optim._checks import hyperparameter, real_number
from .elementwise import exp, log
from .loss_checks import (_check_reduction, _float_input, as_tensor_or_refuse, dtype_mismatch,
                          float_like, shape_mismatch)
from .reductions import mean, sum
from .selection import where
from .shape import broadcast_shapes, expand_dims


def reduce_loss(per, reduction):
    """``per`` averaged, summed or as it is; the mean of no entries is NaN (PyTorch's)."""
    if reduction == "none":
        return per
    if reduction == "sum" or per.size == 0:
        return sum(per) * (float("nan") if reduction == "mean" else 1.0)
    return mean(per)


def values_like(t, x, what, xname, owner, shape=None):
    """``t`` (floating of ``x``'s dtype, or integer values cast to it) as a tensor of ``x``'s
    shape (or ``shape``); a number or array-like is read in ``x``'s dtype."""
    from .casting import astype

    t = as_tensor_or_refuse(t, f"{owner}: {what} must be a tensor of numbers like {xname}",
                            dtype=x.dtype, backend=x.backend)
    if t.dtype.kind in "iu":
        t = astype(t, x.dtype)
    elif not t.dtype.is_floating:
        raise TypeError(f"{owner}: {what} must be real numbers like {xname} ({x.dtype}), got "
                        f"dtype {t.dtype}")
    elif t.dtype != x.dtype:
        raise dtype_mismatch(t, x, f"{owner}: {what}", xname)
    if shape is not None:
        if t.shape != tuple(shape):
            raise ValueError(f"{owner}: {what} must have shape {tuple(shape)} ({xname}'s "
                             f"shape without its last axis), got {t.shape}")
    elif t.shape != x.shape:
        raise shape_mismatch(t, x, f"{owner}: {what}", xname)
    return t


# -- Gaussian -------------------------------------------------------------------------------------
def _gaussian_target(target, input):
    target = float_like(target, input, "gaussian_nll: target", "input")
    try:
        fits = broadcast_shapes(target.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"gaussian_nll: target has shape {target.shape} but input has shape "
                         f"{input.shape}; it must match (or broadcast to it)")
    return target


def _gaussian_var(var, input):
    """``var`` shaped to broadcast to ``input`` by PyTorch's rules: a number; ``input``'s
    shape; that shape without its last axis (homoscedastic); or one axis of size 1."""
    if isinstance(var, numbers.Real) and not isinstance(var, bool):     # NumPy scalars too
        value = real_number("gaussian_nll: var", var)
        if not value >= 0:
            raise ValueError(f"gaussian_nll: var must be >= 0, got {value!r}")
        return _full(input.shape, value, dtype=input.dtype, backend=input.backend)
    if isinstance(var, (str, bytes)):
        raise TypeError(f"gaussian_nll: var must be a floating-point tensor or a number, got "
                        f"{type(var).__name__} {var!r:.60}")
    var = float_like(var, input, "gaussian_nll: var", "input", "(or a number)")
    if var.shape != input.shape:
        if var.shape == input.shape[:-1] and input.ndim:
            var = expand_dims(var, axis=-1)
        elif not (var.ndim == input.ndim
                  and [v for i, v in zip(input.shape, var.shape) if i != v] == [1]):
            raise ValueError(f"gaussian_nll: var has shape {var.shape} but input has shape "
                             f"{input.shape}; var must have input's shape, input's shape "
                             f"without the last axis, or input's shape with one axis of size 1")
    if var.size:
        lo, _ = var.backend.value_range(var._data, accepted=(0.0, math.inf))
        if lo < 0:
            raise ValueError(f"gaussian_nll: var must be >= 0 (variances), got {lo}")
    return var


def gaussian_nll(input, target, var, *, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log-likelihood, as PyTorch's ``gaussian_nll_loss``:
    ``0.5 (log(v) + (input - target)**2 / v)`` with ``v = max(var, eps)``, plus
    ``0.5 log(2 pi)`` with ``full=True``. ``var`` is a number, a tensor of ``input``'s shape,
    of that shape without the last axis, or with one axis of size 1 (broadcast); negative
    variances raise ValueError. As in PyTorch the clamp at ``eps`` changes the value only:
    ``var``'s gradient is that of the formula at the clamped value.

    >>> import xpgrad as xg
    >>> loss = xg.losses.gaussian_nll(xg.asarray([1.0]), xg.asarray([3.0]), 4.0, full=True)
    >>> round(loss.item(), 4)                   # 0.5 (log 4 + 4 / 4 + log(2 pi))
    2.1121
    """
    from ..nn.distances import clamped_below

    full = flag(full, "full", "gaussian_nll")
    eps = hyperparameter("gaussian_nll: eps", eps, low=0.0)
    _check_reduction(reduction, "gaussian_nll")
    input = _float_input(input, "gaussian_nll: input")
    target = _gaussian_target(target, input)
    var = clamped_below(_gaussian_var(var, input), eps)
    d = input - target
    per = 0.5 * (log(var) + d * d / var)
    if full:
        per = per + 0.5 * math.log(2 * math.pi)
    return reduce_loss(per, reduction)


# -- Poisson --------------------------------------------------------------------------------------
def poisson_nll(input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Poisson negative log-likelihood, as PyTorch's ``poisson_nll_loss``: with
    ``log_input=True`` (``input`` is the log-rate) ``exp(input) - target * input``, else
    ``input - target * log(input + eps)``; ``full=True`` adds Stirling's approximation of
    ``log(target!)``, ``target log(target) - target + 0.5 log(2 pi target)``, where
    ``target > 1``. ``target`` (counts; integers are read in ``input``'s dtype) has
    ``input``'s shape. Its gradient where ``target <= 1`` is 0 with ``full=True`` (PyTorch's
    is NaN at 0).

    >>> import xpgrad as xg
    >>> loss = xg.losses.poisson_nll(xg.asarray([2.0]), xg.asarray([3.0]), log_input=False)
    >>> round(loss.item(), 4)                   # 2 - 3 log(2)
    -0.0794
    """
    owner = "poisson_nll"
    log_input = flag(log_input, "log_input", owner)
    full = flag(full, "full", owner)
    eps = hyperparameter(f"{owner}: eps", eps)
    _check_reduction(reduction, "poisson_nll")
    input = _float_input(input, f"{owner}: input")
    target = values_like(target, input, "target", "input", owner)
    if log_input:
        per = exp(input) - target * input
    else:
        per = input - target * log(input + eps)
    if full:
        big = target > 1
        t = where(big, target, 1.0)              # log of 1 where unused: no 0 * log(0)
        stirling = t * log(t) - t + 0.5 * log((2 * math.pi) * t)
        per = per + where(big, stirling, 0.0)
    return reduce_loss(per, reduction)


__all__ = ["gaussian_nll", "poisson_nll"]
