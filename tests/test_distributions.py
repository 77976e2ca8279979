"""xg.distributions against torch.distributions (float64): log_prob, cdf, icdf, entropy, mean,
mode, variance, stddev and kl_divergence, their values and their gradients with respect to
every parameter (and the value), on every family and KL pair; then finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
td = torch.distributions
D = xg.distributions

R = np.random.default_rng(7)


def _tril(k, *batch):
    a = R.standard_normal(batch + (k, k)) * 0.3
    return np.tril(a, -1) + np.eye(k) * R.uniform(0.8, 1.6, batch + (k,))[..., None]


def _spd(k, *batch):
    a = R.standard_normal(batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) + k * np.eye(k)


def _mvn(kind):
    def make(mod):
        return lambda loc, m: mod.MultivariateNormal(loc, **{kind: m})
    return make


# family -> (maker(module) -> constructor of the parameters, parameters, a value, methods)
FAMILIES = {
    "normal": (lambda m: m.Normal, [R.standard_normal(3), R.uniform(0.5, 2, (2, 1))],
               R.standard_normal((2, 3)), "cdf icdf mode"),
    "laplace": (lambda m: m.Laplace, [R.standard_normal(3), R.uniform(0.5, 2, 3)],
                R.standard_normal((4, 3)) + 0.05, "cdf icdf mode"),
    "exponential": (lambda m: m.Exponential, [R.uniform(0.5, 3, (2, 3))],
                    R.uniform(0.1, 2, (2, 3)), "cdf icdf"),
    "uniform": (lambda m: m.Uniform, [R.uniform(-2, -1, 3), R.uniform(1, 3, 3)],
                R.uniform(-0.9, 0.9, (2, 3)), "cdf icdf"),
    "bernoulli_probs": (lambda m: (lambda p: m.Bernoulli(probs=p)), [R.uniform(0.05, 0.95, 5)],
                        (R.random(5) < 0.5) * 1.0, "mode"),
    "bernoulli_logits": (lambda m: (lambda l: m.Bernoulli(logits=l)),
                         [R.standard_normal((2, 5)) * 2], (R.random(5) < 0.5) * 1.0, ""),
    "categorical_probs": (lambda m: (lambda p: m.Categorical(probs=p)),
                          [R.uniform(0.1, 1, (2, 4))], R.integers(0, 4, (3, 2)), ""),
    "categorical_logits": (lambda m: (lambda l: m.Categorical(logits=l)),
                           [R.standard_normal((2, 4))], R.integers(0, 4, 2), ""),
    "mvn_scale_tril": (_mvn("scale_tril"), [R.standard_normal((2, 3)), _tril(3)],
                       R.standard_normal((4, 2, 3)), "mode"),
    "mvn_covariance": (_mvn("covariance_matrix"), [R.standard_normal(3), _spd(3, 2)],
                       R.standard_normal((2, 3)), ""),
    "mvn_precision": (_mvn("precision_matrix"), [R.standard_normal(3), _spd(3)],
                      R.standard_normal(3), ""),
    "independent": (lambda m: (lambda loc, s: m.Independent(m.Normal(loc, s), 1)),
                    [R.standard_normal((2, 3)), R.uniform(0.5, 2, (2, 3))],
                    R.standard_normal((2, 3)), "mode"),
}
DISCRETE = ("bernoulli", "categorical")
CASES = [(f, m) for f, (_, _, _, extra) in FAMILIES.items()
         for m in ["log_prob", "entropy", "mean", "variance", "stddev"] + extra.split()
         if not (f.startswith("categorical") and m in ("mean", "variance", "stddev"))]


def _call(d, method, value):
    if method in ("log_prob", "cdf", "icdf"):
        return getattr(d, method)(value)
    if method == "entropy":
        return d.entropy()
    return getattr(d, method)


@pytest.mark.parametrize("family,method", CASES)
@pytest.mark.filterwarnings("ignore:.*the target depends on no tensor")  # modes
def test_values_and_gradients_match_torch(family, method):
    maker, params, value, _ = FAMILIES[family]
    if method == "icdf":
        value = R.uniform(0.05, 0.95, np.shape(value))
    discrete = family.startswith(DISCRETE)
    if discrete or method not in ("log_prob", "cdf", "icdf"):    # gradients: parameters only
        vx, vt = xg.asarray(value), torch.as_tensor(value)
        assert_matches_torch(lambda *p: _call(maker(D)(*p), method, vx),
                             lambda *p: _call(maker(td)(*p), method, vt), params)
    else:                                                        # ... and the value
        assert_matches_torch(lambda *a: _call(maker(D)(*a[:-1]), method, a[-1]),
                             lambda *a: _call(maker(td)(*a[:-1]), method, a[-1]),
                             params + [value])


def test_categorical_nan_moments_and_mode_match_torch():
    p = R.uniform(0.1, 1, (2, 4))
    ours, theirs = D.Categorical(probs=xg.asarray(p)), td.Categorical(probs=torch.as_tensor(p))
    assert np.isnan(ours.mean.numpy()).all() and ours.mean.shape == (2,)
    assert np.isnan(ours.variance.numpy()).all() and theirs.variance.isnan().all()
    assert ours.mode.tolist() == theirs.mode.tolist()


def test_bernoulli_mode_at_one_half_is_nan_as_torch():
    p = np.array([0.2, 0.5, 0.7])
    np.testing.assert_array_equal(D.Bernoulli(probs=xg.asarray(p)).mode.numpy(),
                                  td.Bernoulli(probs=torch.as_tensor(p)).mode.numpy())


def test_edges_of_the_support_match_torch():
    """Probabilities 0 and 1 (logits clamped at eps, as PyTorch's), -inf logits in entropy,
    Uniform's -inf outside [low, high) without validation."""
    p = np.array([0.0, 1.0, 0.3])
    v = np.array([0.0, 1.0, 1.0])
    vx = xg.asarray(v)
    for method in ("log_prob", "entropy"):
        assert_matches_torch(lambda q: _call(D.Bernoulli(probs=q), method, vx),
                             lambda q: _call(td.Bernoulli(probs=q), method, torch.as_tensor(v)),
                             [p])
    logits = np.array([[-np.inf, 0.0, 1.0]])
    np.testing.assert_allclose(D.Categorical(logits=xg.asarray(logits)).entropy().numpy(),
                               td.Categorical(logits=torch.as_tensor(logits)).entropy().numpy())
    u = D.Uniform(0.0, 1.0, validate_args=False).log_prob(xg.asarray([-1.0, 0.5, 1.0, 2.0]))
    assert u.tolist() == [-np.inf, 0.0, -np.inf, -np.inf]


# -- KL -------------------------------------------------------------------------------------
KL = {
    "normal": (lambda m: (lambda a, b, c, e: (m.Normal(a, b), m.Normal(c, e))),
               [R.standard_normal(3), R.uniform(0.5, 2, 3), R.standard_normal((2, 1)),
                R.uniform(0.5, 2, 3)]),
    "laplace": (lambda m: (lambda a, b, c, e: (m.Laplace(a, b), m.Laplace(c, e))),
                [R.standard_normal(3), R.uniform(0.5, 2, 3), R.standard_normal(3),
                 R.uniform(0.5, 2, 3)]),
    "exponential": (lambda m: (lambda a, b: (m.Exponential(a), m.Exponential(b))),
                    [R.uniform(0.5, 3, 4), R.uniform(0.5, 3, 4)]),
    "uniform": (lambda m: (lambda a, b, c, e: (m.Uniform(a, b), m.Uniform(c, e))),
                [np.array([0.0, 0.0, -1.0]), np.array([1.0, 1.0, 2.0]),
                 np.array([-1.0, 0.5, -2.0]), np.array([2.0, 3.0, 2.5])]),
    "bernoulli": (lambda m: (lambda a, b: (m.Bernoulli(probs=a), m.Bernoulli(logits=b))),
                  [R.uniform(0.05, 0.95, 4), R.standard_normal(4)]),
    "bernoulli_edges": (lambda m: (lambda a, b: (m.Bernoulli(probs=a), m.Bernoulli(probs=b))),
                        [np.array([0.0, 1.0, 0.3, 0.0, 1.0, 0.0, 1.0]),
                         np.array([0.4, 0.4, 0.0, 1.0, 0.0, 0.0, 1.0])]),
    "categorical": (lambda m: (lambda a, b: (m.Categorical(probs=a), m.Categorical(logits=b))),
                    [R.uniform(0.1, 1, (2, 4)), R.standard_normal(4)]),
    "categorical_zeros": (lambda m: (lambda a, b: (m.Categorical(probs=a),
                                                   m.Categorical(probs=b))),
                          [np.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]]),
                           np.array([0.2, 0.8, 0.0])]),
    "mvn": (lambda m: (lambda a, b, c, e: (m.MultivariateNormal(a, scale_tril=b),
                                           m.MultivariateNormal(c, covariance_matrix=e))),
            [R.standard_normal((2, 3)), _tril(3), R.standard_normal(3), _spd(3, 2)]),
    "independent": (lambda m: (lambda a, b, c, e: (m.Independent(m.Normal(a, b), 2),
                                                   m.Independent(m.Normal(c, e), 2))),
                    [R.standard_normal((2, 3)), R.uniform(0.5, 2, (2, 3)),
                     R.standard_normal((2, 3)), R.uniform(0.5, 2, 3)]),
}


