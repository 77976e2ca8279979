"""``Beta(concentration1, concentration0)``: a probability, the first coordinate of a
two-category Dirichlet (a gamma draw over the sum of two), with a reparameterized sampler.

>>> import xpgrad as xg
>>> d = xg.distributions.Beta(2.0, 6.0)
>>> float(d.mean), round(float(d.mode), 6)
(0.25, 0.166667)
>>> d.log_prob(1.5)
Traceback (most recent call last):
...
ValueError: Beta.log_prob: value must be in [0, 1], got invalid values [1.5]
"""
from __future__ import annotations

from ..ops import stack
from ..special import betainc
from . import constraints
from .dirichlet import Dirichlet
from .distribution import Distribution


class Beta(Distribution):
    """PyTorch's ``Beta(concentration1, concentration0)``: density proportional to
    ``x**(concentration1 - 1) (1 - x)**(concentration0 - 1)`` on ``[0, 1]``, both > 0."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self._init_parameters("Beta", validate_args, concentration1=concentration1,
                              concentration0=concentration0)
        self._dirichlet = Dirichlet(stack([self.concentration1, self.concentration0], axis=-1),
                                    validate_args=False)

    def expand(self, batch_shape):
        """Both concentrations, and the Dirichlet drawn from, broadcast to ``batch_shape``.

        >>> Beta(2.0, 6.0).expand((3,)).rsample(rng=0).shape
        (3,)
        """
        new = super().expand(batch_shape)
        new._dirichlet = self._dirichlet.expand(new.batch_shape)
        return new

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=(), *, rng=None):
        """The first coordinate of a Dirichlet draw: ``x / (x + y)``, ``x`` and ``y``
        standard-gamma draws of the two concentrations."""
        return self._dirichlet.rsample(sample_shape, rng=rng)[..., 0]

    def log_prob(self, value):
        value = self._value(value)
        return self._dirichlet.log_prob(stack([value, 1.0 - value], axis=-1))

    def cdf(self, value):
        """``I_value(concentration1, concentration0)``, the regularized incomplete beta function
        (``xg.special.betainc``; PyTorch's Beta has no cdf, TensorFlow Probability's is this).
        Differentiable in ``value`` and, once, in both concentrations.

        >>> import xpgrad as xg
        >>> d = xg.distributions.Beta(xg.asarray(2.0, dtype=xg.float64), 3.0)
        >>> round(d.cdf(0.5).item(), 12)                    # 11 / 16
        0.6875
        """
        value = self._value(value, "cdf")
        return betainc(self.concentration1, self.concentration0, value)

    def entropy(self):
        return self._dirichlet.entropy()
