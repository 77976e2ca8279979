"""``Exponential(rate)``: waiting times, with a reparameterized sampler.

>>> import xpgrad as xg
>>> d = xg.distributions.Exponential(xg.asarray([0.5, 2.0]))
>>> d.mean.tolist()
[2.0, 0.5]
>>> d.log_prob(-1.0)
Traceback (most recent call last):
...
ValueError: Exponential.log_prob: value must be >= 0, got invalid values [-1.0]
"""
from __future__ import annotations

from ..creation import zeros_like
from ..ops import exp, log, log1p
from . import constraints
from .distribution import Distribution


class Exponential(Distribution):
    """PyTorch's ``Exponential(rate)``: density ``rate exp(-rate x)`` on ``x >= 0``."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        self._init_parameters("Exponential", validate_args, rate=rate)

    @property
    def mean(self):
        return 1 / self.rate

    @property
    def mode(self):
        return zeros_like(self.rate)

    @property
    def stddev(self):
        return 1 / self.rate

    @property
    def variance(self):
        return self.rate ** -2

    def rsample(self, sample_shape=(), *, rng=None):
        """``e / rate``, ``e`` standard exponential from ``rng``."""
        e = self._noise(lambda g, shape, dt: g.exponential(1.0, shape, dtype=dt),
                        sample_shape, rng)
        return e / self.rate

    def log_prob(self, value):
        value = self._value(value)
        return log(self.rate) - self.rate * value

    def cdf(self, value):
        value = self._value(value, "cdf")
        return 1 - exp(-self.rate * value)

    def icdf(self, value):
        value = self._value(value, "icdf", constraints.unit_interval)
        return -log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - log(self.rate)
