"""Transforms' cache_size (PyTorch's squashed-Gaussian recipe), sign and equality, and what they
give TransformedDistribution: cdf/icdf of monotone transforms and KL of equal transforms
(LogNormal with LogNormal), all against torch in float64."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
D, T = xg.distributions, xg.distributions.transforms
TD, TT = torch.distributions, torch.distributions.transforms


def test_tanh_cache_gives_torchs_squashed_gaussian_log_prob_on_saturated_draws():
    mu0 = np.array([20.0, 0.0, -30.0])
    mu = xg.Variable(mu0)
    with xg.GradientTape() as tape:
        d = D.TransformedDistribution(D.Normal(mu, 1.0), [T.TanhTransform(cache_size=1)])
        x = d.base_dist.rsample((4,), rng=0)
        y = d.transforms[0](x)                  # rsample's own step, x kept for the check
        total = xg.sum(d.log_prob(y))
    assert np.any(np.abs(y.numpy()) == 1.0)     # saturated: tanh rounded to +-1
    tmu = torch.tensor(mu0, requires_grad=True)
    td = TD.TransformedDistribution(TD.Normal(tmu, 1.0), [TT.TanhTransform(cache_size=1)])
    tx = tmu + torch.tensor(x.numpy() - mu0)    # the same draws, on torch's graph
    want = td.log_prob(td.transforms[0](tx)).sum()
    want.backward()
    assert np.isfinite(float(total))
    np.testing.assert_allclose(float(total), want.item(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(total, [mu])[0].numpy(), tmu.grad.numpy(),
                               rtol=1e-12)


def test_rsample_then_log_prob_uses_the_cache():
    mu = xg.Variable(np.array([20.0, 0.5]))
    with xg.GradientTape() as tape:
        d = D.TransformedDistribution(D.Normal(mu, 1.0), T.TanhTransform(cache_size=1))
        y = d.rsample((5,), rng=1)
        total = xg.sum(d.log_prob(y))
    grad = tape.gradient(total, [mu])[0].numpy()
    assert np.isfinite(float(total)) and np.all(np.isfinite(grad))
    eps = d.base_dist.rsample((5,), rng=1).numpy() - mu.numpy()   # the same noise
    tmu = torch.tensor(mu.numpy(), requires_grad=True)
    td = TD.TransformedDistribution(TD.Normal(tmu, 1.0), [TT.TanhTransform(cache_size=1)])
    want = td.log_prob(td.transforms[0](tmu + torch.tensor(eps))).sum()
    want.backward()
    np.testing.assert_allclose(float(total), want.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, tmu.grad.numpy(), rtol=1e-12)


def test_cache_semantics_are_torchs():
    x = xg.asarray(np.array([0.5, 40.0]))
    cached, fresh = T.TanhTransform(cache_size=1), T.TanhTransform()
    y = cached(x)
    assert cached(x) is y and cached.inv(y) is x
    copy = xg.asarray(y.numpy())                # equal values, another object: computed
    with warnings.catch_warnings():                # tanh(40) = 1: inv is inf, as torch's, quietly
        warnings.simplefilter("error")
        assert np.isinf(cached.inv(copy).numpy()[1])
        assert np.isinf(fresh.inv(y).numpy()[1])
    t = T.ComposeTransform([T.AffineTransform(1.0, 2.0), T.TanhTransform()], cache_size=1)
    assert all(p._cache_size == 1 for p in t.parts)
    z = t(x)
    assert t.inv(z) is x
    assert T.ExpTransform().with_cache(1)._cache_size == 1
    assert T.AffineTransform(0.0, 3.0).with_cache(1).scale == 3.0


@pytest.mark.parametrize("make,exc,match", [
    (lambda: T.TanhTransform(cache_size=2), ValueError, "TanhTransform: cache_size must be 0 or 1"),
    (lambda: T.ExpTransform(cache_size=True), TypeError, "cache_size must be 0 or 1, got True"),
    (lambda: T.AffineTransform(0.0, 1.0, cache_size="1"), TypeError, "AffineTransform: cache_size"),
    (lambda: T.ComposeTransform([], cache_size=-1), ValueError, "ComposeTransform: cache_size"),
    (lambda: T.AbsTransform().sign, NotImplementedError, "AbsTransform has no sign"),
    (lambda: D.TransformedDistribution(D.Normal(0.0, 1.0), T.AbsTransform()).cdf(1.0),
     NotImplementedError, "AbsTransform has no sign"),
    (lambda: D.kl_divergence(D.TransformedDistribution(D.Normal(0.0, 1.0), T.ExpTransform()),
                             D.TransformedDistribution(D.Normal(0.0, 1.0), T.TanhTransform())),
     NotImplementedError, "different transforms"),
    (lambda: D.LogNormal(0.0, 1.0).icdf(1.5), ValueError, r"LogNormal.icdf: value must be in "
                                                          r"\[0, 1\]"),
])
def test_bad_arguments_name_them(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_sign_and_equality_are_torchs():
    assert T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.TanhTransform()
    assert T.AffineTransform(1.0, -2.0) == T.AffineTransform(1.0, -2.0)
    assert T.AffineTransform(1.0, -2.0) != T.AffineTransform(1.0, 2.0)
    assert T.PowerTransform(2.0) == T.PowerTransform(2.0) != T.PowerTransform(3.0)
    assert T.ExpTransform().inv == T.ExpTransform().inv
    scale = np.array([1.0, -2.0, 0.0])
    assert T.AffineTransform(0.0, xg.asarray(scale)).sign.tolist() == \
        TT.AffineTransform(0.0, torch.tensor(scale)).sign.tolist()
    for mine, theirs in ((T.AffineTransform(1.0, -2.0), TT.AffineTransform(1.0, -2.0)),
                         (T.PowerTransform(-0.5), TT.PowerTransform(torch.tensor(-0.5))),
                         (T.SigmoidTransform(), TT.SigmoidTransform()),
                         (T.TanhTransform().inv, TT.TanhTransform().inv),
                         (T.ComposeTransform([T.ExpTransform(), T.AffineTransform(0.0, -1.0)]),
                          TT.ComposeTransform([TT.ExpTransform(), TT.AffineTransform(0.0, -1.0)]))):
        assert int(mine.sign) == int(theirs.sign)


CDF_CASES = {
    "lognormal": (lambda m, loc, s: m.LogNormal(loc, s), np.array([0.3, 1.0, 4.0])),
    "decreasing": (lambda m, loc, s: m.TransformedDistribution(
        m.Normal(loc, s), [m.transforms.AffineTransform(1.0, -2.0),
                           m.transforms.ExpTransform()]), np.array([0.3, 1.0, 4.0])),
    "sigmoid": (lambda m, loc, s: m.TransformedDistribution(
        m.Normal(loc, s), [m.transforms.SigmoidTransform()]), np.array([0.1, 0.5, 0.9])),
}


@pytest.mark.parametrize("case", sorted(CDF_CASES))
def test_cdf_and_icdf_match_torch(case):
    make, values = CDF_CASES[case]
    loc0, scale0 = np.array([0.2, -0.4, 1.0]), np.array([0.7, 1.3, 2.0])
    q = np.array([0.05, 0.5, 0.9])
    loc, scale = xg.Variable(loc0), xg.Variable(scale0)
    with xg.GradientTape(persistent=True) as tape:
        d = make(D, loc, scale)
        cdf, icdf = d.cdf(xg.asarray(values)), d.icdf(xg.asarray(q))
        total = xg.sum(cdf) + xg.sum(icdf)
    tloc, tscale = (torch.tensor(v, requires_grad=True) for v in (loc0, scale0))
    td = make(torch.distributions, tloc, tscale)
    tcdf, ticdf = td.cdf(torch.tensor(values)), td.icdf(torch.tensor(q))
    (tcdf.sum() + ticdf.sum()).backward()
    np.testing.assert_allclose(cdf.numpy(), tcdf.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(icdf.numpy(), ticdf.detach().numpy(), rtol=1e-12)
    for got, want in zip(tape.gradient(total, [loc, scale]), (tloc.grad, tscale.grad)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
    np.testing.assert_allclose(d.cdf(icdf).numpy(), q, rtol=1e-12)      # round trip
    check_grads(lambda v: make(D, loc0, scale0).cdf(v), [xg.asarray(values)])


def test_kl_of_lognormals_matches_torch_and_its_gradients():
    p0, q0 = (np.array([1.0, -0.5]), np.array([1.0, 0.3])), (np.array([0.0, 2.0]),
                                                            np.array([3.0, 0.8]))
    params = [xg.Variable(v) for v in (*p0, *q0)]
    with xg.GradientTape() as tape:
        kl = D.kl_divergence(D.LogNormal(*params[:2]), D.LogNormal(*params[2:]))
        total = xg.sum(kl)
    tparams = [torch.tensor(v, requires_grad=True) for v in (*p0, *q0)]
    tkl = TD.kl_divergence(TD.LogNormal(*tparams[:2]), TD.LogNormal(*tparams[2:]))
    tkl.sum().backward()
    np.testing.assert_allclose(kl.numpy(), tkl.detach().numpy(), rtol=1e-12)
    for got, want in zip(tape.gradient(total, params), tparams):
        np.testing.assert_allclose(got.numpy(), want.grad.numpy(), rtol=1e-12)
    check_grads(lambda m: D.kl_divergence(D.LogNormal(m, p0[1]), D.LogNormal(*q0)),
                [xg.asarray(p0[0])])
    # event axes added by the transforms are summed, as torch's
    aff = lambda m, loc: m.TransformedDistribution(m.Normal(loc, 1.0),
                                                   [m.transforms.AffineTransform(0.0, 2.0,
                                                                                 event_dim=1)])
    got = D.kl_divergence(aff(D, np.zeros((2, 3))), aff(D, np.ones((2, 3))))
    want = TD.kl_divergence(aff(torch.distributions, torch.zeros(2, 3, dtype=torch.float64)),
                            aff(torch.distributions, torch.ones(2, 3, dtype=torch.float64)))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
