"""``Uniform(low, high)``: constant density on ``[low, high)``, with a reparameterized sampler.

>>> import xpgrad as xg
>>> d = xg.distributions.Uniform(0.0, 4.0)
>>> float(d.entropy()), float(d.mean)
(1.3862943649291992, 2.0)
>>> xg.distributions.Uniform(1.0, 1.0)
Traceback (most recent call last):
...
ValueError: Uniform: low must be < high, got low=1.0, high=1.0
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import clip, log, where
from . import constraints
from .distribution import Distribution


class Uniform(Distribution):
    """PyTorch's ``Uniform(low, high)`` (``low < high``); ``log_prob`` is ``-inf`` outside
    ``[low, high)`` when not validating (a value outside ``[low, high]`` is a ValueError when
    validating, as PyTorch's)."""

    arg_constraints = {"low": constraints.real, "high": constraints.real}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self._init_parameters("Uniform", validate_args, low=low, high=high)
        a, b = constraints.host(self.low), constraints.host(self.high)
        if self._validate_args and a is not None and b is not None and not np.all(a < b):
            bad = ~(a < b)
            shown = (lambda v: v[bad].tolist() if v.ndim else v.item())
            raise ValueError(f"Uniform: low must be < high, got low={shown(a)}, "
                             f"high={shown(b)}")

    @property
    def support(self):
        a, b = constraints.host(self.low), constraints.host(self.high)
        return constraints.real if a is None or b is None else constraints.interval(a, b)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.high * math.nan

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=(), *, rng=None):
        """``low + u (high - low)``, ``u`` uniform in ``[0, 1)`` from ``rng``."""
        u = self._noise(lambda g, shape, dt: g.random(shape, dtype=dt), sample_shape, rng)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        value = self._value(value)
        inside = (self.low <= value) & (self.high > value)
        return where(inside, 0.0, -math.inf) - log(self.high - self.low)

    def cdf(self, value):
        value = self._value(value, "cdf")
        return clip((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, value):
        value = self._value(value, "icdf", constraints.unit_interval)
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return log(self.high - self.low)
