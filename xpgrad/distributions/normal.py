"""``Normal(loc, scale)``: the Gaussian, with a reparameterized sampler (``rsample``).

>>> import xpgrad as xg
>>> mu = xg.Variable(xg.asarray([0.0, 1.0]), name="mu")
>>> d = xg.distributions.Normal(mu, 2.0)
>>> with xg.GradientTape() as tape:
...     loss = -xg.sum(d.log_prob(xg.asarray([1.0, 1.0])))
>>> tape.gradient(loss, [mu])[0].tolist()          # -(x - mu) / scale**2
[-0.25, -0.0]
>>> d.sample((5,), rng=0).shape
(5, 2)
"""
from __future__ import annotations

import math

from ..ops import log
from ..special import erf, erfinv
from . import constraints
from .distribution import LocationScale

_HALF_LOG_2PI = math.log(math.sqrt(2 * math.pi))


class Normal(LocationScale):
    """PyTorch's ``Normal(loc, scale)``: mean ``loc``, standard deviation ``scale`` (> 0)."""

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=(), *, rng=None):
        """``loc + scale * eps``, ``eps`` standard normal from ``rng``."""
        eps = self._noise(lambda g, shape, dt: g.standard_normal(shape, dtype=dt),
                          sample_shape, rng)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value = self._value(value)
        return -((value - self.loc) ** 2) / (2 * self.scale ** 2) - log(self.scale) \
            - _HALF_LOG_2PI

    def cdf(self, value):
        value = self._value(value, "cdf")
        return 0.5 * (1 + erf((value - self.loc) * (1 / self.scale) / math.sqrt(2)))

    def icdf(self, value):
        value = self._value(value, "icdf", constraints.unit_interval)
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + log(self.scale)
