"""Draws of the families added after the first set: rsample on the generator's own noise
against torch's formulas on that noise (values and gradients, float64), sample statistics of
20000 draws within a few standard errors (a fixed seed), shapes, and the errors that name a bad
argument."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
td = torch.distributions
D = xg.distributions
R = np.random.default_rng(23)
N = 20000
SHAPE = (6, 3)                                            # sample_shape + batch_shape (3,)


def _noise(draw):
    """The float64 noise a seed-5 generator gives first, as rsample((6,), rng=5) draws it."""
    return draw(xg.random.default_rng(5)).numpy()


# -- rsample: the same noise through torch's formulas ----------------------------------------
def test_cauchy_and_half_cauchy_rsample_are_torchs_inverse_cdf_of_the_noise():
    u = torch.as_tensor(_noise(lambda g: g.random(SHAPE, dtype=xg.float64)))
    assert_matches_torch(lambda loc, s: D.Cauchy(loc, s).rsample((6,), rng=5),
                         lambda loc, s: td.Cauchy(loc, s).icdf(u),
                         [R.standard_normal(3), R.uniform(0.5, 2, 3)])
    assert_matches_torch(lambda s: D.HalfCauchy(s).rsample((6,), rng=5),
                         lambda s: td.Cauchy(torch.zeros(3, dtype=s.dtype), s).icdf(u).abs(),
                         [R.uniform(0.5, 2, 3)])


def test_gumbel_rsample_is_torchs_transforms_of_the_noise():
    tiny, eps = np.finfo(np.float64).tiny, np.finfo(np.float64).eps
    u = torch.as_tensor(_noise(lambda g: g.uniform(tiny, 1 - eps, SHAPE, dtype=xg.float64)))

    def theirs(loc, scale):
        x = u
        for t in td.Gumbel(loc, scale).transforms:
            x = t(x)
        return x
    assert_matches_torch(lambda loc, s: D.Gumbel(loc, s).rsample((6,), rng=5), theirs,
                         [R.standard_normal(3), R.uniform(0.5, 2, 3)])


def test_half_normal_rsample_is_the_absolute_scaled_noise():
    eps = torch.as_tensor(_noise(lambda g: g.standard_normal(SHAPE, dtype=xg.float64)))
    assert_matches_torch(lambda s: D.HalfNormal(s).rsample((6,), rng=5),
                         lambda s: td.transforms.AbsTransform()(eps * s), [R.uniform(0.5, 2, 3)])


def test_relaxed_bernoulli_rsample_is_torchs_formula_on_the_noise():
    u = torch.as_tensor(_noise(lambda g: g.random(SHAPE, dtype=xg.float64)))
    clamp = td.utils.clamp_probs

    def theirs(t, logits):
        p = clamp(td.RelaxedBernoulli(t, logits=logits).probs.expand(SHAPE))
        x = (clamp(u).log() - (-clamp(u)).log1p() + p.log() - (-p).log1p()) / t
        return td.transforms.SigmoidTransform()(x)
    assert_matches_torch(lambda t, l: D.RelaxedBernoulli(t, logits=l).rsample((6,), rng=5),
                         theirs, [R.uniform(0.3, 2, 3), R.standard_normal(3)])


def test_relaxed_one_hot_rsample_is_torchs_gumbel_softmax_on_the_noise():
    u = torch.as_tensor(_noise(lambda g: g.random((6, 2, 4), dtype=xg.float64)))

    def theirs(t, logits):
        gumbels = -(-td.utils.clamp_probs(u).log()).log()
        scores = (td.RelaxedOneHotCategorical(t, logits=logits).logits + gumbels) / t
        return (scores - scores.logsumexp(-1, keepdim=True)).exp()
    assert_matches_torch(
        lambda t, l: D.RelaxedOneHotCategorical(t, logits=l).rsample((6,), rng=5),
        theirs, [np.array(0.4), R.standard_normal((2, 4))])


@pytest.mark.parametrize("layout", [(2,), (2, 1)])
def test_relaxed_one_hot_per_distribution_temperature_is_torchs(layout):
    """One temperature per distribution, as a batch-shaped (2,) array or in torch's (2, 1)
    layout: rsample is torch's formula (which takes the (2, 1) layout) on the same noise, and
    log_prob is torch's for each distribution with its own temperature (torch's own log_prob
    fails with such a temperature), values and gradients."""
    u = torch.as_tensor(_noise(lambda g: g.random((6, 2, 4), dtype=xg.float64)))
    temps, logits = np.array([0.4, 1.7]), R.standard_normal((2, 4))

    def theirs(t, lg):
        gumbels = -(-td.utils.clamp_probs(u).log()).log()
        scores = (lg + gumbels) / t.reshape(2, 1)
        return (scores - scores.logsumexp(-1, keepdim=True)).exp()
    assert_matches_torch(
        lambda t, lg: D.RelaxedOneHotCategorical(xg.reshape(t, layout), logits=lg).rsample(
            (6,), rng=5), theirs, [temps, logits])
    value = D.RelaxedOneHotCategorical(0.5, logits=logits).sample((5,), rng=1).numpy()

    def theirs_log_prob(t, lg):
        return torch.stack([td.RelaxedOneHotCategorical(t[i], logits=lg[i]).log_prob(
            torch.as_tensor(value[:, i])) for i in range(2)], dim=-1)
    assert_matches_torch(
        lambda t, lg: D.RelaxedOneHotCategorical(xg.reshape(t, layout), logits=lg).log_prob(
            value), theirs_log_prob, [temps, logits])


@pytest.mark.parametrize("temperature", [np.ones(3), np.ones((2, 2)), np.ones((3, 1)),
                                         np.ones((4, 2))])
def test_relaxed_one_hot_temperature_that_does_not_fit_the_batch_is_named(temperature):
    for family in (D.RelaxedOneHotCategorical, D.ExpRelaxedCategorical):
        message = f"{family.__name__}: temperature of shape {temperature.shape} must " \
                  f"broadcast to the batch shape (2,)"
        with pytest.raises(ValueError, match=re.escape(message)):
            family(temperature, logits=np.zeros((2, 3)))


def test_student_t_rsample_is_normal_over_a_chi2_draw_from_the_same_generator():
    df, loc, scale = R.uniform(2, 9, 3), R.standard_normal(3), R.uniform(0.5, 2, 3)
    d = D.StudentT(xg.asarray(df), xg.asarray(loc), xg.asarray(scale))
    y = d.rsample((6,), rng=5).numpy()
    gen = xg.random.default_rng(5)
    x = gen.standard_normal(SHAPE, dtype=xg.float64).numpy()
    z = D.Chi2(xg.asarray(df)).rsample((6,), rng=gen).numpy()
    np.testing.assert_allclose(y, loc + scale * x / np.sqrt(z / df), rtol=1e-12)
    # loc and scale move the draw along fixed noise: finite differences apply
    check_grads(lambda a, b: D.StudentT(xg.asarray(df), a, b).rsample((4,), rng=7),
                [xg.asarray(loc), xg.asarray(scale)])


def test_student_t_df_gradient_is_unbiased_for_the_second_moment():
    """d/d df of E[y**2] = d/d df [df / (df - 2)] = -2 / (df - 2)**2, by the mean of the
    pathwise gradients through the Chi2 draw (implicit reparameterization); one df per draw,
    so the gradient holds each draw's own."""
    df = xg.Variable(xg.asarray(np.tile([6.0, 10.0], (N, 1))), name="df")
    with xg.GradientTape() as tape:
        loss = xg.sum(D.StudentT(df).rsample(rng=1) ** 2)
    per_draw = tape.gradient(loss, [df])[0].numpy()
    want = -2 / (np.array([6.0, 10.0]) - 2) ** 2
    _within(per_draw.mean(axis=0), want, per_draw.std(axis=0) / math.sqrt(N))


