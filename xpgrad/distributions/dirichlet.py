"""``Dirichlet(concentration)``: probability vectors (the last axis), drawn as normalized gamma
draws, with a reparameterized sampler.

>>> import xpgrad as xg
>>> d = xg.distributions.Dirichlet(xg.asarray([1.0, 2.0, 5.0]))
>>> d.batch_shape, d.event_shape, [round(v, 3) for v in d.mean.tolist()]
((), (3,), [0.125, 0.25, 0.625])
>>> d.sample((4,), rng=0).shape
(4, 3)
>>> xg.distributions.Dirichlet(xg.asarray([1.0, 0.0]))
Traceback (most recent call last):
...
ValueError: Dirichlet: concentration must be > 0, got invalid values [0.0]
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from ..creation import zeros
from ..ops import astype, clip, exp, expand_dims, logsumexp, one_hot, where
from ..ops import all as _all
from ..ops import sum as _sum
from ..special import digamma, gammaln, xlogy
from . import constraints
from .distribution import Distribution, as_params
from .gamma_sampling import draw_gamma, inside_unit_interval


class Dirichlet(Distribution):
    """PyTorch's ``Dirichlet(concentration)``: ``concentration`` > 0 with at least one axis,
    its last axis the event (``K`` categories), the others the batch."""

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        self.backend, self.dtype, p = as_params("Dirichlet", {"concentration": 1},
                                                concentration=concentration)
        self.concentration = p["concentration"]
        shape = tuple(self.concentration.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def mean(self):
        c = self.concentration
        return c / _sum(c, axis=-1, keepdims=True)

    @property
    def mode(self):
        """``(c - 1) / sum(c - 1)`` with ``c - 1`` clamped at 0; where every ``c < 1``, the
        first corner ``(1, 0, ..., 0)`` (PyTorch's choice: the density is unbounded at every
        corner there); NaN where every ``c <= 1`` and one is 1 (PyTorch's 0 / 0)."""
        c = self.concentration
        above_one = clip(c - 1, 0.0, None)
        all_below = expand_dims(_all(c < 1, axis=-1), axis=-1)
        total = _sum(above_one, axis=-1, keepdims=True)
        mode = above_one / where(total == 0, 1.0, total)
        first = zeros(self._batch_shape, dtype=_dt.int64, backend=self.backend)
        corner = astype(one_hot(first, c.shape[-1]), self.dtype)
        return where(all_below, corner, where(total == 0, math.nan, mode))

    @property
    def variance(self):
        c = self.concentration
        total = _sum(c, axis=-1, keepdims=True)
        return c * (total - c) / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=(), *, rng=None):
        """Standard-gamma draws of the concentrations (``rng``), divided by their sum: the
        gradient reaches ``concentration`` through each gamma draw's. The ratio is taken of
        the draws' logs (a softmax: draws far below the smallest float keep their ratio), and
        each coordinate is kept inside ``[tiny, 1 - eps / 2]`` (PyTorch's clamp; the gradient
        passes the clamp unchanged), so ``log_prob`` of a draw is finite."""
        log_g = draw_gamma(self, self.concentration, sample_shape, rng, "Dirichlet", log=True)
        return inside_unit_interval(exp(log_g - logsumexp(log_g, axis=-1, keepdims=True)))

    def log_prob(self, value):
        value = self._value(value)
        c = self.concentration
        return _sum(xlogy(c - 1.0, value), axis=-1) + gammaln(_sum(c, axis=-1)) \
            - _sum(gammaln(c), axis=-1)

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        total = _sum(c, axis=-1)
        return _sum(gammaln(c), axis=-1) - gammaln(total) - (k - total) * digamma(total) \
            - _sum((c - 1.0) * digamma(c), axis=-1)
