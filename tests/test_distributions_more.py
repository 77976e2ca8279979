"""The families added after the first set (Cauchy, HalfNormal, HalfCauchy, Gumbel, StudentT,
Poisson, Binomial, Geometric, OneHotCategorical, the relaxed Bernoulli and one-hot
categorical) against torch.distributions in float64: log_prob, cdf, icdf, entropy and the
moments, their values and gradients with respect to every parameter (and the value, for the
continuous families), expand, and the KL pairs; then finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
td = torch.distributions
D = xg.distributions
R = np.random.default_rng(17)


def _inner(name):
    """``name`` of xg.distributions, or of the torch submodule that keeps it (torch does not
    export LogitRelaxedBernoulli and ExpRelaxedCategorical at the top)."""
    where = {"LogitRelaxedBernoulli": "relaxed_bernoulli",
             "ExpRelaxedCategorical": "relaxed_categorical"}
    return lambda m: getattr(m if m is D else getattr(td, where[name]), name)


def _counts(high, shape):
    return R.integers(0, high + 1, shape).astype(np.float64)


def _one_hot(k, shape):
    return np.eye(k)[R.integers(0, k, shape)]


def _simplex(k, shape):
    return R.dirichlet(np.ones(k), shape)


# family -> (maker(module) -> constructor of the parameters, parameters, a value, methods
# beyond log_prob, whether the value is continuous (then its gradient is compared too))
FAMILIES = {
    "cauchy": (lambda m: m.Cauchy, [R.standard_normal(3), R.uniform(0.5, 2, (2, 1))],
               R.standard_normal((2, 3)) * 3, "entropy mode cdf icdf", True),
    "half_normal": (lambda m: m.HalfNormal, [R.uniform(0.5, 2, 3)], R.uniform(0.1, 3, (2, 3)),
                    "entropy mean mode variance stddev cdf icdf", True),
    "half_cauchy": (lambda m: m.HalfCauchy, [R.uniform(0.5, 2, (2, 3))],
                    R.uniform(0.1, 5, (2, 3)), "entropy mode cdf icdf", True),
    "gumbel": (lambda m: m.Gumbel, [R.standard_normal(3), R.uniform(0.5, 2, 3)],
               R.standard_normal((4, 3)) * 2, "entropy mean mode variance stddev cdf icdf", True),
    "student_t": (lambda m: m.StudentT, [R.uniform(2.5, 9, 3), R.standard_normal(3),
                                         R.uniform(0.5, 2, (2, 1))],
                  R.standard_normal((2, 3)) * 2, "entropy mean mode variance", True),
    "poisson": (lambda m: m.Poisson, [R.uniform(0.5, 20, (2, 3))], _counts(30, (2, 3)),
                "mean mode variance", False),
    "binomial_probs": (lambda m: (lambda p: m.Binomial(12, probs=p)),
                       [R.uniform(0.05, 0.95, (2, 3))], _counts(12, (2, 3)),
                       "entropy mean mode variance", False),
    "binomial_counts_logits": (lambda m: (lambda n, l: m.Binomial(n, logits=l)),
                               [_counts(6, 4) + 6, R.standard_normal(4)], _counts(6, 4),
                               "mean mode variance", False),
    "geometric_probs": (lambda m: (lambda p: m.Geometric(probs=p)), [R.uniform(0.05, 1, 5)],
                        _counts(9, (2, 5)), "entropy mean mode variance", False),
    "geometric_logits": (lambda m: (lambda l: m.Geometric(logits=l)), [R.standard_normal(5)],
                         _counts(9, 5), "entropy mean variance", False),
    "one_hot_probs": (lambda m: (lambda p: m.OneHotCategorical(probs=p)),
                      [R.uniform(0.1, 1, (2, 4))], _one_hot(4, (3, 2)),
                      "entropy mean mode variance", False),
    "one_hot_logits": (lambda m: (lambda l: m.OneHotCategorical(logits=l)),
                       [R.standard_normal(4)], _one_hot(4, 2), "entropy mean variance", False),
    "relaxed_bernoulli": (lambda m: (lambda t, l: m.RelaxedBernoulli(t, logits=l)),
                          [np.array(0.7), R.standard_normal(4)], R.uniform(0.05, 0.95, (2, 4)),
                          "", True),
    "relaxed_bernoulli_probs": (lambda m: (lambda t, p: m.RelaxedBernoulli(t, probs=p)),
                                [R.uniform(0.3, 2, 4), R.uniform(0.1, 0.9, 4)],
                                R.uniform(0.05, 0.95, 4), "", True),
    "logit_relaxed_bernoulli": (lambda m: (lambda t, l: _inner("LogitRelaxedBernoulli")(m)(
        t, logits=l)),
                                [np.array(1.3), R.standard_normal(3)], R.standard_normal(3) * 2,
                                "", True),
    "relaxed_one_hot": (lambda m: (lambda t, l: m.RelaxedOneHotCategorical(t, logits=l)),
                        [np.array(0.6), R.standard_normal((2, 4))], _simplex(4, (3, 2)), "",
                        False),
    "relaxed_one_hot_probs": (lambda m: (lambda t, p: m.RelaxedOneHotCategorical(t, probs=p)),
                              [np.array(1.5), R.uniform(0.1, 1, 3)], _simplex(3, 2), "", False),
    "exp_relaxed_categorical": (lambda m: (lambda t, l: _inner("ExpRelaxedCategorical")(m)(
        t, logits=l)),
                                [np.array(0.8), R.standard_normal(3)],
                                np.log(_simplex(3, 2)), "", True),
}
CASES = [(f, m) for f, spec in FAMILIES.items() for m in ["log_prob"] + spec[3].split()]


def _call(d, method, value):
    if method in ("log_prob", "cdf", "icdf"):
        return getattr(d, method)(value)
    if method == "entropy":
        return d.entropy()
    return getattr(d, method)


@pytest.mark.parametrize("family,method", CASES)
@pytest.mark.filterwarnings("ignore:.*the target depends on no tensor")  # modes, constants
def test_values_and_gradients_match_torch(family, method):
    maker, params, value, _, continuous = FAMILIES[family]
    if method == "icdf":
        value = R.uniform(0.05, 0.95, np.shape(value))
    if continuous and method in ("log_prob", "cdf", "icdf"):      # ... and the value's
        assert_matches_torch(lambda *a: _call(maker(D)(*a[:-1]), method, a[-1]),
                             lambda *a: _call(maker(td)(*a[:-1]), method, a[-1]),
                             params + [value])
    else:
        vx, vt = xg.asarray(value), torch.as_tensor(value)
        assert_matches_torch(lambda *p: _call(maker(D)(*p), method, vx),
                             lambda *p: _call(maker(td)(*p), method, vt), params)


@pytest.mark.filterwarnings("ignore:.*the target depends on no tensor")
def test_nan_and_infinite_moments_match_torch():
    """Cauchy's NaN mean and infinite variance, HalfCauchy's infinite ones, StudentT's NaN
    below df 1 and infinite variance in (1, 2]."""
    df = np.array([0.5, 1.0, 1.5, 2.0, 3.0])
    zeros, ones = np.zeros(3), np.ones(2)
    pairs = [(D.Cauchy(xg.asarray(zeros), 1.0), td.Cauchy(torch.as_tensor(zeros), 1.0)),
             (D.HalfCauchy(xg.asarray(ones)), td.HalfCauchy(torch.as_tensor(ones))),
             (D.StudentT(xg.asarray(df)), td.StudentT(torch.as_tensor(df)))]
    for ours, theirs in pairs:
        for name in ("mean", "variance"):
            np.testing.assert_array_equal(getattr(ours, name).numpy(),
                                          getattr(theirs, name).numpy())


def test_expand_matches_torch():
    for family in ("cauchy", "half_normal", "gumbel", "student_t", "poisson", "binomial_probs",
                   "geometric_logits", "one_hot_probs", "relaxed_bernoulli", "relaxed_one_hot"):
        maker, params = FAMILIES[family][:2]
        ours = maker(D)(*[xg.asarray(p) for p in params])
        theirs = maker(td)(*[torch.as_tensor(p) for p in params])
        batch = (5,) + ours.batch_shape
        e, f = ours.expand(batch), theirs.expand(batch)
        assert e.batch_shape == tuple(f.batch_shape) and e.event_shape == tuple(f.event_shape)
        value = e.sample((2,), rng=0)
        assert value.shape == tuple(f.sample((2,)).shape), family
        np.testing.assert_allclose(e.log_prob(value).numpy(),
                                   f.log_prob(torch.as_tensor(value.numpy())).numpy(),
                                   rtol=1e-10)


# -- KL -------------------------------------------------------------------------------------
def _pair(p, q):
    return lambda m: (lambda *a: (p(m)(*a[:len(a) // 2]), q(m)(*a[len(a) // 2:])))


def _loc_scale(name):
    return lambda m: getattr(m, name)


KL = {
    "cauchy": (_pair(_loc_scale("Cauchy"), _loc_scale("Cauchy")),
               [R.standard_normal(3), R.uniform(0.5, 2, 3), R.standard_normal((2, 1)),
                R.uniform(0.5, 2, 3)]),
    "gumbel": (_pair(_loc_scale("Gumbel"), _loc_scale("Gumbel")),
               [R.standard_normal(3), R.uniform(0.5, 2, 3), R.standard_normal(3),
                R.uniform(0.5, 2, 3)]),
    "half_normal": (_pair(_loc_scale("HalfNormal"), _loc_scale("HalfNormal")),
                    [R.uniform(0.5, 2, 3), R.uniform(0.5, 2, (2, 1))]),
    "poisson": (_pair(_loc_scale("Poisson"), _loc_scale("Poisson")),
                [R.uniform(0.5, 9, 4), R.uniform(0.5, 9, 4)]),
    "binomial": (_pair(lambda m: (lambda n, p: m.Binomial(n, probs=p)),
                       lambda m: (lambda n, l: m.Binomial(n, logits=l))),
                 [np.array([5.0, 5.0, 7.0]), R.uniform(0.1, 0.9, 3), np.array([5.0, 3.0, 7.0]),
                  R.standard_normal(3)]),
    "geometric": (_pair(lambda m: (lambda p: m.Geometric(probs=p)),
                        lambda m: (lambda l: m.Geometric(logits=l))),
                  [R.uniform(0.1, 0.9, 4), R.standard_normal(4)]),
    "one_hot": (_pair(lambda m: (lambda p: m.OneHotCategorical(probs=p)),
                      lambda m: (lambda l: m.OneHotCategorical(logits=l))),
                [R.uniform(0.1, 1, (2, 4)), R.standard_normal(4)]),
    "bernoulli_poisson": (_pair(lambda m: (lambda p: m.Bernoulli(probs=p)),
                                _loc_scale("Poisson")),
                          [R.uniform(0.1, 0.9, 3), R.uniform(0.5, 3, 3)]),
    "exponential_gumbel": (lambda m: (lambda r, a, b: (m.Exponential(r), m.Gumbel(a, b))),
                           [R.uniform(0.5, 2, 3), R.standard_normal(3), R.uniform(0.5, 2, 3)]),
    "gamma_gumbel": (_pair(_loc_scale("Gamma"), _loc_scale("Gumbel")),
                     [R.uniform(0.5, 3, 3), R.uniform(0.5, 2, 3), R.standard_normal(3),
                      R.uniform(0.5, 2, 3)]),
    "normal_gumbel": (_pair(_loc_scale("Normal"), _loc_scale("Gumbel")),
                      [R.standard_normal(3), R.uniform(0.5, 2, 3), R.standard_normal(3),
                       R.uniform(0.5, 2, 3)]),
    "gumbel_normal": (_pair(_loc_scale("Gumbel"), _loc_scale("Normal")),
                      [R.standard_normal(3), R.uniform(0.5, 2, 3), R.standard_normal(3),
                       R.uniform(0.5, 2, 3)]),
    "uniform_gumbel": (_pair(_loc_scale("Uniform"), _loc_scale("Gumbel")),
                       [R.uniform(-2, -1, 3), R.uniform(1, 2, 3), R.standard_normal(3),
                        R.uniform(0.5, 2, 3)]),
}


@pytest.mark.parametrize("pair", KL)
def test_kl_divergence_matches_torch(pair):
    maker, params = KL[pair]
    assert_matches_torch(lambda *a: D.kl_divergence(*maker(D)(*a)),
                         lambda *a: td.kl_divergence(*maker(td)(*a)), params)


@pytest.mark.filterwarnings("ignore:.*the target depends on no tensor")
def test_infinite_kl_pairs_match_torch():
    one = np.array([0.5, 1.5])
    cases = [(lambda m: m.Gumbel(one, one), lambda m: m.Beta(one, one)),
             (lambda m: m.Gumbel(one, one), lambda m: m.Exponential(one)),
             (lambda m: m.Gumbel(one, one), lambda m: m.Gamma(one, one)),
             (lambda m: m.Gumbel(one, one), lambda m: m.Uniform(-one, one)),
             (lambda m: m.Poisson(one), lambda m: m.Bernoulli(probs=one / 2)),
             (lambda m: m.Poisson(one), lambda m: m.Binomial(3, probs=one / 2))]
    for p, q in cases:
        ours = D.kl_divergence(p(D), q(D)).numpy()
        theirs = td.kl_divergence(p(_torched), q(_torched)).numpy()
        np.testing.assert_array_equal(ours, theirs)
        assert np.isinf(ours).all()


class _Torched:
    """torch.distributions with NumPy arrays made float64 tensors (for the table above)."""

    def __getattr__(self, name):
        family = getattr(td, name)

        def make(*args, **kwargs):
            conv = (lambda a: torch.as_tensor(a) if isinstance(a, np.ndarray) else a)
            return family(*map(conv, args), **{k: conv(v) for k, v in kwargs.items()})
        return make


_torched = _Torched()


def test_binomial_kl_needs_p_count_at_least_q_count_as_torch():
    with pytest.raises(NotImplementedError, match="q's total_count exceeds p's"):
        D.kl_divergence(D.Binomial(3, probs=0.5), D.Binomial(5, probs=0.5))
    out = D.kl_divergence(D.Binomial(xg.asarray([5.0, 6.0]), probs=0.5),
                          D.Binomial(5, probs=0.5))
    assert out.tolist() == [0.0, np.inf]



def test_poisson_kl_from_rate_zero_is_q_rate_where_torch_gives_nan():
    """KL(Poisson(0) || Poisson(r)) = r (p puts all mass on 0: -log q(0) = r), 0 at r = 0;
    torch's `p log(p / q)` gives NaN for both. p > 0 against q = 0 is infinite."""
    p = D.Poisson(xg.asarray([0.0, 0.0, 0.0, 1.5], dtype=xg.float64))
    q = D.Poisson(xg.asarray([0.0, 2.0, 3.5, 0.0], dtype=xg.float64))
    assert D.kl_divergence(p, q).tolist() == [0.0, 2.0, 3.5, np.inf]
    assert np.isnan(td.kl_divergence(td.Poisson(torch.tensor([0.0, 2.0])),
                                     td.Poisson(torch.tensor([0.0, 2.0]))).numpy()[0])

