"""``Gumbel(loc, scale)``: the law of maxima (type I extreme value), with a reparameterized
sampler ``loc - scale log(-log u)``.

>>> import xpgrad as xg
>>> d = xg.distributions.Gumbel(0.0, 1.0)
>>> round(float(d.mean), 6), round(float(d.cdf(0.0)), 6)           # Euler's gamma, 1/e
(0.577216, 0.367879)
>>> xg.distributions.Gumbel(0.0, -1.0)
Traceback (most recent call last):
...
ValueError: Gumbel: scale must be > 0, got invalid values [-1.0]
"""
from __future__ import annotations

import math

from ..dtype_functions import finfo
from ..ops import exp, log
from . import constraints
from .distribution import LocationScale

EULER_GAMMA = 0.57721566490153286061


class Gumbel(LocationScale):
    """PyTorch's ``Gumbel(loc, scale)``: cdf ``exp(-exp(-(x - loc) / scale))``, ``scale > 0``;
    its mode is ``loc``, its mean ``loc + scale * euler_gamma``."""

    @property
    def mean(self):
        return self.loc + self.scale * EULER_GAMMA

    @property
    def stddev(self):
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        return self.stddev ** 2

    def rsample(self, sample_shape=(), *, rng=None):
        """``loc - scale log(-log u)``, ``u`` uniform in ``[tiny, 1 - eps]`` of the dtype
        (PyTorch's ``Uniform(tiny, 1 - eps)`` base), from ``rng``."""
        info = finfo(self.dtype)
        low, high = float(info.smallest_normal), 1.0 - float(info.eps)
        u = self._noise(lambda g, shape, dt: g.uniform(low, high, shape, dtype=dt),
                        sample_shape, rng)
        return self.loc - self.scale * log(-log(u))

    def log_prob(self, value):
        value = self._value(value)
        z = (self.loc - value) / self.scale
        return z - exp(z) - log(self.scale)

    def cdf(self, value):
        value = self._value(value, "cdf")
        return exp(-exp(-(value - self.loc) / self.scale))

    def icdf(self, value):
        value = self._value(value, "icdf", constraints.unit_interval)
        return self.loc - self.scale * log(-log(value))

    def entropy(self):
        return log(self.scale) + (1 + EULER_GAMMA)