@pytest.mark.parametrize("pair", KL)
@pytest.mark.filterwarnings("ignore:invalid value encountered")   # inf - inf in the test's loss
def test_kl_divergence_matches_torch(pair):
    maker, params = KL[pair]
    assert_matches_torch(lambda *a: D.kl_divergence(*maker(D)(*a)),
                         lambda *a: td.kl_divergence(*maker(td)(*a)), params)


def test_kl_infinities_where_q_misses_p_support_match_torch():
    out = D.kl_divergence(*KL["uniform"][0](D)(*map(xg.asarray, KL["uniform"][1])))
    assert np.isinf(out.numpy()).tolist() == [False, True, False]
    out = D.kl_divergence(*KL["bernoulli_edges"][0](D)(*map(xg.asarray,
                                                             KL["bernoulli_edges"][1])))
    assert np.isinf(out.numpy()).tolist() == [False, False, True, True, True, False, False]
    assert out.numpy()[-2:].tolist() == [0.0, 0.0]            # p's zeros win over q's


def test_kl_of_unregistered_pairs_and_mismatched_ones_raise():
    with pytest.raises(NotImplementedError, match="Normal and Laplace"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Laplace(0.0, 1.0))
    n = D.Normal(xg.zeros((2, 3)), 1.0)
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims"):
        D.kl_divergence(D.Independent(n, 1), D.Independent(n, 2))
    with pytest.raises(ValueError, match="event shapes"):
        D.kl_divergence(D.MultivariateNormal(xg.zeros(2), scale_tril=xg.eye(2)),
                        D.MultivariateNormal(xg.zeros(3), scale_tril=xg.eye(3)))
    with pytest.raises(TypeError, match="q must be a Distribution"):
        D.kl_divergence(n, 1.0)


