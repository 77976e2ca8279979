"""``kl_divergence(p, q)``: KL(p || q) for the pairs registered with ``register_kl``, PyTorch's
formulas (``torch.distributions.kl``), differentiable in both distributions' parameters.

Registered: Normal, Bernoulli, Categorical, MultivariateNormal, Laplace, Exponential,
Uniform, Gamma, Beta and Dirichlet each with itself (Chi2 as the Gamma it is), and
Independent with Independent (same reinterpreted axes), TransformedDistribution with
TransformedDistribution (equal transforms: the bases' KL, so LogNormal with LogNormal);
``kl_more_pairs`` adds the counting, heavy-tailed and Gumbel families' pairs. The most specific registered pair wins for
subclasses; a pair not registered is NotImplementedError, as PyTorch's.

>>> import xpgrad as xg
>>> from xpgrad.distributions import Normal, kl_divergence
>>> mu = xg.Variable(xg.asarray([0.5, -1.0]), name="mu")
>>> with xg.GradientTape() as tape:                   # a VAE's KL term against N(0, 1)
...     kl = xg.sum(kl_divergence(Normal(mu, 1.0), Normal(0.0, 1.0)))
>>> float(kl), tape.gradient(kl, [mu])[0].tolist()
(0.625, [0.5, -1.0])
"""
from __future__ import annotations

import math

from numpy import broadcast_shapes

from ..linalg import solve
from ..ops import abs as _abs
from ..ops import broadcast_to, exp, log, log_sigmoid, tril, where
from ..ops import sum as _sum
from ..special import digamma, gammaln
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical
from .dirichlet import Dirichlet
from .distribution import Distribution, sum_rightmost
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal, mahalanobis
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform

#: {(type of p, type of q): function(p, q)}
KL_REGISTRY: dict = {}
_MEMO: dict = {}


def register_kl(type_p, type_q):
    """Decorator: register ``fn(p, q)`` as KL(p || q) for ``p`` of ``type_p`` and ``q`` of
    ``type_q`` (subclasses included), PyTorch's ``register_kl``.

    >>> class Half(Normal):
    ...     pass
    >>> @register_kl(Half, Half)
    ... def _kl_half(p, q):
    ...     return kl_divergence(Normal(p.loc, p.scale), Normal(q.loc, q.scale)) / 2
    >>> float(kl_divergence(Half(0.0, 1.0), Half(1.0, 1.0)))
    0.25
    """
    for name, t in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(f"register_kl: {name} must be a subclass of Distribution, got "
                            f"{t!r}")

    def decorator(fn):
        KL_REGISTRY[type_p, type_q] = fn
        _MEMO.clear()
        return fn
    return decorator