# -- finite differences (second order where the formulas are smooth) ------------------------
FD = {
    "student_t_log_prob_entropy": lambda a, s, v: D.StudentT(a + 3.0, v, s).log_prob(v * 2)
    + D.StudentT(a + 3.0, v, s).entropy(),
    "gumbel_cdf_log_prob": lambda a, s, v: D.Gumbel(v, s).cdf(a) + D.Gumbel(v, s).log_prob(a),
    "binomial_log_prob": lambda a, s, v: D.Binomial(4, logits=v).log_prob(
        xg.asarray([[0.0, 1.0], [3.0, 4.0]], dtype=xg.float64)) * s,
    "relaxed_one_hot_log_prob": lambda a, s, v: D.RelaxedOneHotCategorical(   # per batch
        s[:, 0], logits=v).log_prob(xg.softmax(a, axis=-1)),
    "kl_gumbel": lambda a, s, v: D.kl_divergence(D.Gumbel(a, s), D.Gumbel(v, s + 0.5)),
}


@pytest.mark.parametrize("name", FD)
def test_gradients_match_finite_differences(name):
    a = xg.asarray(R.uniform(0.2, 2, (2, 2)))
    s = xg.asarray(R.uniform(0.5, 2, (2, 2)))
    v = xg.asarray(R.standard_normal((2, 2)))
    check_grads(FD[name], [a, s, v], order=2)