def test_register_kl_picks_the_most_specific_pair():
    class Mine(D.Normal):
        pass

    @D.register_kl(Mine, D.Normal)
    def _mine(p, q):
        return xg.zeros(p.batch_shape)

    try:
        assert D.kl_divergence(Mine(0.0, 1.0), D.Normal(5.0, 1.0)).item() == 0.0
        assert D.kl_divergence(D.Normal(0.0, 1.0), Mine(5.0, 1.0)).item() == 12.5   # Normal's
    finally:
        from xpgrad.distributions import kl
        del kl.KL_REGISTRY[Mine, D.Normal]
        kl._MEMO.clear()
    with pytest.raises(TypeError, match="type_q must be a subclass of Distribution"):
        D.register_kl(D.Normal, float)


# -- finite differences (second order too, where the formulas are smooth) -------------------
FD = {
    "normal_log_prob": lambda loc, s, v: D.Normal(loc, s).log_prob(v),
    "laplace_entropy_cdf": lambda loc, s, v: D.Laplace(loc, s).cdf(v) + D.Laplace(loc, s).entropy(),
    "mvn_log_prob": lambda loc, s, v: D.MultivariateNormal(
        loc, covariance_matrix=s @ xg.matrix_transpose(s) + 0.5 * xg.eye(2, dtype=xg.float64)
    ).log_prob(v),
    "mvn_scale_tril_log_prob": lambda loc, s, v: D.MultivariateNormal(
        loc, scale_tril=xg.tril(s) + xg.eye(2, dtype=xg.float64)).log_prob(v),
    "kl_normal": lambda loc, s, v: D.kl_divergence(D.Normal(loc, s), D.Normal(v, 1.5)),
}


@pytest.mark.parametrize("name", FD)
def test_gradients_match_finite_differences(name):
    loc = xg.asarray(R.standard_normal((2, 2)))
    s = xg.asarray(R.uniform(0.5, 2, (2, 2)))
    v = xg.asarray(R.standard_normal((2, 2)) + 0.1)
    check_grads(FD[name], [loc, s, v], order=2)


def test_integer_and_boolean_labels_score_as_floats():
    d = D.Bernoulli(logits=xg.asarray([0.3, -1.0, 2.0]))
    want = d.log_prob(xg.asarray([0.0, 1.0, 1.0])).tolist()
    assert d.log_prob(xg.asarray([0, 1, 1])).tolist() == want
    assert d.log_prob(xg.asarray([False, True, True])).tolist() == want
    c = D.Categorical(logits=xg.asarray([0.3, -1.0, 2.0]))
    assert c.log_prob(xg.asarray([2.0, 0.0])).tolist() == c.log_prob(xg.asarray([2, 0])).tolist()


def test_checks_run_when_xg_function_traces():
    @xg.function
    def nll(x, scale):
        return -xg.sum(D.Normal(0.0, scale).log_prob(x))

    with pytest.raises(ValueError, match="Normal: scale must be > 0"):
        nll(xg.ones(3), -xg.ones(3))
    assert float(nll(xg.zeros(2), xg.ones(2))) == pytest.approx(np.log(2 * np.pi))
