"""``MixtureSameFamily(mixture_distribution, component_distribution)``: a mixture of ``K``
components of one family, weighted by a ``Categorical`` over the component distribution's
rightmost batch axis (PyTorch's ``torch.distributions.MixtureSameFamily``; a mixture density
network's head, a Gaussian mixture model's likelihood).

``log_prob`` is the logsumexp over the components of ``log w_k + log p_k(x)``, differentiable in
the weights and every component parameter; ``mean`` and ``variance`` (the law of total variance)
and, for a component family with one, ``cdf`` are the weighted sums. No ``rsample``: the
component index is discrete, as in PyTorch; train through ``log_prob``.

>>> import xpgrad as xg
>>> D = xg.distributions
>>> mix = D.MixtureSameFamily(D.Categorical(logits=xg.zeros(2)),
...                           D.Normal(xg.asarray([-1.0, 1.0]), 0.5))
>>> mix.batch_shape, mix.event_shape, round(float(mix.mean), 6), round(float(mix.variance), 6)
((), (), 0.0, 1.25)
>>> round(float(mix.log_prob(1.0)), 4)               # log(0.5 N(1; -1, .5) + 0.5 N(1; 1, .5))
-0.9186
>>> mix.sample((4, 3), rng=0).shape
(4, 3)
"""
from __future__ import annotations

import numpy as np

from ..backend import MixedBackendError
from ..nn.init._common import as_rng, check_rng
from ..ops import broadcast_to, expand_dims, log_softmax, logsumexp, reshape, squeeze
from ..ops import sum as _sum
from ..ops import take_along_axis
from .categorical import Categorical
from .distribution import Distribution, sample_shape_arg


