"""``Geometric(probs=None, logits=None)``: the number of failures before the first success of
coin flips with success probability ``probs``, sampled without gradient.

>>> import xpgrad as xg
>>> d = xg.distributions.Geometric(probs=xg.asarray([0.25, 1.0]))
>>> d.mean.tolist(), [round(v, 4) for v in d.log_prob(xg.asarray([2.0, 0.0])).tolist()]
([3.0, 0.0], [-1.9617, 0.0])
>>> xg.distributions.Geometric(probs=0.0)
Traceback (most recent call last):
...
ValueError: Geometric: probs must be in (0, 1], got invalid values [0.0]
"""
from __future__ import annotations

import math

from ..creation import zeros_like
from ..dtype_functions import finfo
from ..ops import floor, log, log1p, softplus, where
from ..tape import stop_gradient
from . import constraints
from .bernoulli import BinaryParameters, one_of
from .distribution import Distribution

_ABOVE_ZERO_TO_ONE = constraints.Constraint("in (0, 1]", lambda a: (a > 0) & (a <= 1))


class Geometric(BinaryParameters, Distribution):
    """PyTorch's ``Geometric(probs=None, logits=None)``: ``P(k) = (1 - p)**k p`` for
    ``k = 0, 1, ...``, ``probs`` in (0, 1] or ``logits`` (log-odds); draws are floats of the
    parameter's dtype."""

    arg_constraints = {"probs": _ABOVE_ZERO_TO_ONE, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, given = one_of("Geometric", probs, logits)
        self._init_parameters("Geometric", validate_args, **{name: given})

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=(), *, rng=None):
        """``floor(log u / log(1 - probs))``, ``u`` uniform in ``[tiny, 1)`` from ``rng``
        (PyTorch's inversion), cut from the tapes."""
        tiny = float(finfo(self.dtype).smallest_normal)
        u = self._noise(lambda g, shape, dt: g.uniform(tiny, 1.0, shape, dtype=dt),
                        sample_shape, rng)
        probs = stop_gradient(self.probs)
        certain = probs == 1                                   # log(1 - 1): no failures
        failures = floor(log(u) / log1p(-where(certain, 0.5, probs)))
        return where(certain, 0.0, failures)

    def log_prob(self, value):
        value = self._value(value)
        certain = self.probs == 1               # k log(1 - 1): 0 for k = 0, -inf after it
        log_p = value * log1p(-where(certain, 0.0, self.probs)) + log(self.probs)
        return where(certain & (value > 0), -math.inf, log_p)

    def entropy(self):
        return (softplus(self.logits) - self.logits * self.probs) / self.probs
