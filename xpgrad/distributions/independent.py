"""``Independent(base, reinterpreted_batch_ndims)``: the rightmost batch axes of ``base`` made
event axes, so ``log_prob`` and ``entropy`` sum over them (a diagonal Gaussian over vectors is
``Independent(Normal(mu, sigma), 1)``).

>>> import xpgrad as xg
>>> base = xg.distributions.Normal(xg.zeros((3, 2)), 1.0)
>>> d = xg.distributions.Independent(base, 1)
>>> d.batch_shape, d.event_shape, d.log_prob(xg.zeros((3, 2))).shape
((3,), (2,), (3,))
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from .distribution import Distribution, sum_rightmost


class Independent(Distribution):
    """PyTorch's ``Independent(base_distribution, reinterpreted_batch_ndims)``."""

    arg_constraints: dict = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        if not isinstance(base_distribution, Distribution):
            raise TypeError(f"Independent: base_distribution must be a Distribution, got "
                            f"{type(base_distribution).__name__}")
        if isinstance(reinterpreted_batch_ndims, bool) or not isinstance(
                reinterpreted_batch_ndims, numbers.Integral):
            raise TypeError(f"Independent: reinterpreted_batch_ndims must be an int, got "
                            f"{reinterpreted_batch_ndims!r}")
        n = operator.index(reinterpreted_batch_ndims)
        batch = base_distribution.batch_shape
        if not 0 <= n <= len(batch):
            raise ValueError(f"Independent: reinterpreted_batch_ndims must be in [0, "
                             f"{len(batch)}] (the base's batch axes, batch_shape {batch}), "
                             f"got {n}")
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        self.backend, self.dtype = base_distribution.backend, base_distribution.dtype
        cut = len(batch) - n
        super().__init__(batch[:cut], batch[cut:] + base_distribution.event_shape,
                         validate_args=validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def support(self):
        return self.base_dist.support

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def variance(self):
        return self.base_dist.variance

    def expand(self, batch_shape):
        new = self._expanded_copy(batch_shape)
        reinterpreted = self._event_shape[:self.reinterpreted_batch_ndims]
        new.base_dist = self.base_dist.expand(new.batch_shape + reinterpreted)
        return new

    def sample(self, sample_shape=(), *, rng=None):
        return self.base_dist.sample(sample_shape, rng=rng)

    def rsample(self, sample_shape=(), *, rng=None):
        return self.base_dist.rsample(sample_shape, rng=rng)

    def log_prob(self, value):
        if self._validate_args:
            self._check_shape(tuple(value.shape) if hasattr(value, "shape")
                              else np.shape(value), "log_prob")
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
