"""Beta and Dirichlet draws stay strictly inside the support, as torch's ([tiny, 1 - eps/2]: no
coordinate exactly 0, 1 or subnormal), for concentrations far below 1 where the gamma draws
underflow; their ratio is taken of the draws' logs, so it keeps its value there; log_prob and
the reparameterized gradient stay finite, and the gradient is unbiased (against
torch._dirichlet_grad on the same draws and the analytic derivative of the mean)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.distributions.gamma_sampling import standard_gamma

D = xg.distributions
torch = pytest.importorskip("torch")


def _bounds(dtype):
    info = np.finfo(dtype)
    return info.tiny, 1.0 - info.eps / 2          # torch's clamp: tiny .. nextafter(1, 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("a,b", [(1e-3, 1e-3), (1e4, 1e-3), (1e-3, 1.0), (0.02, 5.0)])
def test_beta_draws_log_prob_and_gradients_stay_finite(a, b, dtype):
    ca, cb = (xg.Variable(np.full(2, v, dtype=dtype)) for v in (a, b))
    with xg.GradientTape() as tape:
        d = D.Beta(ca, cb)
        z = d.rsample((2000,), rng=0)
        lp = d.log_prob(z)
        total = xg.sum(lp)
    lo, hi = _bounds(dtype)
    zn = z.numpy()
    assert zn.dtype == dtype and zn.min() >= lo and zn.max() <= hi
    assert np.all(np.isfinite(lp.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in tape.gradient(total, [ca, cb]))
    s = d.sample((2000,), rng=1).numpy()
    assert s.min() >= lo and s.max() <= hi


def test_dirichlet_draws_stay_inside_as_torchs():
    d = D.Dirichlet(np.full(3, 1e-3))
    s = d.sample((5000,), rng=0).numpy()
    lo, hi = _bounds(np.float64)
    assert s.min() >= lo and s.max() <= hi
    t = torch.distributions.Dirichlet(torch.full((3,), 1e-3, dtype=torch.float64)).sample(
        (5000,)).numpy()
    assert t.min() >= lo and t.max() <= hi                   # the bounds are torch's
    assert np.all(np.isfinite(d.log_prob(s).numpy()))
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-12)
    # the winning coordinate is uniform over the three (symmetric), not biased by clamping
    counts = np.bincount(s.argmax(-1), minlength=3) / 5000
    assert np.all(np.abs(counts - 1 / 3) < 4 * np.sqrt(2 / 9 / 5000))


def test_tiny_concentrations_keep_the_ratio_of_underflowing_draws():
    """Beta(1e-3, 1e-3): both gamma draws are usually below 1e-308; their ratio was then
    tiny / (tiny + tiny) = 0.5 or exactly 1. The draws pile up at the two ends, half each."""
    from scipy.special import betainc

    n = 4000
    z = D.Beta(np.array(1e-3), np.array(1e-3)).sample((n,), rng=3).numpy()
    assert not np.any(z == 0.5)
    for cut in (1e-10, 1e-100, 1e-300):         # P(x < cut): the Beta CDF, far below 1e-308
        p = betainc(1e-3, 1e-3, cut)            # for the gamma draws themselves
        assert abs(np.mean(z < cut) - p) < 4 * np.sqrt(p * (1 - p) / n)
    assert abs(np.mean(z > 0.5) - 0.5) < 4 * np.sqrt(0.25 / n)


def test_moderate_draws_are_the_normalized_gamma_draws_of_the_same_generator():
    c = xg.asarray(np.array([2.0, 3.0, 0.5]))
    x = D.Dirichlet(c).rsample((6,), rng=5).numpy()
    g = standard_gamma(c, (6, 3), xg.random.default_rng(5)).numpy()
    np.testing.assert_allclose(x, g / g.sum(-1, keepdims=True), rtol=1e-13)


@pytest.mark.parametrize("a,b", [(0.5, 2.0), (0.05, 0.3), (3.0, 1e-2)])
def test_beta_gradient_is_unbiased_against_torchs_on_the_same_draws(a, b):
    """One concentration per draw, so each draw's own gradient is read: the mean of dx/da and
    dx/db agrees with torch's implicit Dirichlet gradient (torch._dirichlet_grad) on the same
    draws and with d/da of E[x] = a / (a + b), within 4 standard errors."""
    n = 20000
    ca, cb = xg.Variable(np.full(n, a)), xg.Variable(np.full(n, b))
    with xg.GradientTape() as tape:
        x = D.Beta(ca, cb).rsample(rng=11)
        total = xg.sum(x)
    ga, gb = (g.numpy() for g in tape.gradient(total, [ca, cb]))
    from torch.distributions.dirichlet import _Dirichlet_backward

    xt = torch.as_tensor(x.numpy())
    pair = torch.stack([xt, 1 - xt], -1)
    alpha = torch.tensor([a, b], dtype=torch.float64).expand(n, 2).contiguous()
    picks_x = torch.tensor([1.0, 0.0], dtype=torch.float64).expand(n, 2)
    theirs = _Dirichlet_backward(pair, alpha, picks_x).numpy()     # d x / d (a, b), per draw
    exact = (b / (a + b) ** 2, -a / (a + b) ** 2)
    for mine, their, want in ((ga, theirs[:, 0], exact[0]), (gb, theirs[:, 1], exact[1])):
        assert np.all(np.isfinite(mine))
        se = np.sqrt(mine.var() / n + their.var() / n)
        assert abs(mine.mean() - their.mean()) < 4 * se
        assert abs(mine.mean() - want) < 4 * mine.std() / np.sqrt(n)
