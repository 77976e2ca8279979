"""``Poisson(rate)``: counts of events at ``rate`` per unit, sampled without gradient;
``log_prob`` is differentiable in ``rate`` (a Poisson regression's likelihood).

>>> import xpgrad as xg
>>> rate = xg.Variable(xg.asarray([2.0, 4.0]), name="rate")
>>> with xg.GradientTape() as tape:
...     nll = -xg.sum(xg.distributions.Poisson(rate).log_prob(xg.asarray([3.0, 4.0])))
>>> tape.gradient(nll, [rate])[0].tolist()                # 1 - k / rate
[-0.5, 0.0]
>>> xg.distributions.Poisson(1.0).log_prob(1.5)
Traceback (most recent call last):
...
ValueError: Poisson.log_prob: value must be an integer >= 0, got invalid values [1.5]
"""
from __future__ import annotations

from ..ops import floor
from ..special import gammaln, xlogy
from . import constraints
from .count_sampling import draw_counts
from .distribution import Distribution


class Poisson(Distribution):
    """PyTorch's ``Poisson(rate)``: ``P(k) = rate**k exp(-rate) / k!`` for ``k = 0, 1, ...``,
    ``rate >= 0``; draws are floats of the rate's dtype (no ``rsample``, no ``entropy``, as
    PyTorch's)."""

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        self._init_parameters("Poisson", validate_args, rate=rate)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return floor(self.rate)

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=(), *, rng=None):
        """Counts drawn by the native generator's Poisson sampler from ``rng``."""
        return draw_counts(self, sample_shape, rng, lambda g, rate: g.poisson(rate), self.rate)

    def log_prob(self, value):
        value = self._value(value)
        return xlogy(value, self.rate) - self.rate - gammaln(value + 1)
