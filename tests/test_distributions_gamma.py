"""The gamma family of xg.distributions (Gamma, Chi2, Beta, Dirichlet) against
torch.distributions in float64: log_prob, entropy, mean, mode, variance and kl_divergence, their
values and gradients, on grids that reach extreme concentrations; finite differences; and the
argument checks (an error naming the argument)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
td = torch.distributions
D = xg.distributions

R = np.random.default_rng(11)
# concentrations from 1e-3 to 1e4, log-spaced, and rates from 1e-2 to 1e2
EXTREME = np.array([1e-3, 0.03, 0.7, 1.0, 2.5, 40.0, 1e3, 1e4])
RATES = np.array([1e-2, 0.5, 1.0, 3.0, 1e2, 0.2, 7.0, 1.5])

FAMILIES = {
    "gamma": (lambda m: m.Gamma, [R.uniform(0.3, 4, (2, 3)), R.uniform(0.5, 3, 3)],
              R.uniform(0.1, 3, (4, 2, 3))),
    "gamma_extreme": (lambda m: m.Gamma, [EXTREME, RATES], R.uniform(0.05, 5, (3, 8))),
    "chi2": (lambda m: m.Chi2, [R.uniform(0.5, 6, 4)], R.uniform(0.1, 5, (2, 4))),
    "beta": (lambda m: m.Beta, [R.uniform(0.3, 4, (2, 3)), R.uniform(0.3, 4, 3)],
             R.uniform(0.02, 0.98, (4, 2, 3))),
    "beta_extreme": (lambda m: m.Beta, [EXTREME, EXTREME[::-1].copy()],
                     R.uniform(0.05, 0.95, 8)),
    "dirichlet": (lambda m: m.Dirichlet, [R.uniform(0.3, 4, (2, 4))],
                  R.dirichlet(np.ones(4), (3, 2))),
    "dirichlet_extreme": (lambda m: m.Dirichlet, [EXTREME.reshape(2, 4)],
                          R.dirichlet(np.ones(4), 2)),
}
CASES = [(f, m) for f in FAMILIES
         for m in ("log_prob", "entropy", "mean", "mode", "variance", "stddev")
         if (f, m) != ("dirichlet_extreme", "mode")]      # 0 / 0: values checked below


def _call(d, method, value):
    if method == "log_prob":
        return d.log_prob(value)
    if method == "entropy":
        return d.entropy()
    return getattr(d, method)


@pytest.mark.parametrize("family,method", CASES)
@pytest.mark.filterwarnings("ignore:.*the target depends on no tensor")  # modes at 0
def test_values_and_gradients_match_torch(family, method):
    maker, params, value = FAMILIES[family]
    if method == "log_prob":             # gradients for the value too
        assert_matches_torch(lambda *a: _call(maker(D)(*a[:-1]), method, a[-1]),
                             lambda *a: _call(maker(td)(*a[:-1]), method, a[-1]),
                             params + [value], rtol=1e-9)
    else:
        assert_matches_torch(lambda *p: _call(maker(D)(*p), method, None),
                             lambda *p: _call(maker(td)(*p), method, None), params, rtol=1e-9)


def test_log_prob_at_the_edges_of_the_support_matches_torch():
    """x = 0 for concentrations below, at and above 1 (inf, log rate, -inf), Beta at 0 and 1."""
    c = np.array([0.5, 1.0, 3.0])
    ours = D.Gamma(xg.asarray(c), 2.0).log_prob(xg.asarray([0.0, 0.0, 0.0], dtype=xg.float64))
    theirs = td.Gamma(torch.as_tensor(c), 2.0).log_prob(torch.zeros(3, dtype=torch.float64))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    v = np.array([0.0, 1.0, 0.0])
    ours = D.Beta(xg.asarray(c), xg.asarray(c[::-1].copy())).log_prob(xg.asarray(v))
    theirs = td.Beta(torch.as_tensor(c), torch.as_tensor(c[::-1].copy())).log_prob(
        torch.as_tensor(v))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_dirichlet_mode_below_one_is_the_first_corner_and_0_over_0_is_nan_as_torch():
    c = np.array([[0.2, 0.7, 0.5], [2.0, 3.0, 0.5], [0.3, 1.0, 0.2]])
    ours = D.Dirichlet(xg.asarray(c)).mode.numpy()
    np.testing.assert_allclose(ours, td.Dirichlet(torch.as_tensor(c)).mode.numpy())
    assert ours[0].tolist() == [1.0, 0.0, 0.0] and np.isnan(ours[2]).all()


def test_shapes_dtypes_and_chi2_df():
    d = D.Dirichlet(xg.ones((2, 3, 4)))
    assert (d.batch_shape, d.event_shape, d.sample((5,), rng=0).shape) == ((2, 3), (4,),
                                                                           (5, 2, 3, 4))
    b = D.Beta(xg.asarray([1.0, 2.0], dtype=xg.float64), 3.0)
    assert (b.batch_shape, b.event_shape, b.mean.dtype) == ((2,), (), xg.float64)
    assert b.rsample((3,), rng=0).shape == (3, 2)
    g = D.Gamma(1.0, xg.ones((3, 1)))
    assert g.batch_shape == (3, 1) and g.sample((2,), rng=0).dtype == xg.float32
    chi = D.Chi2(xg.asarray([1.0, 4.0]))
    assert chi.df.tolist() == [1.0, 4.0] and chi.rate.tolist() == [0.5, 0.5]


# -- KL -------------------------------------------------------------------------------------
KL = {
    "gamma": (lambda m: (lambda a, b, c, e: (m.Gamma(a, b), m.Gamma(c, e))),
              [EXTREME, RATES, EXTREME[::-1].copy(), R.uniform(0.1, 5, 8)]),
    "chi2_gamma": (lambda m: (lambda a, b, c: (m.Chi2(a), m.Gamma(b, c))),
                   [R.uniform(0.5, 5, 3), R.uniform(0.5, 5, 3), R.uniform(0.1, 2, 3)]),
    "beta": (lambda m: (lambda a, b, c, e: (m.Beta(a, b), m.Beta(c, e))),
             [EXTREME, R.uniform(0.2, 5, 8), R.uniform(0.2, 5, 8), EXTREME[::-1].copy()]),
    "dirichlet": (lambda m: (lambda a, b: (m.Dirichlet(a), m.Dirichlet(b))),
                  [EXTREME.reshape(2, 4), R.uniform(0.2, 5, (3, 1, 4))]),
}


@pytest.mark.parametrize("pair", KL)
def test_kl_divergence_matches_torch(pair):
    maker, params = KL[pair]
    assert_matches_torch(lambda *a: D.kl_divergence(*maker(D)(*a)),
                         lambda *a: td.kl_divergence(*maker(td)(*a)), params, rtol=1e-9)


def test_kl_of_dirichlets_of_different_sizes_is_refused():
    with pytest.raises(ValueError, match="Dirichlets of different event shapes"):
        D.kl_divergence(D.Dirichlet(xg.ones(3)), D.Dirichlet(xg.ones(4)))


# -- finite differences (second order: the formulas are smooth) -----------------------------
FD = {
    "gamma_log_prob_entropy": lambda c, r, v: D.Gamma(c, r).log_prob(v) + D.Gamma(c, r).entropy(),
    "beta_log_prob_entropy": lambda c, r, v: D.Beta(c, r).log_prob(v / 4) + D.Beta(c, r).entropy(),
    "dirichlet_log_prob": lambda c, r, v: D.Dirichlet(c + r).log_prob(v / xg.sum(v, axis=-1,
                                                                                 keepdims=True)),
    "kl_gamma": lambda c, r, v: D.kl_divergence(D.Gamma(c, r), D.Gamma(v, 1.5)),
    "kl_beta": lambda c, r, v: D.kl_divergence(D.Beta(c, r), D.Beta(v, c)),
    "kl_dirichlet": lambda c, r, v: D.kl_divergence(D.Dirichlet(c), D.Dirichlet(r + v)),
}


@pytest.mark.parametrize("name", FD)
def test_gradients_match_finite_differences(name):
    c, r, v = (xg.asarray(R.uniform(0.5, 3, (2, 3))) for _ in range(3))
    check_grads(FD[name], [c, r, v], order=2)


# -- argument checks ------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: D.Gamma(-1.0, 1.0), r"Gamma: concentration must be > 0, got invalid values "
                                 r"\[-1.0\]"),
    (lambda: D.Gamma(1.0, [1.0, 0.0]), r"Gamma: rate must be > 0, got invalid values \[0.0\]"),
    (lambda: D.Gamma(math.nan, 1.0), r"Gamma: concentration must be > 0"),
    (lambda: D.Chi2([2.0, -3.0]), r"Chi2: df must be > 0, got invalid values \[-3.0\]"),
    (lambda: D.Beta(0.0, 1.0), r"Beta: concentration1 must be > 0"),
    (lambda: D.Beta(1.0, -2.0), r"Beta: concentration0 must be > 0"),
    (lambda: D.Beta([1.0, 2.0], [1.0, 1.0, 1.0]), r"Beta: the parameters' shapes do not "
                                                  r"broadcast together"),
    (lambda: D.Dirichlet([1.0, -1.0]), r"Dirichlet: concentration must be > 0, got invalid "
                                       r"values \[-1.0\]"),
    (lambda: D.Dirichlet(2.0), r"Dirichlet: concentration must have at least 1 axes"),
    (lambda: D.Gamma("a", 1.0), r"Gamma: concentration must be a number"),
    (lambda: D.Gamma(1.0, 1.0).log_prob(-0.5), r"Gamma.log_prob: value must be >= 0"),
    (lambda: D.Beta(1.0, 1.0).log_prob(1.5), r"Beta.log_prob: value must be in \[0, 1\]"),
    (lambda: D.Dirichlet(xg.ones(3)).log_prob(xg.asarray([0.5, 0.6, 0.1])),
     r"Dirichlet.log_prob: value must be probabilities along the last axis"),
    (lambda: D.Dirichlet(xg.ones(3)).log_prob(xg.asarray([0.5, 0.5])),
     r"Dirichlet.log_prob: value's rightmost axes must be the event shape \(3,\)"),
    (lambda: D.Gamma(1.0, 1.0).sample(-1), r"sample_shape must not have negative entries"),
    (lambda: D.Gamma(1.0, 1.0).sample(rng="seed"), r"Gamma.sample: rng"),
])
def test_bad_arguments_are_refused_naming_them(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_validate_args_false_skips_the_checks_as_torch():
    c = np.array([2.0, -0.5])
    ours = D.Gamma(xg.asarray(c), 1.0, validate_args=False).entropy().numpy()
    theirs = td.Gamma(torch.as_tensor(c), 1.0, validate_args=False).entropy().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    ours = D.Beta(2.0, 2.0, validate_args=False).log_prob(xg.asarray(1.5, dtype=xg.float64))
    theirs = td.Beta(2.0, 2.0, validate_args=False).log_prob(torch.tensor(1.5))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