# -- sample statistics ------------------------------------------------------------------------
def _within(got, want, se, k=4.5):
    got, want, se = map(np.asarray, (got, want, se))
    assert np.all(np.abs(got - want) <= k * se), (got, want, se)


@pytest.mark.parametrize("family", ["cauchy", "half_cauchy", "half_normal", "gumbel"])
def test_continuous_draws_follow_their_cdf(family):
    make = {"cauchy": lambda: D.Cauchy(xg.asarray([0.0, 2.0]), xg.asarray([1.0, 0.5])),
            "half_cauchy": lambda: D.HalfCauchy(xg.asarray([1.0, 3.0])),
            "half_normal": lambda: D.HalfNormal(xg.asarray([0.5, 2.0])),
            "gumbel": lambda: D.Gumbel(xg.asarray([0.0, -1.0]), xg.asarray([1.0, 2.0]))}[family]
    d = make()
    x = d.sample((N,), rng=3).numpy()
    for q in (0.1, 0.5, 0.9):
        at = d.icdf(xg.full((2,), q)).numpy()
        _within((x <= at).mean(axis=0), q, math.sqrt(q * (1 - q) / N))


def test_student_t_draws_follow_scipys_quantiles():
    stats = pytest.importorskip("scipy.stats")
    df = np.array([1.5, 5.0])
    x = D.StudentT(xg.asarray(df), 1.0, 2.0).sample((N,), rng=4).numpy()
    for q in (0.1, 0.5, 0.9):
        _within((x <= 1.0 + 2.0 * stats.t.ppf(q, df)).mean(axis=0), q,
                math.sqrt(q * (1 - q) / N))