def _dispatch(type_p, type_q):
    if (type_p, type_q) not in _MEMO:
        matches = [(type_p.__mro__.index(p), type_q.__mro__.index(q), p, q)
                   for p, q in KL_REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
        _MEMO[type_p, type_q] = KL_REGISTRY[min(matches)[2:]] if matches else None
    return _MEMO[type_p, type_q]


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p(x) - log q(x)], one value per element of the broadcast batch
    shape; batch shapes that do not broadcast are a ValueError naming both.

    >>> from xpgrad.distributions import Gamma
    >>> kl_divergence(Gamma([1.0, 2.0], 1.0), Gamma([1.0, 2.0, 3.0], 1.0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: kl_divergence: p's batch_shape (2,) and q's batch_shape (3,) do not ...
    """
    for name, d in (("p", p), ("q", q)):
        if not isinstance(d, Distribution):
            raise TypeError(f"kl_divergence: {name} must be a Distribution, got "
                            f"{type(d).__name__}")
    try:
        broadcast_shapes(p.batch_shape, q.batch_shape)
    except ValueError:
        raise ValueError(f"kl_divergence: p's batch_shape {p.batch_shape} and q's batch_shape "
                         f"{q.batch_shape} do not broadcast together") from None
    fn = _dispatch(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"kl_divergence: no KL registered for {type(p).__name__} "
                                  f"and {type(q).__name__} (register_kl adds one)")
    return fn(p, q)


def _softplus(x):
    return -log_sigmoid(-x)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - log(var_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (_softplus(-q.logits) - _softplus(-p.logits))
    t1 = where(p.probs == 0, 0.0, where(q.probs == 0, math.inf, t1))
    t2 = (1 - p.probs) * (_softplus(q.logits) - _softplus(p.logits))
    t2 = where(p.probs == 1, 0.0, where(q.probs == 1, math.inf, t2))
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    shape = tuple(t.shape)
    t = where(broadcast_to(p.probs == 0, shape), 0.0,
              where(broadcast_to(q.probs == 0, shape), math.inf, t))
    return _sum(t, axis=-1)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: MultivariateNormals of different event shapes "
                         f"{p.event_shape} and {q.event_shape}")
    half_term1 = q._half_log_det() - p._half_log_det()
    term2 = _sum(solve(tril(q._tril), p._tril) ** 2, axis=(-2, -1))   # tr(Sq^-1 Sp)
    term3 = mahalanobis(q._tril, q.loc - p.loc)
    return half_term1 + 0.5 * (term2 + term3 - p.event_shape[0])


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(f"kl_divergence: Independents of different "
                                  f"reinterpreted_batch_ndims ({p.reinterpreted_batch_ndims} "
                                  f"and {q.reinterpreted_batch_ndims})")
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = _abs(p.loc - q.loc)
    return -log(scale_ratio) + loc_abs_diff / q.scale \
        + scale_ratio * exp(-loc_abs_diff / p.scale) - 1


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return -log(rate_ratio) + rate_ratio - 1


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = log((q.high - q.low) / (p.high - p.low))
    return where((q.low > p.low) | (q.high < p.high), math.inf, result)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    return q.concentration * log(p.rate / q.rate) + gammaln(q.concentration) \
        - gammaln(p.concentration) \
        + (p.concentration - q.concentration) * digamma(p.concentration) \
        + (q.rate - p.rate) * (p.concentration / p.rate)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    total_p = p.concentration1 + p.concentration0
    total_q = q.concentration1 + q.concentration0
    log_norms = gammaln(q.concentration1) + gammaln(q.concentration0) + gammaln(total_p) \
        - gammaln(p.concentration1) - gammaln(p.concentration0) - gammaln(total_q)
    return log_norms + (p.concentration1 - q.concentration1) * digamma(p.concentration1) \
        + (p.concentration0 - q.concentration0) * digamma(p.concentration0) \
        + (total_q - total_p) * digamma(total_p)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: Dirichlets of different event shapes "
                         f"{p.event_shape} and {q.event_shape}")
    total_p = _sum(p.concentration, axis=-1)
    log_norms = gammaln(total_p) - gammaln(_sum(q.concentration, axis=-1)) \
        - _sum(gammaln(p.concentration) - gammaln(q.concentration), axis=-1)
    expected_logs = digamma(p.concentration) - digamma(total_p)[..., None]
    return log_norms + _sum((p.concentration - q.concentration) * expected_logs, axis=-1)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    """The bases' KL where both push them through equal transforms (KL is unchanged by a
    bijection), summed over the event axes the transforms add; PyTorch's."""
    if p.transforms != q.transforms:
        raise NotImplementedError(f"kl_divergence: {type(p).__name__} and {type(q).__name__} "
                                  f"with different transforms")
    if p.event_shape != q.event_shape:
        raise NotImplementedError(f"kl_divergence: {type(p).__name__} and {type(q).__name__} "
                                  f"of different event shapes {p.event_shape} and "
                                  f"{q.event_shape}")
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist),
                         len(p.event_shape) - len(p.base_dist.event_shape))
