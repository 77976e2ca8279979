"""``HalfNormal(scale)`` and ``HalfCauchy(scale)``: ``|x|`` for ``x`` a centred Normal or
Cauchy, PyTorch's ``TransformedDistribution``s of the base through ``AbsTransform``, with a
reparameterized sampler; the density is twice the base's on ``[0, inf)``.

>>> import xpgrad as xg
>>> d = xg.distributions.HalfNormal(2.0)
>>> round(float(d.mean), 4), round(float(d.icdf(0.5)), 4)          # 2 sqrt(2/pi), median
(1.5958, 1.349)
>>> xg.distributions.HalfCauchy(xg.asarray([1.0, 0.0]))
Traceback (most recent call last):
...
ValueError: HalfCauchy: scale must be > 0, got invalid values [0.0]
"""
from __future__ import annotations

import math

from .._args import refuse_keywords
from ..creation import full, zeros_like
from ..ops import where
from . import constraints
from .cauchy import Cauchy
from .distribution import as_params
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform


class _Half(TransformedDistribution):
    """``|x|`` for ``x`` drawn from ``_base(0, scale)``: ``log_prob``, ``cdf``, ``icdf`` and
    ``entropy`` from the base's, folded at 0."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    _base = None

    def __init__(self, scale, validate_args=None, **unexpected):
        who = type(self).__name__
        if unexpected:      # the family's name, not this base class's
            refuse_keywords(who, unexpected)
        _, _, p = as_params(who, scale=scale)
        if self._validating(validate_args):
            constraints.require(who, "scale", constraints.positive, p["scale"])
        base = self._base(0.0, p["scale"], validate_args=False)
        super().__init__(base, AbsTransform(), validate_args=validate_args)

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mode(self):
        return zeros_like(self.scale)

    def log_prob(self, value):
        value = self._value(value)
        return where(value >= 0, self.base_dist.log_prob(value) + math.log(2), -math.inf)

    def cdf(self, value):
        value = self._value(value, "cdf")
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, value):
        value = self._value(value, "icdf", constraints.unit_interval)
        return self.base_dist.icdf((value + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)


class HalfNormal(_Half):
    """PyTorch's ``HalfNormal(scale)``: ``|x|``, ``x ~ Normal(0, scale)``, ``scale > 0``."""

    _base = Normal

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale ** 2 * (1 - 2 / math.pi)


class HalfCauchy(_Half):
    """PyTorch's ``HalfCauchy(scale)``: ``|x|``, ``x ~ Cauchy(0, scale)``, ``scale > 0``; its
    mean and variance are infinite, as PyTorch's."""

    _base = Cauchy

    @property
    def mean(self):
        return full(self._batch_shape, math.inf, dtype=self.dtype, backend=self.backend)

    @property
    def variance(self):
        return full(self._batch_shape, math.inf, dtype=self.dtype, backend=self.backend)