@pytest.mark.parametrize("family", ["poisson", "binomial", "geometric"])
def test_count_draws_have_their_mean_and_variance(family):
    d = {"poisson": lambda: D.Poisson(xg.asarray([0.5, 4.0, 30.0], dtype=xg.float64)),
         "binomial": lambda: D.Binomial(xg.asarray([1.0, 10.0, 40.0], dtype=xg.float64),
                                        probs=xg.asarray([0.3, 0.5, 0.8], dtype=xg.float64)),
         "geometric": lambda: D.Geometric(logits=xg.asarray([-1.5, 0.8, 3.0],
                                                            dtype=xg.float64))}[family]()
    x = d.sample((N,), rng=6)
    assert x.dtype == xg.float64 and x.shape == (N, 3)
    x = x.numpy()
    assert np.all(x == np.floor(x)) and np.all(x >= 0)
    mean, var = d.mean.numpy(), d.variance.numpy()
    _within(x.mean(axis=0), mean, np.sqrt(var / N))
    fourth = ((x - mean) ** 4).mean(axis=0)
    _within(x.var(axis=0), var, np.sqrt(np.maximum(fourth - var ** 2, 1e-12) / N))


def test_geometric_with_certain_success_draws_zeros():
    assert D.Geometric(probs=1.0).sample((100,), rng=0).numpy().tolist() == [0.0] * 100


def test_one_hot_and_relaxed_draws_pick_each_class_with_its_probability():
    """OneHotCategorical's one-hot draws, and the argmax of a relaxed draw at any temperature
    (the Gumbel-max trick), pick class k with probability probs[k]; a RelaxedBernoulli draw
    is above 1/2 with probability probs."""
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    se = np.sqrt(probs * (1 - probs) / N)
    x = D.OneHotCategorical(probs=xg.asarray(probs)).sample((N,), rng=8).numpy()
    assert np.all(x.sum(-1) == 1) and set(np.unique(x)) == {0.0, 1.0}
    _within(x.mean(axis=0), probs, se)
    for t in (0.2, 3.0):
        y = D.RelaxedOneHotCategorical(t, probs=xg.asarray(probs)).sample((N,), rng=9).numpy()
        np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-12)
        _within(np.bincount(y.argmax(-1), minlength=4) / N, probs, se)
        b = D.RelaxedBernoulli(t, probs=xg.asarray(probs)).sample((N,), rng=10).numpy()
        assert np.all((b > 0) & (b < 1))
        _within((b > 0.5).mean(axis=0), probs, se)


def test_draws_are_reproducible_and_cut_from_the_tape():
    rate = xg.Variable(xg.asarray([2.0, 3.0]), name="rate")
    for make in (lambda: D.Poisson(rate), lambda: D.Binomial(5, logits=rate),
                 lambda: D.Geometric(logits=rate), lambda: D.OneHotCategorical(logits=rate),
                 lambda: D.Gumbel(rate, 1.0), lambda: D.StudentT(rate)):
        d = make()
        assert d.sample((3,), rng=1).tolist() == d.sample((3,), rng=1).tolist()
        assert d.sample((3,), rng=1).shape == (3,) + d.batch_shape + d.event_shape
    with pytest.raises(NotImplementedError, match="Poisson has no reparameterized sampler"):
        D.Poisson(rate).rsample()


