"""``OneHotCategorical(probs=None, logits=None)``: a ``Categorical`` whose draws are one-hot
vectors over the ``K`` classes (the event), sampled without gradient.

>>> import xpgrad as xg
>>> d = xg.distributions.OneHotCategorical(probs=xg.asarray([0.2, 0.3, 0.5]))
>>> d.event_shape, d.sample((2,), rng=0).shape, d.mode.tolist()
((3,), (2, 3), [0.0, 0.0, 1.0])
>>> d.log_prob(xg.asarray([1.0, 1.0, 0.0]))        # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: OneHotCategorical.log_prob: value must be one-hot along the last axis ...
"""
from __future__ import annotations

from ..ops import argmax, astype, one_hot
from . import constraints
from .bernoulli import one_of
from .categorical import Categorical
from .distribution import Distribution, as_params


class CategoricalWithin:
    """``expand``, ``probs`` and ``logits`` of a distribution over the classes of the
    ``Categorical`` it holds as ``_categorical`` (OneHotCategorical's and
    ExpRelaxedCategorical's)."""

    def expand(self, batch_shape):
        """The ``Categorical`` within broadcast to ``batch_shape``.

        >>> OneHotCategorical(logits=[0.0, 1.0]).expand((3,)).sample(rng=0).shape
        (3, 2)
        """
        new = self._expanded_copy(batch_shape)
        new._categorical = self._categorical.expand(new.batch_shape)
        return new

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits


class OneHotCategorical(CategoricalWithin, Distribution):
    """PyTorch's ``OneHotCategorical(probs=None, logits=None)``: the parameter as
    ``Categorical``'s (the last axis the classes); values are one-hot float vectors, so
    ``event_shape`` is ``(K,)``. ``mean`` is ``probs``, ``mode`` the one-hot of the likeliest
    class."""

    arg_constraints = {"probs": constraints.unnormalized_simplex,
                       "logits": constraints.real_vector}
    support = constraints.one_hot

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, given = one_of("OneHotCategorical", probs, logits)
        _, _, p = as_params("OneHotCategorical", {name: 1}, **{name: given})
        if self._validating(validate_args):
            checked = constraints.unnormalized_simplex if name == "probs" else \
                constraints.real_vector
            constraints.require("OneHotCategorical", name, checked, p[name])
        self._categorical = Categorical(**{name: p[name]}, validate_args=False)
        self.backend, self.dtype = self._categorical.backend, self._categorical.dtype
        super().__init__(self._categorical.batch_shape, (self._categorical._num_events,),
                         validate_args=validate_args)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return astype(one_hot(argmax(self.probs, axis=-1), self._event_shape[0]), self.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=(), *, rng=None):
        """One-hot vectors of ``Categorical`` draws from ``rng``, cut from the tapes."""
        index = self._categorical.sample(sample_shape, rng=rng)
        return astype(one_hot(index, self._event_shape[0]), self.dtype)

    def log_prob(self, value):
        value = self._value(value)
        return self._categorical.log_prob(argmax(value, axis=-1))

    def entropy(self):
        return self._categorical.entropy()

    def __repr__(self):
        return f"OneHotCategorical({self._categorical!r})"
