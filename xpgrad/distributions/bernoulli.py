"""``Bernoulli(probs=)`` or ``Bernoulli(logits=)``: a coin, 1 with probability ``probs``.

No reparameterized sampler: gradients of an expectation go through ``log_prob`` (REINFORCE).

>>> import xpgrad as xg
>>> d = xg.distributions.Bernoulli(logits=xg.asarray([0.0, 2.0]))
>>> [round(p, 4) for p in d.probs.tolist()]
[0.5, 0.8808]
>>> [round(v, 4) for v in d.log_prob(xg.asarray([1.0, 0.0])).tolist()]
[-0.6931, -2.1269]
>>> xg.distributions.Bernoulli(probs=1.5)
Traceback (most recent call last):
...
ValueError: Bernoulli: probs must be in [0, 1], got invalid values [1.5]
"""
from __future__ import annotations

import math

from ..dtype_functions import finfo
from ..ops import astype, clip, log, log1p, log_sigmoid, sigmoid, where
from . import constraints
from ._lazy import lazy
from .distribution import Distribution


def one_of(who, probs, logits):
    """``("probs", probs)`` or ``("logits", logits)``: exactly one given, else ValueError."""
    if (probs is None) == (logits is None):
        raise ValueError(f"{who}: give exactly one of probs or logits, got "
                         f"{'both' if probs is not None else 'neither'}")
    return ("probs", probs) if logits is None else ("logits", logits)


def clamp_probs(probs):
    """``probs`` clipped to ``[eps, 1 - eps]`` of its dtype (PyTorch's ``clamp_probs``)."""
    eps = float(finfo(probs.dtype).eps)
    return clip(probs, eps, 1 - eps)


class BinaryParameters:
    """``probs`` and ``logits`` (log-odds) of a distribution given one of them, the other made
    from it on first read (Bernoulli's, Geometric's, Binomial's, LogitRelaxedBernoulli's)."""

    @lazy
    def probs(self):
        return sigmoid(self.logits)

    @lazy
    def logits(self):
        p = clamp_probs(self.probs)
        return log(p) - log1p(-p)


class Bernoulli(BinaryParameters, Distribution):
    """PyTorch's ``Bernoulli(probs=None, logits=None)``: values 0 or 1 (in the parameter's
    float dtype); ``probs`` in [0, 1], or ``logits`` (log-odds) any real."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, given = one_of("Bernoulli", probs, logits)
        self._init_parameters("Bernoulli", validate_args, **{name: given})

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return where(self.probs == 0.5, math.nan, astype(self.probs >= 0.5, self.dtype))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=(), *, rng=None):
        """0/1 draws (``u < probs``, ``u`` uniform from ``rng``), cut from the tapes."""
        u = self._noise(lambda g, shape, dt: g.random(shape, dtype=dt), sample_shape, rng)
        return astype(u < self.probs, self.dtype)

    def log_prob(self, value):
        value = self._value(value)
        return log_sigmoid(self.logits) - (1 - value) * self.logits

    def entropy(self):
        return (1 - self.probs) * self.logits - log_sigmoid(self.logits)
