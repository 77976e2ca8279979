"""``Categorical(probs=)`` or ``Categorical(logits=)``: one of ``K`` classes (the last axis of
the parameter), drawn as int64 indices.

No reparameterized sampler: a policy gradient goes through ``log_prob`` (REINFORCE).

>>> import xpgrad as xg
>>> d = xg.distributions.Categorical(logits=xg.asarray([[0.0, 0.0, 0.0, 0.0]]))
>>> d.batch_shape, d.sample((3,), rng=0).shape
((1,), (3, 1))
>>> round(float(d.entropy()[0]), 6)                  # log(4)
1.386294
>>> d.log_prob(xg.asarray([4]))
Traceback (most recent call last):
...
ValueError: Categorical.log_prob: value must be an integer in [0, 3], got invalid values [4]
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from ..dtype_functions import finfo
from ..ops import (argmax, astype, broadcast_to, clip, cumulative_sum, expand_dims, log,
                   logsumexp, softmax, squeeze, take_along_axis)
from ..ops import sum as _sum
from ..creation import full
from ..tape import stop_gradient
from . import constraints
from ._lazy import lazy
from .bernoulli import clamp_probs, one_of
from .distribution import Distribution, as_params


class Categorical(Distribution):
    """PyTorch's ``Categorical(probs=None, logits=None)``: ``probs`` non-negative along the
    last axis (normalized to sum to 1, as PyTorch's), or unnormalized ``logits``
    (normalized by their logsumexp); ``batch_shape`` is the parameter's shape without its
    last axis."""

    # probs are checked as given (before normalizing: a float32 sum over many classes may miss
    # 1 by more than PyTorch's simplex tolerance of 1e-6 after it)
    arg_constraints = {"probs": constraints.unnormalized_simplex,
                       "logits": constraints.real_vector}

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, given = one_of("Categorical", probs, logits)
        self.backend, self.dtype, p = as_params("Categorical", {name: 1}, **{name: given})
        t = p[name]
        if name == "probs" and self._validating(validate_args):   # before dividing by the sum
            constraints.require("Categorical", "probs", constraints.unnormalized_simplex, t)
        if name == "probs":
            self.probs = t / _sum(t, axis=-1, keepdims=True)
        else:
            self.logits = t - logsumexp(t, axis=-1, keepdims=True)
        self._num_events = t.shape[-1]
        super().__init__(tuple(t.shape[:-1]), validate_args=validate_args)

    @lazy
    def probs(self):
        return softmax(self.logits, axis=-1)

    @lazy
    def logits(self):
        return log(clamp_probs(self.probs))

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return full(self._batch_shape, math.nan, dtype=self.dtype, backend=self.backend)

    @property
    def variance(self):
        return full(self._batch_shape, math.nan, dtype=self.dtype, backend=self.backend)

    @property
    def mode(self):
        return argmax(self.probs, axis=-1)

    def sample(self, sample_shape=(), *, rng=None):
        """int64 class indices of shape ``sample_shape + batch_shape``: the first class whose
        cumulative probability passes ``u`` (uniform from ``rng``), cut from the tapes."""
        u = self._noise(lambda g, shape, dt: g.random(shape, dtype=dt), sample_shape, rng)
        cdf = cumulative_sum(stop_gradient(self.probs), axis=-1)
        below = cdf <= expand_dims(u, axis=-1) * cdf[..., -1:]
        index = _sum(astype(below, _dt.int64), axis=-1)
        return clip(index, 0, self._num_events - 1)

    def log_prob(self, value):
        value = astype(self._value(value, dtype=_dt.int64), _dt.int64)
        shape = _broadcast(value.shape, self._batch_shape)
        value = broadcast_to(value, shape)
        logits = broadcast_to(self.logits, shape + (self._num_events,))
        return squeeze(take_along_axis(logits, expand_dims(value, axis=-1), axis=-1), axis=-1)

    def entropy(self):
        logits = clip(self.logits, float(finfo(self.dtype).min), None)
        return -_sum(logits * self.probs, axis=-1)


def _broadcast(a, b):
    return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
