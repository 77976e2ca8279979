"""Probability distributions, differentiable: ``xg.distributions`` (the part of
``torch.distributions`` that VAEs, policy gradients and probabilistic regression use).

Families: ``Normal``, ``Laplace``, ``Exponential``, ``Uniform``, ``MultivariateNormal``
(``scale_tril``, ``covariance_matrix`` or ``precision_matrix``), and the gamma family
``Gamma``, ``Chi2``, ``Beta`` and ``Dirichlet``, each with a reparameterized ``rsample`` (the
gamma family's by implicit reparameterization: a draw moves with its concentration along its
fixed CDF); ``Bernoulli`` and ``Categorical`` (``probs=`` or ``logits=``), sampled without
gradient; ``Independent`` to make batch axes event axes; ``TransformedDistribution`` (a base
pushed through ``transforms``: ``ExpTransform``, ``AffineTransform``, ``SigmoidTransform``,
``TanhTransform``, ``SoftmaxTransform``, ``SoftplusTransform``, ``PowerTransform``,
``ComposeTransform``; ``transform_to(constraint)`` and ``biject_to`` map the reals onto a
constraint's set, for constrained parameters) and
``LogNormal``, one of them; ``MixtureSameFamily`` (a ``Categorical`` mixture of ``K``
components of one family). More families, as PyTorch's: ``Cauchy``, ``HalfNormal``,
``HalfCauchy``, ``Gumbel`` and ``StudentT`` (reparameterized; StudentT through a ``Chi2``
draw), the counts ``Poisson``, ``Binomial`` and ``Geometric`` and the one-hot
``OneHotCategorical`` (sampled without gradient), and the Gumbel-softmax relaxations
``RelaxedBernoulli`` and ``RelaxedOneHotCategorical`` (with their logs
``LogitRelaxedBernoulli`` and ``ExpRelaxedCategorical``), whose ``rsample`` is differentiable
in the logits and the temperature. Each has ``sample``, ``log_prob``, ``expand(batch_shape)``,
``batch_shape``, ``event_shape``, and where PyTorch's has them ``entropy``, ``mean``, ``mode``,
``variance``, ``stddev`` (Normal, Laplace, Exponential, Uniform, Cauchy, HalfNormal,
HalfCauchy and Gumbel also ``cdf`` and ``icdf``; Gamma and Chi2 ``cdf``), and
``kl_divergence(p, q)`` covers each family with itself and PyTorch's simple mixed pairs
(``register_kl`` adds pairs). Draws take
``rng=`` (an ``xg.random.Generator``, an int seed or None), so they are reproducible and the
same on the numpy and numba backends.

>>> import xpgrad as xg
>>> D = xg.distributions
>>> mu = xg.Variable(xg.asarray([0.0, 0.0]), name="mu")
>>> rng = xg.random.default_rng(0)
>>> with xg.GradientTape() as tape:
...     z = D.Normal(mu, 1.0).rsample((1000,), rng=rng)     # gradients flow to mu
...     loss = xg.mean(xg.sum((z - 3.0) ** 2, axis=-1))
>>> [round(g, 1) for g in tape.gradient(loss, [mu])[0].tolist()]
[-6.0, -6.0]
"""
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .constraint_registry import biject_to, transform_to
from .cauchy import Cauchy
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Chi2, Gamma
from .geometric import Geometric
from .gumbel import Gumbel
from .half_distributions import HalfCauchy, HalfNormal
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .log_normal import LogNormal
from .mixture_same_family import MixtureSameFamily
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .poisson import Poisson
from .relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli
from .relaxed_categorical import ExpRelaxedCategorical, RelaxedOneHotCategorical
from .student_t import StudentT
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform
from . import constraints, kl_more_pairs, transforms

__all__ = ["Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "Dirichlet",
           "Distribution", "ExpRelaxedCategorical", "Exponential", "Gamma", "Geometric",
           "Gumbel", "HalfCauchy", "HalfNormal", "Independent", "Laplace", "LogNormal",
           "LogitRelaxedBernoulli", "MixtureSameFamily", "MultivariateNormal", "Normal",
           "OneHotCategorical", "Poisson", "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT",
           "TransformedDistribution", "Uniform", "biject_to", "constraints", "kl_divergence",
           "register_kl", "transform_to", "transforms"]
