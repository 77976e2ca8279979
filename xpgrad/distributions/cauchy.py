"""``Cauchy(loc, scale)``: the Lorentzian, heavy-tailed (no mean, no variance), with a
reparameterized sampler (the inverse CDF of uniform noise).

>>> import xpgrad as xg
>>> d = xg.distributions.Cauchy(0.0, 2.0)
>>> round(float(d.cdf(2.0)), 6), round(float(d.icdf(0.75)), 6)      # 1/2 + atan(1)/pi
(0.75, 2.0)
>>> float(d.mean), float(d.variance)
(nan, inf)
"""
from __future__ import annotations

import math

from ..creation import full
from ..ops import atan, log, log1p, tan
from . import constraints
from .distribution import LocationScale


class Cauchy(LocationScale):
    """PyTorch's ``Cauchy(loc, scale)``: density ``1 / (pi scale (1 + ((x - loc) / scale)**2))``,
    ``scale > 0``; ``mean`` is NaN and ``variance`` infinite, as PyTorch's."""

    @property
    def mean(self):
        return full(self._batch_shape, math.nan, dtype=self.dtype, backend=self.backend)

    @property
    def variance(self):
        return full(self._batch_shape, math.inf, dtype=self.dtype, backend=self.backend)

    def rsample(self, sample_shape=(), *, rng=None):
        """``loc + scale tan(pi (u - 1/2))``, ``u`` uniform in ``[0, 1)`` from ``rng``."""
        u = self._noise(lambda g, shape, dt: g.random(shape, dtype=dt), sample_shape, rng)
        return self.loc + self.scale * tan(math.pi * (u - 0.5))

    def log_prob(self, value):
        value = self._value(value)
        return -math.log(math.pi) - log(self.scale) - log1p(((value - self.loc) / self.scale) ** 2)

    def cdf(self, value):
        value = self._value(value, "cdf")
        return atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        value = self._value(value, "icdf", constraints.unit_interval)
        return self.loc + self.scale * tan(math.pi * (value - 0.5))

    def entropy(self):
        return math.log(4 * math.pi) + log(self.scale)
