"""``LogNormal(loc, scale)``: ``exp(x)`` for ``x ~ Normal(loc, scale)``, a
``TransformedDistribution`` of ``Normal`` by ``ExpTransform``, as PyTorch's.

>>> import xpgrad as xg
>>> d = xg.distributions.LogNormal(0.0, 1.0)
>>> round(float(d.mean), 6), round(float(d.log_prob(1.0)), 6)    # exp(1/2), log N(0; 0, 1)
(1.648721, -0.918939)
"""
from __future__ import annotations

from ..ops import exp, expm1
from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform


class LogNormal(TransformedDistribution):
    """PyTorch's ``LogNormal(loc, scale)``: ``loc`` and ``scale`` (> 0) are the mean and
    standard deviation of ``log(y)``; a reparameterized sampler, support ``y > 0``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive

    def __init__(self, loc, scale, validate_args=None):
        base = Normal(loc, scale, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mean(self):
        return exp(self.loc + self.scale ** 2 / 2)

    @property
    def mode(self):
        return exp(self.loc - self.scale ** 2)

    @property
    def variance(self):
        s2 = self.scale ** 2
        return expm1(s2) * exp(2 * self.loc + s2)

    def entropy(self):
        return self.base_dist.entropy() + self.loc
