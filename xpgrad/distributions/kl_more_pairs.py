"""The KL pairs of the counting, heavy-tailed and extreme-value families, PyTorch's formulas
(``torch.distributions.kl``), registered on import with ``register_kl``: Binomial, Geometric,
Poisson, OneHotCategorical, HalfNormal, Cauchy and Gumbel each with itself, and the mixed
pairs Bernoulli-Poisson, Exponential-, Gamma-, Normal- and Uniform-Gumbel, Gumbel-Normal, and
the infinite ones (Gumbel against a family on a half-line or an interval, Poisson against
Bernoulli or Binomial).

>>> import xpgrad as xg
>>> from xpgrad.distributions import Poisson, kl_divergence
>>> float(kl_divergence(Poisson(2.0), Poisson(2.0)))
0.0
"""
from __future__ import annotations

import math

from ..creation import full
from ..ops import exp, log, log1p, where
from ..special import gammaln, digamma, xlogy
from ..tape import stop_gradient
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .cauchy import Cauchy
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .gumbel import EULER_GAMMA, Gumbel
from .half_distributions import HalfNormal
from .kl import _kl_categorical_categorical, _kl_normal_normal, register_kl
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .poisson import Poisson
from .uniform import Uniform


def _infinite(p, q):
    """KL(p || q) is infinite where ``q`` misses part of ``p``'s support."""
    return full(p.batch_shape, math.inf, dtype=p.dtype, backend=p.backend)


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    n_p, n_q = p.total_count, q.total_count
    if bool((stop_gradient(n_p) < stop_gradient(n_q)).numpy().any()):
        raise NotImplementedError("kl_divergence: Binomials where q's total_count exceeds "
                                  "p's (as PyTorch's)")
    kl = n_p * (p.probs * (p.logits - q.logits) + log1p(-p.probs) - log1p(-q.probs))
    return where(n_p > n_q, math.inf, kl)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - log1p(-q.probs) / p.probs - q.logits


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    # xlogy twice, not of p / q: 0 at p = q = 0 (0 / 0 would be NaN), inf at q = 0 < p
    return xlogy(p.rate, p.rate) - xlogy(p.rate, q.rate) - (p.rate - q.rate)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_one_hot_categorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(HalfNormal, HalfNormal)
def _kl_half_normal_half_normal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return log((p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2) - log(4 * p.scale * q.scale)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ratio = p.scale / q.scale
    q_loc, p_loc = q.loc / q.scale, p.loc / q.scale
    return -log(ratio) - q_loc + p_loc + ratio * EULER_GAMMA \
        + exp(q_loc + gammaln(1 + ratio) - p_loc) - (1 + EULER_GAMMA)


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * log(q.rate) - q.rate)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    rate_scale = p.rate * q.scale
    q_loc = q.loc / q.scale
    return log(rate_scale) - 1 - q_loc + exp(q_loc) * rate_scale / (rate_scale + 1) \
        + 1 / rate_scale


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    c, rate_scale, q_loc = p.concentration, p.rate * q.scale, q.loc / q.scale
    return (c - 1) * digamma(c) - gammaln(c) - c + log(rate_scale) + c / rate_scale \
        + exp(q_loc) * (1 + 1 / rate_scale) ** -c - q_loc


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_ratio, q_loc = p.loc / q.scale, q.loc / q.scale
    var_ratio = (p.scale / q.scale) ** 2
    return -0.5 * log(var_ratio) + mean_ratio - q_loc \
        + exp(-mean_ratio + 0.5 * var_ratio + q_loc) - 0.5 * (1 + math.log(2 * math.pi))


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    ratio = p.scale / q.scale
    return -log(ratio / math.sqrt(2 * math.pi)) + (math.pi * ratio * 0.5) ** 2 / 3 \
        + ((p.loc + p.scale * EULER_GAMMA - q.loc) / q.scale) ** 2 * 0.5 - (EULER_GAMMA + 1)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    ratio = q.scale / (p.high - p.low)
    high, low = (p.high - q.loc) / q.scale, (p.low - q.loc) / q.scale
    return log(ratio) + 0.5 * (high + low) - ratio * (exp(-high) - exp(-low))


for _q in (Beta, Exponential, Gamma, Uniform):
    register_kl(Gumbel, _q)(_infinite)
for _q in (Bernoulli, Binomial):
    register_kl(Poisson, _q)(_infinite)
