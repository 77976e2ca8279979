"""``StudentT(df, loc=0.0, scale=1.0)``: Student's t, a Normal whose precision is drawn from
a Gamma; ``rsample`` is ``loc + scale x / sqrt(z / df)`` with ``x`` standard normal and ``z``
a ``Chi2(df)`` draw, so gradients reach ``df`` too (through the gamma family's implicit
reparameterization).

>>> import xpgrad as xg
>>> d = xg.distributions.StudentT(xg.asarray([0.5, 1.5, 5.0]))
>>> d.mean.tolist(), [round(v, 4) for v in d.variance.tolist()]   # NaN, inf, df / (df - 2)
([nan, 0.0, 0.0], [nan, inf, 1.6667])
>>> xg.distributions.StudentT(0.0)
Traceback (most recent call last):
...
ValueError: StudentT: df must be > 0, got invalid values [0.0]
"""
from __future__ import annotations

import math

from ..nn.init._common import as_rng, check_rng
from ..ops import log, log1p, sqrt, where
from ..special import digamma, gammaln, stdtr
from . import constraints
from .distribution import Distribution
from .gamma import Chi2

_HALF_LOG_PI = 0.5 * math.log(math.pi)


class StudentT(Distribution):
    """PyTorch's ``StudentT(df, loc=0.0, scale=1.0)``: ``df > 0`` degrees of freedom (not
    only integers), ``scale > 0``, all broadcast together. ``mean`` is NaN where ``df <= 1``;
    ``variance`` is NaN there and infinite where ``1 < df <= 2``, as PyTorch's."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self._init_parameters("StudentT", validate_args, df=df, loc=loc, scale=scale)
        self._chi2 = Chi2(self.df, validate_args=False)

    def expand(self, batch_shape):
        """The parameters, and the ``Chi2`` drawn from, broadcast to ``batch_shape``.

        >>> StudentT(3.0).expand((2,)).rsample(rng=0).shape
        (2,)
        """
        new = super().expand(batch_shape)
        new._chi2 = self._chi2.expand(new.batch_shape)
        return new

    @property
    def mean(self):
        return where(self.df > 1, self.loc, math.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale ** 2 * df / where(df > 2, df - 2, 1.0)
        return where(df > 2, finite, where(df > 1, math.inf, math.nan))

    def rsample(self, sample_shape=(), *, rng=None):
        """``loc + scale x / sqrt(z / df)``: ``x`` standard normal, then ``z`` from
        ``Chi2(df)``, both from ``rng`` (PyTorch's order)."""
        gen = as_rng(check_rng(rng, "StudentT.sample"), self.backend)
        x = self._noise(lambda g, shape, dt: g.standard_normal(shape, dtype=dt),
                        sample_shape, gen)
        z = self._chi2.rsample(sample_shape, rng=gen)
        return self.loc + self.scale * x / sqrt(z / self.df)

    def log_prob(self, value):
        value = self._value(value)
        y = (value - self.loc) / self.scale
        half_df = 0.5 * self.df
        log_norm = log(self.scale) + 0.5 * log(self.df) + _HALF_LOG_PI + gammaln(half_df) \
            - gammaln(half_df + 0.5)
        return -(half_df + 0.5) * log1p(y ** 2 / self.df) - log_norm

    def cdf(self, value):
        """Student's t distribution function of ``(value - loc) / scale`` (``xg.special.stdtr``;
        PyTorch's StudentT has no cdf, TensorFlow Probability's is this). Differentiable in
        ``value``, ``loc``, ``scale`` and, once, in ``df``.

        >>> import xpgrad as xg
        >>> d = xg.distributions.StudentT(xg.asarray(1.0, dtype=xg.float64), 2.0, 3.0)
        >>> round(d.cdf(5.0).item(), 12)                    # Cauchy: 1/2 + atan(1) / pi
        0.75
        """
        value = self._value(value, "cdf")
        return stdtr(self.df, (value - self.loc) / self.scale)

    def entropy(self):
        half_df = 0.5 * self.df
        log_beta = gammaln(half_df) + math.lgamma(0.5) - gammaln(half_df + 0.5)
        return log(self.scale) + (half_df + 0.5) * (digamma(half_df + 0.5) - digamma(half_df)) \
            + 0.5 * log(self.df) + log_beta
