"""``RelaxedBernoulli(temperature, probs=None, logits=None)``: the Concrete (Gumbel-softmax)
relaxation of a coin, values in (0, 1) that approach 0/1 draws as ``temperature`` falls, with
a reparameterized sampler differentiable in the logits and the temperature;
``LogitRelaxedBernoulli`` is its logit, PyTorch's pair.

>>> import xpgrad as xg
>>> logits = xg.Variable(xg.asarray([0.0, 2.0]), name="logits")
>>> with xg.GradientTape() as tape:
...     y = xg.distributions.RelaxedBernoulli(0.5, logits=logits).rsample((4,), rng=0)
...     loss = xg.sum(y)
>>> y.shape, all(g > 0 for g in tape.gradient(loss, [logits])[0].tolist())
((4, 2), True)
>>> xg.distributions.RelaxedBernoulli(-1.0, probs=0.5)
Traceback (most recent call last):
...
ValueError: RelaxedBernoulli: temperature must be > 0, got invalid values [-1.0]
"""
from __future__ import annotations

from ..ops import log, log1p, softplus
from . import constraints
from .bernoulli import BinaryParameters, clamp_probs, one_of
from .distribution import Distribution, as_params, broadcast_all
from .transformed_distribution import TransformedDistribution
from .transforms import SigmoidTransform


def relaxed_params(who, temperature, probs, logits, validate_args, arg_constraints,
                   event_ndims=0):
    """``(backend, dtype, temperature, name, parameter)``: the temperature (checked > 0 when
    validating, which PyTorch leaves unchecked) and ``probs`` or ``logits`` (checked against
    ``arg_constraints``), one dtype."""
    name, given = one_of(who, probs, logits)
    backend, dtype, p = as_params(who, {name: event_ndims}, temperature=temperature,
                                  **{name: given})
    if validate_args:
        constraints.require(who, "temperature", constraints.positive, p["temperature"])
        constraints.require(who, name, arg_constraints[name], p[name])
    return backend, dtype, p["temperature"], name, p[name]


class LogitRelaxedBernoulli(BinaryParameters, Distribution):
    """PyTorch's ``LogitRelaxedBernoulli(temperature, probs=None, logits=None)``: the logit of
    a ``RelaxedBernoulli`` draw, ``(logit(u) + logits) / temperature`` for ``u`` uniform;
    ``temperature > 0`` (not broadcast into the batch, as PyTorch's)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        who = type(self).__name__
        self.backend, self.dtype, self.temperature, name, given = relaxed_params(
            who, temperature, probs, logits, self._validating(validate_args),
            self.arg_constraints)
        shape, p = broadcast_all(who, {name: given})
        setattr(self, name, p[name])
        super().__init__(shape, validate_args=validate_args)

    def rsample(self, sample_shape=(), *, rng=None):
        """``(log u - log(1 - u) + log p - log(1 - p)) / temperature``, ``u`` uniform from
        ``rng`` and both ``u`` and ``p`` clamped to ``[eps, 1 - eps]`` (PyTorch's)."""
        u = clamp_probs(self._noise(lambda g, shape, dt: g.random(shape, dtype=dt),
                                    sample_shape, rng))
        p = clamp_probs(self.probs)
        return (log(u) - log1p(-u) + log(p) - log1p(-p)) / self.temperature

    def log_prob(self, value):
        value = self._value(value)
        diff = self.logits - value * self.temperature
        return log(self.temperature) + diff - 2 * softplus(diff)


class RelaxedParameters:
    """``temperature``, ``logits`` and ``probs`` of a relaxed distribution, read from its
    ``base_dist``, the log-space distribution it transforms (RelaxedBernoulli's and
    RelaxedOneHotCategorical's)."""

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs


class RelaxedBernoulli(RelaxedParameters, TransformedDistribution):
    """PyTorch's ``RelaxedBernoulli(temperature, probs=None, logits=None)``: the sigmoid of a
    ``LogitRelaxedBernoulli`` draw, values in (0, 1); ``temperature > 0``."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        relaxed_params("RelaxedBernoulli", temperature, probs, logits,
                       self._validating(validate_args), self.arg_constraints)
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)
