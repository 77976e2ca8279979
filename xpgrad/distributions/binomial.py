"""``Binomial(total_count=1, probs=None, logits=None)``: successes in ``total_count`` coin
flips, sampled without gradient; ``log_prob`` and ``entropy`` are differentiable in the
probabilities.

>>> import xpgrad as xg
>>> d = xg.distributions.Binomial(10, probs=xg.asarray([0.2, 0.5]))
>>> d.mean.tolist(), [round(v, 4) for v in d.log_prob(xg.asarray([2.0, 5.0])).tolist()]
([2.0, 5.0], [-1.1974, -1.402])
>>> d.log_prob(xg.asarray([11.0, 5.0]))            # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: Binomial.log_prob: value must be an integer in [0, total_count], got ... [11.0]
"""
from __future__ import annotations

import numbers

import numpy as np

from ..creation import arange
from ..ops import clip, exp, floor, reshape, softplus
from ..ops import sum as _sum
from ..special import gammaln
from ..tape import stop_gradient
from . import constraints
from .bernoulli import BinaryParameters, one_of
from .count_sampling import draw_counts
from .distribution import Distribution


class Binomial(BinaryParameters, Distribution):
    """PyTorch's ``Binomial(total_count=1, probs=None, logits=None)``: ``total_count`` a
    non-negative integer (a number or an array, broadcast with the probabilities), ``probs``
    in [0, 1] or ``logits`` (log-odds); draws are floats of the parameters' dtype.
    ``entropy`` sums over ``0..total_count`` and needs one ``total_count`` for the whole batch,
    as PyTorch's."""

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        name, given = one_of("Binomial", probs, logits)
        # entropy's sum runs over 0..total_count: a Python number needs no read of a tensor
        self._count_number = (total_count if isinstance(total_count, numbers.Real)
                              and not isinstance(total_count, bool) else None)
        self._init_parameters("Binomial", validate_args, total_count=total_count,
                              **{name: given})

    @property
    def support(self):
        n = constraints.host(self.total_count)
        if n is None:
            return constraints.nonnegative_integer
        return constraints.Constraint(
            "an integer in [0, total_count]", lambda a: (a == np.floor(a)) & (a >= 0) & (a <= n))

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return clip(floor((self.total_count + 1) * self.probs), None, self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=(), *, rng=None):
        """Counts drawn by the native generator's binomial sampler from ``rng``."""
        return draw_counts(self, sample_shape, rng,
                           lambda g, n, p: g.binomial(n.astype("int64"), p),
                           self.total_count, self.probs)

    def log_prob(self, value):
        value = self._value(value)
        n = self.total_count
        return value * self.logits - n * softplus(self.logits) + gammaln(n + 1) \
            - gammaln(value + 1) - gammaln(n - value + 1)

    def entropy(self):
        """``-sum_k p(k) log p(k)`` over ``k = 0..total_count``. Under ``xg.function`` it is
        traced where ``total_count`` was given as a Python number (a tensor's count would be
        read to size the sum, which a replay cannot repeat: TraceError).

        >>> import xpgrad as xg
        >>> round(float(xg.distributions.Binomial(2, probs=0.5).entropy()), 6)  # 1.5 log 2
        1.039721
        """
        top = self._count_top()
        k = reshape(arange(top + 1, dtype=self.dtype, backend=self.backend),
                    (top + 1,) + (1,) * len(self._batch_shape))
        log_p = self._unchecked(k)                   # every k in 0..total_count is valid
        return -_sum(exp(log_p) * log_p, axis=0)

    def _count_top(self) -> int:
        """The one ``total_count`` of the batch, as an int, for ``entropy``."""
        if self._count_number is not None:
            return int(self._count_number)
        from ..jit.errors import TraceError, user_line
        from ..jit.traced import Traced

        raw = self.total_count._data
        if type(raw) is Traced and raw._tracer.active:
            raise TraceError("Binomial.entropy inside xg.function needs total_count as a "
                             "Python number (Binomial(5, ...)): a tensor total_count is read to "
                             "size the sum over 0..total_count, which a replay cannot repeat",
                             user_line())
        counts = stop_gradient(self.total_count).numpy()
        top = int(counts.max()) if counts.size else 0
        if counts.size and counts.min() != top:
            raise NotImplementedError("Binomial.entropy: total_count must be the same for the "
                                      "whole batch (as PyTorch's), got several values")
        return top

    def _unchecked(self, value):
        checking, self._validate_args = self._validate_args, False
        try:
            return self.log_prob(value)
        finally:
            self._validate_args = checking