class MixtureSameFamily(Distribution):
    """PyTorch's ``MixtureSameFamily(mixture_distribution, component_distribution)``.

    ``mixture_distribution`` is a ``Categorical`` over ``K`` components (its batch shape
    broadcasting, right-aligned as NumPy's, to the component distribution's batch shape
    without its last axis); ``component_distribution`` is any distribution whose rightmost
    batch axis has the ``K`` components (``Normal(mu, sigma)`` with ``mu`` of shape
    ``(..., K)``; ``Independent(Normal(mu, sigma), 1)`` with ``mu`` of shape ``(..., K, D)``
    for mixtures over vectors). ``batch_shape`` is the component batch shape without ``K``,
    ``event_shape`` the component's.

    >>> import xpgrad as xg
    >>> D = xg.distributions
    >>> mix = D.MixtureSameFamily(D.Categorical(logits=xg.zeros((5, 3))),      # 5 mixtures of
    ...                           D.Independent(D.Normal(xg.zeros((5, 3, 2)), 1.0), 1))  # 3 in 2-D
    >>> mix.batch_shape, mix.event_shape, mix.log_prob(xg.zeros((5, 2))).shape
    ((5,), (2,), (5,))
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        who = "MixtureSameFamily"
        if not isinstance(mixture_distribution, Categorical):
            raise TypeError(f"{who}: mixture_distribution must be an "
                            f"xg.distributions.Categorical, got "
                            f"{type(mixture_distribution).__name__}")
        if not isinstance(component_distribution, Distribution):
            raise TypeError(f"{who}: component_distribution must be an xg.distributions "
                            f"Distribution, got {type(component_distribution).__name__}")
        components = component_distribution.batch_shape
        if not components:
            raise ValueError(f"{who}: component_distribution needs a batch axis for the "
                             f"components (its rightmost), got batch_shape ()")
        k = mixture_distribution.probs.shape[-1] if "probs" in mixture_distribution.__dict__ \
            else mixture_distribution.logits.shape[-1]
        if k != components[-1]:
            raise ValueError(f"{who}: mixture_distribution has {k} components but "
                             f"component_distribution.batch_shape[-1] is {components[-1]} "
                             f"(batch_shape {components})")
        batch, mixture_batch = components[:-1], mixture_distribution.batch_shape
        try:
            fits = tuple(np.broadcast_shapes(mixture_batch, batch)) == batch
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{who}: mixture_distribution.batch_shape {mixture_batch} does "
                             f"not broadcast to component_distribution.batch_shape without "
                             f"its last axis, {batch}")
        if mixture_distribution.backend is not component_distribution.backend:
            raise MixedBackendError(
                f"{who}: mixture_distribution is on {mixture_distribution.backend.name}, "
                f"component_distribution on {component_distribution.backend.name}; make "
                f"their parameters on one backend")
        self.mixture_distribution = mixture_distribution
        self.component_distribution = component_distribution
        self.backend, self.dtype = component_distribution.backend, component_distribution.dtype
        self._num_component = k
        super().__init__(batch, component_distribution.event_shape,
                         validate_args=validate_args)

    @property
    def support(self):
        return self.component_distribution.support

    def _weights_shape(self, weights):
        """``weights`` (mixture batch + (K,)) with one axis per event axis appended, to
        broadcast against the components' ``batch + (K,) + event`` values."""
        return reshape(weights, tuple(weights.shape) + (1,) * len(self._event_shape))

    def _pad(self, value):
        """A value ``sample + batch + event`` given the component axis before the event."""
        return expand_dims(value, axis=-1 - len(self._event_shape))

    @property
    def mean(self):
        probs = self._weights_shape(self.mixture_distribution.probs)
        return _sum(probs * self.component_distribution.mean, axis=-1 - len(self._event_shape))

    @property
    def variance(self):
        """The law of total variance: E[Var(Y | k)] + Var(E[Y | k])."""
        axis = -1 - len(self._event_shape)
        probs = self._weights_shape(self.mixture_distribution.probs)
        components = self.component_distribution
        within = _sum(probs * components.variance, axis=axis)
        between = _sum(probs * (components.mean - self._pad(self.mean)) ** 2, axis=axis)
        return within + between

    def log_prob(self, value):
        value = self._value(value)
        log_components = self.component_distribution.log_prob(self._pad(value))  # [S, B, K]
        log_weights = log_softmax(self.mixture_distribution.logits, axis=-1)      # [B, K]
        return logsumexp(log_components + log_weights, axis=-1)

    def cdf(self, value):
        value = self._value(value, "cdf")
        return _sum(self.component_distribution.cdf(self._pad(value))
                    * self.mixture_distribution.probs, axis=-1)

    def sample(self, sample_shape=(), *, rng=None):
        """A component index drawn from the mixture, then that component's draw: shape
        ``sample_shape + batch_shape + event_shape``, cut from the tapes. ``rng`` as in
        ``Distribution.sample``; one generator feeds both draws (the indices first)."""
        sample_shape = sample_shape_arg(sample_shape)
        gen = as_rng(check_rng(rng, "MixtureSameFamily.sample"), self.backend)
        index = self.mixture_distribution.sample(sample_shape, rng=gen)    # [S, mixture B]
        draws = self.component_distribution.sample(sample_shape, rng=gen)  # [S, B, K, E]
        event = self._event_shape
        lead = sample_shape + self._batch_shape
        index = reshape(broadcast_to(index, lead), lead + (1,) * (1 + len(event)))
        index = broadcast_to(index, lead + (1,) + event)
        axis = -1 - len(event)
        return squeeze(take_along_axis(draws, index, axis=axis), axis=axis)

    def expand(self, batch_shape):
        new = self._expanded_copy(batch_shape)
        new.component_distribution = self.component_distribution.expand(
            new.batch_shape + (self._num_component,))
        new.mixture_distribution = self.mixture_distribution.expand(new.batch_shape)
        return new

    def __repr__(self):
        return (f"MixtureSameFamily({self.mixture_distribution!r}, "
                f"{self.component_distribution!r})")
