"""``Laplace(loc, scale)``: the double exponential, with a reparameterized sampler.

>>> import xpgrad as xg
>>> d = xg.distributions.Laplace(0.0, 1.0)
>>> round(float(d.log_prob(0.0)), 6)               # -log(2)
-0.693147
>>> float(d.variance)                              # 2 scale**2
2.0
"""
from __future__ import annotations

import math

from ..dtype_functions import finfo
from ..ops import abs as _abs
from ..ops import expm1, log, log1p, sign
from . import constraints
from .distribution import LocationScale


class Laplace(LocationScale):
    """PyTorch's ``Laplace(loc, scale)``: density ``exp(-|x - loc| / scale) / (2 scale)``."""

    @property
    def variance(self):
        return 2 * self.scale ** 2

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    def rsample(self, sample_shape=(), *, rng=None):
        """``loc - scale sign(u) log1p(-|u|)``, ``u`` uniform in ``[eps - 1, 1)`` (PyTorch's)."""
        eps = float(finfo(self.dtype).eps)
        u = self._noise(lambda g, shape, dt: g.uniform(eps - 1, 1.0, shape, dtype=dt),
                        sample_shape, rng)
        return self.loc - self.scale * sign(u) * log1p(-_abs(u))

    def log_prob(self, value):
        value = self._value(value)
        return -log(2 * self.scale) - _abs(value - self.loc) / self.scale

    def cdf(self, value):
        value = self._value(value, "cdf")
        return 0.5 - 0.5 * sign(value - self.loc) * expm1(-_abs(value - self.loc) / self.scale)

    def icdf(self, value):
        value = self._value(value, "icdf", constraints.unit_interval)
        term = value - 0.5
        return self.loc - self.scale * sign(term) * log1p(-2 * _abs(term))

    def entropy(self):
        return 1 + log(2 * self.scale)

