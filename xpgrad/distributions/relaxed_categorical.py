"""``RelaxedOneHotCategorical(temperature, probs=None, logits=None)``: the Concrete
(Gumbel-softmax) relaxation of a one-hot draw, points of the simplex that approach one-hot
vectors as ``temperature`` falls, with a reparameterized sampler differentiable in the logits
and the temperature; ``ExpRelaxedCategorical`` is its logarithm, PyTorch's pair.

>>> import xpgrad as xg
>>> d = xg.distributions.RelaxedOneHotCategorical(0.1, logits=xg.asarray([0.0, 0.0, 3.0]))
>>> y = d.rsample((1000,), rng=0)
>>> y.shape, round(float(xg.mean(xg.max(y, axis=-1))), 1)            # nearly one-hot
((1000, 3), 1.0)
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import expand_dims, log, logsumexp
from ..ops import sum as _sum
from . import constraints
from .bernoulli import clamp_probs
from .categorical import Categorical
from .distribution import Distribution
from .one_hot_categorical import CategoricalWithin
from .relaxed_bernoulli import RelaxedParameters, relaxed_params
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform


def temperature_layout(who, temperature, batch_shape):
    """``(per distribution, per class)``: ``temperature`` as one value per distribution of
    the batch (its shape broadcasts to ``batch_shape``) and with a class axis added to divide
    the scores; PyTorch's layout, a trailing axis of 1 before which the shape broadcasts to
    ``batch_shape`` (``(2, 1)`` for a batch of 2), is read the same. Else ValueError."""
    shape = tuple(temperature.shape)

    def fits(s):
        try:
            return tuple(np.broadcast_shapes(s, batch_shape)) == tuple(batch_shape)
        except ValueError:
            return False

    if fits(shape):
        return temperature, (expand_dims(temperature, axis=-1) if shape else temperature)
    if shape and shape[-1] == 1 and fits(shape[:-1]):
        return temperature[..., 0], temperature
    raise ValueError(f"{who}: temperature of shape {shape} must broadcast to the batch shape "
                     f"{tuple(batch_shape)} (one temperature per distribution; PyTorch's "
                     f"layout with a trailing axis of 1 is taken too), got one that does not")


class ExpRelaxedCategorical(CategoricalWithin, Distribution):
    """PyTorch's ``ExpRelaxedCategorical(temperature, probs=None, logits=None)``: the log of a
    ``RelaxedOneHotCategorical`` draw, ``log_softmax((logits + g) / temperature)`` for ``g``
    standard Gumbel noise; the parameter's last axis is the event (``K`` classes),
    ``temperature > 0``: a number, or one per distribution (a shape that broadcasts to the
    batch shape, not into a larger one; PyTorch's ``batch_shape + (1,)`` layout is read the
    same), as ``temperature_layout`` says.

    >>> import xpgrad as xg
    >>> d = ExpRelaxedCategorical(xg.asarray([0.5, 2.0]), logits=xg.zeros((2, 3)))
    >>> d.rsample((4,), rng=0).shape, d.log_prob(d.rsample(rng=0)).shape
    ((4, 2, 3), (2,))
    """

    arg_constraints = {"probs": constraints.unnormalized_simplex,
                       "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        who = type(self).__name__
        self.backend, self.dtype, self.temperature, name, given = relaxed_params(
            who, temperature, probs, logits, self._validating(validate_args),
            self.arg_constraints, event_ndims=1)
        self._categorical = Categorical(**{name: given}, validate_args=False)
        self._batch_temperature, self._class_temperature = temperature_layout(
            who, self.temperature, self._categorical.batch_shape)
        super().__init__(self._categorical.batch_shape, (self._categorical._num_events,),
                         validate_args=validate_args)

    def rsample(self, sample_shape=(), *, rng=None):
        """``s - logsumexp(s)``, ``s = (logits - log(-log u)) / temperature``, ``u`` uniform
        from ``rng`` clamped to ``[eps, 1 - eps]`` (PyTorch's)."""
        u = clamp_probs(self._noise(lambda g, shape, dt: g.random(shape, dtype=dt),
                                    sample_shape, rng))
        scores = (self.logits - log(-log(u))) / self._class_temperature
        return scores - logsumexp(scores, axis=-1, keepdims=True)

    def log_prob(self, value):
        value = self._value(value)
        k = self._event_shape[0]
        log_scale = math.lgamma(k) + (k - 1) * log(self._batch_temperature)
        score = self.logits - value * self._class_temperature
        return _sum(score - logsumexp(score, axis=-1, keepdims=True), axis=-1) + log_scale


class RelaxedOneHotCategorical(RelaxedParameters, TransformedDistribution):
    """PyTorch's ``RelaxedOneHotCategorical(temperature, probs=None, logits=None)``: the exp
    of an ``ExpRelaxedCategorical`` draw, a point of the simplex; ``temperature > 0``."""

    arg_constraints = {"probs": constraints.unnormalized_simplex,
                       "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        who = "RelaxedOneHotCategorical"
        _, _, t, name, given = relaxed_params(who, temperature, probs, logits,
                                              self._validating(validate_args),
                                              self.arg_constraints, event_ndims=1)
        temperature_layout(who, t, tuple(given.shape[:-1]))
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)
