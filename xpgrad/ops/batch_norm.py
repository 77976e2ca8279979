"""``batch_norm``: normalize each channel (axis 1) over the batch and the other axes, as
``torch.nn.functional.batch_norm``, exposed as ``xg.nn.batch_norm``.

Training mode normalizes with the batch's mean and biased variance through one primitive
whose joint rule is the three-term formula ``dx = rstd * (gy - mean(gy) - xhat *
mean(gy * xhat))`` (``gy = g * weight``), and updates the running statistics (non-trainable
Variables) off the tape. Evaluation mode is ``(x - running_mean) * weight / sqrt(running_var
+ eps) + bias`` composed of plain operations (every gradient exact, the running statistics'
too).

>>> import xpgrad as xg
>>> y = xg.nn.batch_norm(xg.asarray([[1.0], [3.0]]), None, None, training=True)
>>> [round(v, 3) for v in y.tolist()[0] + y.tolist()[1]]
[-1.0, 1.0]
"""
from __future__ import annotations

import math

import numpy as np

from .._args import flag
from ..creation import asarray
from ..optim._checks import hyperparameter
from ..primitive import Primitive, apply, tape_state
from ..recompute import recomputing
from ..tensor import Tensor, Variable
from ._define import as_tensor
from .moments import below_float64, overflowed, power_of_two_scale


def _shape(x, a, xp=None):
    """``a`` (C,) shaped to broadcast against ``x``'s channel axis (1); ``xp``: a rule's
    namespace (the array API's arrays have no reshape method), None for Tensors."""
    if x.ndim == 2:
        return a
    shape = (a.shape[0],) + (1,) * (x.ndim - 2)
    return a.reshape(shape) if xp is None else xp.reshape(a, shape)


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


# -- training mode: the primitive -------------------------------------------------------------
# Inputs ``(x, mean, var, [weight], [bias])``: ``mean`` and ``var`` (biased) are the batch's,
# shaped (1, C, 1...), computed off the tape by ``batch_norm`` (which also needs them for the
# running statistics), so the forward pass reduces over ``x`` once. The rule reads them for a
# first-order gradient; a tape recording the backward pass (``g`` a Tensor) gets them
# recomputed from ``x``, so that higher orders see their dependence on ``x``.
def _forward(xp, x, mean, var, *affine_arrays, eps, affine):
    y = (x - mean) * (1.0 / xp.sqrt(var + eps))
    weight, bias = _split(affine_arrays, affine)
    if weight is not None:
        y = y * _shape(x, weight, xp)
    return y if bias is None else y + _shape(x, bias, xp)


def _split(arrays, affine):
    return (arrays[0] if affine[0] else None), (arrays[-1] if affine[1] else None)


def _vjp(xp, g, ans, needs, x, mean, var, *affine_arrays, eps, affine):
    weight, _ = _split(affine_arrays, affine)
    axes = _axes(x.ndim)
    if isinstance(g, Tensor):
        mean = xp.mean(x, axis=axes, keepdims=True)
        xc = x - mean
        var = xp.mean(xc * xc, axis=axes, keepdims=True)
    rstd = 1.0 / xp.sqrt(var + eps)
    xhat = (x - mean) * rstd

    def channels(a):
        return xp.reshape(xp.sum(a, axis=axes), (x.shape[1],))

    dx = None
    if needs[0]:
        gy = g if weight is None else g * _shape(x, weight, xp)
        dx = rstd * (gy - xp.mean(gy, axis=axes, keepdims=True)
                     - xhat * xp.mean(gy * xhat, axis=axes, keepdims=True))
    return with_affine_grads(dx, g, xhat, channels, needs, affine)


def with_affine_grads(dx, g, xhat, channels, needs, affine) -> tuple:
    """The joint rule's result: ``dx``, None for the two statistics, then ``weight``'s and
    ``bias``'s gradients (``channels`` sums over every axis but 1) where ``affine`` has them
    and ``needs`` asks."""
    out = [dx, None, None]
    if affine[0]:
        out.append(channels(g * xhat) if needs[len(out)] else None)
    if affine[1]:
        out.append(channels(g) if needs[len(out)] else None)
    return tuple(out)