# -- bad arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize("make,error,match", [
    (lambda: D.Cauchy(0.0, -1.0), ValueError, r"Cauchy: scale must be > 0, got invalid values "
                                              r"\[-1.0\]"),
    (lambda: D.Gumbel(math.nan, 1.0), ValueError, r"Gumbel: loc must be real"),
    (lambda: D.HalfNormal(0.0), ValueError, r"HalfNormal: scale must be > 0"),
    (lambda: D.HalfCauchy([1.0, -1.0]), ValueError, r"HalfCauchy: scale must be > 0, got "
                                                    r"invalid values \[-1.0\]"),
    (lambda: D.StudentT(-1.0), ValueError, r"StudentT: df must be > 0"),
    (lambda: D.StudentT(3.0, 0.0, 0.0), ValueError, r"StudentT: scale must be > 0"),
    (lambda: D.StudentT([3.0, 4.0], [0.0, 1.0, 2.0]), ValueError,
     r"StudentT: the parameters' shapes do not broadcast together: df \(2,\), loc \(3,\)"),
    (lambda: D.Poisson(-0.5), ValueError, r"Poisson: rate must be >= 0"),
    (lambda: D.Binomial(2.5, probs=0.5), ValueError, r"Binomial: total_count must be an "
                                                     r"integer >= 0, got invalid values \[2.5\]"),
    (lambda: D.Binomial(-1, probs=0.5), ValueError, r"Binomial: total_count must be an integer"),
    (lambda: D.Binomial(3, probs=1.2), ValueError, r"Binomial: probs must be in \[0, 1\]"),
    (lambda: D.Binomial(3), ValueError, r"Binomial: give exactly one of probs or logits"),
    (lambda: D.Binomial("3", probs=0.5), TypeError, r"Binomial: total_count must be a number"),
    (lambda: D.Geometric(probs=0.0), ValueError, r"Geometric: probs must be in \(0, 1\]"),
    (lambda: D.Geometric(logits=math.nan), ValueError, r"Geometric: logits must be real"),
    (lambda: D.OneHotCategorical(probs=[0.5, -0.5]), ValueError,
     r"OneHotCategorical: probs must be probabilities"),
    (lambda: D.OneHotCategorical(logits=0.0), ValueError,
     r"OneHotCategorical: logits must have at least 1 axes"),
    (lambda: D.RelaxedBernoulli(0.0, probs=0.5), ValueError,
     r"RelaxedBernoulli: temperature must be > 0"),
    (lambda: D.RelaxedBernoulli(1.0, probs=2.0), ValueError,
     r"RelaxedBernoulli: probs must be in \[0, 1\]"),
    (lambda: D.RelaxedBernoulli(1.0), ValueError, r"RelaxedBernoulli: give exactly one"),
    (lambda: D.RelaxedOneHotCategorical(-1.0, logits=[0.0, 1.0]), ValueError,
     r"RelaxedOneHotCategorical: temperature must be > 0"),
    (lambda: D.RelaxedOneHotCategorical(1.0, probs=[0.0, 0.0]), ValueError,
     r"RelaxedOneHotCategorical: probs must be probabilities"),
    (lambda: D.Poisson(1.0).log_prob(1.5), ValueError,
     r"Poisson.log_prob: value must be an integer >= 0"),
    (lambda: D.Geometric(probs=0.5).log_prob(-1.0), ValueError,
     r"Geometric.log_prob: value must be an integer >= 0"),
    (lambda: D.Binomial(xg.asarray([3.0, 5.0]), probs=0.5).log_prob(xg.asarray([4.0, 4.0])),
     ValueError, r"Binomial.log_prob: value must be an integer in \[0, total_count\], got "
                 r"invalid values \[4.0\]"),
    (lambda: D.HalfNormal(1.0).log_prob(-1.0), ValueError, r"HalfNormal.log_prob: value must "
                                                           r"be >= 0"),
    (lambda: D.HalfCauchy(1.0).icdf(1.5), ValueError, r"HalfCauchy.icdf: value must be in "
                                                      r"\[0, 1\]"),
    (lambda: D.Cauchy(0.0, 1.0).cdf("1"), TypeError, r"Cauchy.cdf: value must be a Tensor"),
    (lambda: D.RelaxedBernoulli(1.0, probs=0.5).log_prob(1.5), ValueError,
     r"RelaxedBernoulli.log_prob: value must be in \[0, 1\]"),
    (lambda: D.RelaxedOneHotCategorical(1.0, logits=[0.0, 1.0]).log_prob([0.7, 0.7]),
     ValueError, r"RelaxedOneHotCategorical.log_prob: value must be probabilities"),
    (lambda: D.OneHotCategorical(logits=[0.0, 1.0, 2.0]).log_prob([0.0, 1.0]), ValueError,
     r"OneHotCategorical.log_prob: value's rightmost axes must be the event shape \(3,\)"),
    (lambda: D.Binomial(xg.asarray([3.0, 5.0]), probs=0.5).entropy(), NotImplementedError,
     r"Binomial.entropy: total_count must be the same for the whole batch"),
    (lambda: D.StudentT(3.0).sample(rng="0"), TypeError, r"StudentT.sample"),
    (lambda: D.Poisson(1.0).sample(rng=1.5), TypeError, r"Poisson.sample"),
])
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_without_validation_values_outside_the_support_score_as_torch():
    v = np.array([-1.0, 0.5])
    ours = D.HalfNormal(1.0, validate_args=False).log_prob(xg.asarray(v)).numpy()
    theirs = td.HalfNormal(1.0, validate_args=False).log_prob(torch.as_tensor(v)).numpy()
    np.testing.assert_allclose(ours, theirs)
    assert ours[0] == -np.inf
