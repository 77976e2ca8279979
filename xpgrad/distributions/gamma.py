"""``Gamma(concentration, rate)`` and ``Chi2(df)``, with a reparameterized sampler whose
gradients reach both parameters (implicit reparameterization for the concentration).

>>> import xpgrad as xg
>>> d = xg.distributions.Gamma(xg.asarray([2.0, 9.0]), 3.0)
>>> [round(v, 6) for v in d.mean.tolist()], [round(v, 6) for v in d.mode.tolist()]
([0.666667, 3.0], [0.333333, 2.666667])
>>> xg.distributions.Chi2(-1.0)
Traceback (most recent call last):
...
ValueError: Chi2: df must be > 0, got invalid values [-1.0]
"""
from __future__ import annotations

from ..dtype_functions import finfo
from ..ops import broadcast_to, clip, log, maximum
from ..special import digamma, gammainc, gammaln, xlogy
from ..tape import stop_gradient
from . import constraints
from .distribution import Distribution, as_params
from .gamma_sampling import draw_gamma


def at_least_tiny(value):
    """``value`` raised to its dtype's smallest normal number where it underflowed, the
    gradient left as it was (PyTorch clamps its gamma draws so, in place and detached)."""
    tiny = finfo(value.dtype).smallest_normal
    return value + stop_gradient(maximum(value, tiny) - value)


class Gamma(Distribution):
    """PyTorch's ``Gamma(concentration, rate)``: density ``rate**c x**(c-1) exp(-rate x) /
    Gamma(c)`` on ``x >= 0``, both parameters > 0 (broadcast together)."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self._init_parameters(type(self).__name__, validate_args, concentration=concentration,
                              rate=rate)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return clip((self.concentration - 1) / self.rate, 0.0, None)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=(), *, rng=None):
        """Standard-gamma draws (Marsaglia-Tsang, from ``rng``) over ``rate``; their gradient
        in the concentration is that of the inverse CDF at fixed probability."""
        z = draw_gamma(self, self.concentration, sample_shape, rng, type(self).__name__)
        return at_least_tiny(z / self.rate)

    def log_prob(self, value):
        value = self._value(value)
        c, r = self.concentration, self.rate
        return xlogy(c, r) + xlogy(c - 1, value) - r * value - gammaln(c)

    def cdf(self, value):
        """``P(concentration, rate * value)``, the regularized lower incomplete gamma function
        (``xg.special.gammainc``, as PyTorch's ``Gamma.cdf``). Differentiable in ``rate`` and
        ``value``, and once in ``concentration`` (PyTorch's raises there; a second derivative
        in it raises NotImplementedError).

        >>> import xpgrad as xg
        >>> d = xg.distributions.Gamma(xg.asarray(1.0, dtype=xg.float64), 2.0)
        >>> round(d.cdf(0.5).item(), 12)                    # 1 - exp(-1)
        0.632120558829
        """
        value = self._value(value, "cdf")
        return gammainc(self.concentration, self.rate * value)

    def entropy(self):
        c = self.concentration
        return c - log(self.rate) + gammaln(c) + (1.0 - c) * digamma(c)


class Chi2(Gamma):
    """PyTorch's ``Chi2(df)``: ``Gamma(df / 2, 1 / 2)``, ``df > 0`` (not only integers).

    >>> import xpgrad as xg
    >>> float(xg.distributions.Chi2(4.0).variance)      # 2 df
    8.0
    >>> round(xg.distributions.Chi2(xg.asarray(2.0, dtype=xg.float64)).cdf(2.0).item(), 12)
    0.632120558829
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        backend, dtype, p = as_params("Chi2", df=df)
        self.df = p["df"]
        super().__init__(0.5 * self.df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape):
        """``df`` and the Gamma's parameters broadcast to ``batch_shape`` (``Chi2(df).expand``
        is PyTorch's)."""
        new = super().expand(batch_shape)
        new.concentration, new.rate = (broadcast_to(t, new.batch_shape)
                                       for t in (self.concentration, self.rate))
        return new