_batch_norm = Primitive("batch_norm", _forward, joint=_vjp, saves=(0, 1, 2, 3))


# -- the function -----------------------------------------------------------------------------
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """``torch.nn.functional.batch_norm``: ``x`` (N, C, ...) normalized per channel (axis 1)
    to zero mean and unit variance, then scaled by ``weight`` and shifted by ``bias`` (each
    (C,), optional).

    ``training=True`` uses the batch's mean and biased variance (over every axis but 1; more
    than one value per channel needed, or none: an empty input gives an empty output and
    leaves the statistics alone, as PyTorch's) and, if ``running_mean`` and ``running_var`` are given
    (non-trainable ``xg.Variable``s of shape (C,), as ``BatchNorm1d`` holds), updates them off
    the tape: ``running = (1 - momentum) * running + momentum * batch`` with the unbiased
    variance. ``training=False`` uses ``running_mean`` and ``running_var`` (then required;
    any tensors). The update is skipped while ``xg.recompute_grad`` runs a block again for
    its gradient, so a checkpointed step updates the statistics once (PyTorch's checkpoint
    updates them twice).

    >>> import xpgrad as xg
    >>> mean = xg.Variable(xg.zeros(1), trainable=False, name="mean")
    >>> var = xg.Variable(xg.ones(1), trainable=False, name="var")
    >>> _ = xg.nn.batch_norm(xg.asarray([[1.0], [3.0]]), mean, var, training=True, momentum=0.5)
    >>> mean.tolist(), var.tolist()
    ([1.0], [1.5])
    """
    who = "batch_norm"
    x = _input(x, who)
    training = flag(training, "training", who)
    momentum = _momentum(momentum, who)
    eps = _positive(eps, who, training)
    channels = x.shape[1]
    stats = [_vector(v, n, x, channels, who, required=not training)
             for n, v in (("running_mean", running_mean), ("running_var", running_var))]
    if (stats[0] is None) != (stats[1] is None):
        raise ValueError("batch_norm: give running_mean and running_var both or neither")
    if training and stats[0] is not None:
        for name, v in zip(("running_mean", "running_var"), stats):
            if not isinstance(v, Variable):
                raise TypeError(f"batch_norm: in training mode {name} is updated, so it must "
                                f"be an xg.Variable (trainable=False), got "
                                f"{type(v).__name__}")
    weight = _vector(weight, "weight", x, channels, who)
    bias = _vector(bias, "bias", x, channels, who)
    return normalize(x, *stats, weight, bias, training, momentum, eps, who)


def normalize(x, running_mean, running_var, weight, bias, training, momentum, eps, who):
    """``batch_norm`` of checked arguments; ``momentum`` may be a 0-d Tensor (BatchNorm1d's
    cumulative average, ``1 / num_batches_tracked``)."""
    if not training:
        scale = 1.0 / _shape(x, (running_var + eps) ** 0.5)
        if weight is not None:
            scale = scale * _shape(x, weight)
        y = (x - _shape(x, running_mean)) * scale
        return y if bias is None else y + _shape(x, bias)
    per_channel = x.shape[0] * math.prod(x.shape[2:])      # not x.size // C: C may be 0
    if per_channel == 1:
        raise ValueError(f"{who}: expected more than 1 value per channel when training, got an "
                         f"input of shape {x.shape} (PyTorch's rule: the variance of one "
                         "value is undefined); use eval() for single samples")
    if per_channel == 0:            # PyTorch's: an empty output, the statistics left alone
        y = x if weight is None else x * _shape(x, weight)
        return y if bias is None else y + _shape(x, bias)
    mean, var = _batch_stats(x)
    if running_mean is not None:
        _update(running_mean, running_var, mean, var, per_channel, momentum)
    arrays = [a for a in (x, mean, var, weight, bias) if a is not None]
    return apply(_batch_norm, *arrays, eps=eps, affine=(weight is not None, bias is not None))


def _batch_stats(x):
    """The batch's mean and biased variance per channel, shaped (1, C, 1...), off the tape."""
    saved, tape_state.recording = tape_state.recording, []
    try:
        both = apply(_batch_moments, x)
        return both[0], both[1]
    finally:
        tape_state.recording = saved


def _moments(xp, x):
    """``stack([mean, var])`` per channel (shape (2, 1, C, 1...)), ``var`` biased.

    Below float64, the first mean's rounding (summed in the input's precision) is corrected
    by the mean of the centred values, ``d``, which are small and so summed accurately:
    ``mean = m + d`` and ``var = mean((x - m)**2) - d**2``. A float32 channel whose mean is
    thousands of standard deviations then normalizes as accurately as PyTorch's (which sums in
    double); without it the error was 5-10x PyTorch's. Backends' kernels (one or two passes,
    no temporaries) replace it. Where the sum of squares overflowed (a float32 channel of N
    entries with N * std**2 > 3.4e38), the same from ``x / s``, ``s`` a power of two near the
    channel's largest magnitude: ``mean * s`` and ``var * s * s``."""
    axes = _axes(x.ndim)
    with np.errstate(over="ignore", invalid="ignore"):
        m, var = _plain_moments(xp, x, axes)
        if overflowed(xp, var):
            s = power_of_two_scale(xp, x, axes)
            m, var = _plain_moments(xp, x / s, axes)
            m, var = m * s, var * s * s
    return xp.stack([m, var])


def _plain_moments(xp, x, axes):
    m = xp.mean(x, axis=axes, keepdims=True)
    xc = x - m
    var = xp.mean(xc * xc, axis=axes, keepdims=True)
    if below_float64(xp, x.dtype):
        d = xp.mean(xc, axis=axes, keepdims=True)
        m, var = m + d, xp.maximum(var - d * d, 0.0)
    return m, var


#: no gradient: the statistics go into ``_batch_norm`` as inputs whose rule leaves them None
_batch_moments = Primitive("batch_moments", _moments)


def _update(running_mean, running_var, mean, var, n, momentum):
    """Move the running statistics ``momentum`` of the way to the batch's (unbiased variance),
    off the tape; not while ``recompute_grad`` runs a block again (the forward pass did)."""
    if recomputing():
        return
    c = running_mean.shape[0]
    saved, tape_state.recording = tape_state.recording, []
    try:
        unbiased = var.reshape((c,)) * (n / (n - 1))
        for running, batch in ((running_mean, mean.reshape((c,))), (running_var, unbiased)):
            new = running * (1.0 - momentum) + batch * momentum
            running._replace(new if new.dtype == running.dtype else new.astype(running.dtype))
    finally:
        tape_state.recording = saved


# -- argument checks --------------------------------------------------------------------------
def _input(x, who):
    x = as_tensor(x, who)
    if x.ndim < 2:
        raise ValueError(f"{who}: the input must be (N, C, ...) with at least 2 axes, got shape "
                         f"{x.shape}")
    if not x.dtype.is_floating:
        raise TypeError(f"{who} needs a floating-point input, got {x.dtype}")
    return x


def _positive(value, who, positive=True):
    """``eps``: > 0 to train (a channel of equal values divides by 0 otherwise; PyTorch
    refuses it too), >= 0 to evaluate."""
    return hyperparameter("eps", value, low=0.0, low_open=positive, owner=who)


def _momentum(value, who):
    return hyperparameter("momentum", value, low=0.0, high=1.0, owner=who)


def _vector(value, what, x, channels, who, required=False):
    """``value`` as a (C,) Tensor of ``x``'s dtype and backend (numbers and arrays converted,
    a Tensor of another dtype refused), or None; ValueError if ``required`` and None."""
    if value is None:
        if required:
            raise ValueError(f"{who}: {what} must be given in evaluation mode (training=False)")
        return None
    if not isinstance(value, Tensor):
        try:
            value = asarray(value, dtype=x.dtype, backend=x.backend)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{who}: {what} must be a tensor or numbers, got "
                            f"{type(value).__name__} ({e})") from None
    if tuple(value.shape) != (channels,):
        raise ValueError(f"{who}: {what} must have shape (C,) = ({channels},) for an input of "
                         f"shape {x.shape}, got {value.shape}")
    if value.dtype != x.dtype:
        raise TypeError(f"{who}: {what} is {value.dtype} but the input is {x.dtype}; cast one "
                        "with xg.astype")
    return value


__all__: list = []   # exposed through xg.nn
