"""Draws of the gamma family (Gamma, Chi2, Beta, Dirichlet) and their reparameterized gradients:
dz/dalpha of a standard-gamma draw against mpmath, finite differences of the inverse CDF and
torch._standard_gamma_grad (same draws); rsample gradients against torch's pathwise rule on the
same draws and against the derivatives of the exact moments; moments of 20k draws (fixed
seed) within a few standard errors, and a Kolmogorov-Smirnov test."""
from __future__ import annotations

import numpy as np
import pytest

import array_api_compat.numpy as npx
import xpgrad as xg
from xpgrad.distributions.gamma_sampling import standard_gamma
from xpgrad.ops.gamma_sample_grad import standard_gamma_grad

torch = pytest.importorskip("torch")
special = pytest.importorskip("scipy.special")
stats = pytest.importorskip("scipy.stats")
D = xg.distributions

ALPHAS = np.array([1e-3, 0.02, 0.3, 1.0, 2.5, 7.9, 8.1, 30.0, 300.0, 1e4])
PROBS = np.array([1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 1 - 1e-6])


def _grid():
    """(alpha, z) pairs: the quantiles PROBS of each alpha, where z is a normal float."""
    a, u = np.meshgrid(ALPHAS, PROBS, indexing="ij")
    z = special.gammaincinv(a, u)
    keep = z > 1e-250
    return a[keep], z[keep], u[keep]


def test_grad_matches_mpmath_to_float64_precision():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    a, z, _ = _grid()
    pick = np.arange(0, a.size, 3)
    want = []
    for ai, zi in zip(a[pick], z[pick]):
        ai, zi = mp.mpf(float(ai)), mp.mpf(float(zi))
        dp = mp.diff(lambda t: mp.gammainc(t, 0, zi, regularized=True), ai)
        want.append(float(-dp / (zi ** (ai - 1) * mp.exp(-zi) / mp.gamma(ai))))
    np.testing.assert_allclose(standard_gamma_grad(npx, a[pick], z[pick]), want, rtol=1e-11)


def test_grad_matches_finite_differences_of_the_inverse_cdf():
    a, z, u = _grid()
    h = 1e-5 * a
    fd = (special.gammaincinv(a + h, u) - special.gammaincinv(a - h, u)) / (2 * h)
    np.testing.assert_allclose(standard_gamma_grad(npx, a, z), fd, rtol=2e-6)


def test_grad_matches_torch_on_the_same_draws():
    """torch's dz/dalpha is an approximation (a 5-term series for z < 0.8, a saddle-point
    expansion above alpha = 8, a rational fit between): measured against mpmath it is off by up
    to 1.2e-4 relative, ours by < 2e-13, so the two agree to torch's accuracy."""
    rng = np.random.default_rng(3)
    a = np.repeat(np.logspace(-3, 4, 15), 40)
    z = np.maximum(rng.standard_gamma(a), 1e-300)
    theirs = torch._standard_gamma_grad(torch.as_tensor(a), torch.as_tensor(z)).numpy()
    np.testing.assert_allclose(standard_gamma_grad(npx, a, z), theirs, rtol=3e-4)


def test_grad_at_an_underflowed_draw_is_zero_and_nan_propagates():
    out = standard_gamma_grad(npx, np.array([1e-3, 2.0, np.nan, np.inf, -1.0, 2.0]),
                              np.array([0.0, np.nan, 1.0, 1.0, 1.0, -1.0]))
    assert out[0] == 0.0 and np.isnan(out[1:]).all()


def _ours(alpha, z):
    return torch.as_tensor(standard_gamma_grad(npx, alpha.numpy(), z.numpy()))


class _TorchGamma(torch.autograd.Function):
    """Given standard-gamma draws, with a pathwise gradient in the concentration: torch's
    (``torch._standard_gamma_grad``) or ours (the chain rule then runs in torch)."""

    @staticmethod
    def forward(ctx, alpha, z, grad):
        ctx.save_for_backward(alpha, z)
        ctx.grad = grad
        return z.clone()

    @staticmethod
    def backward(ctx, g):
        alpha, z = ctx.saved_tensors
        return g * ctx.grad(alpha, z), None, None


def _draws(c, shape, seed):
    return standard_gamma(xg.asarray(c), shape, xg.random.default_rng(seed)).numpy()


@pytest.mark.parametrize("family", ["gamma", "chi2", "beta", "dirichlet"])
def test_rsample_gradients_match_torch_pathwise_rule_on_the_same_draws(family):
    """torch's autograd on our draws, the gamma step given torch's dz/dalpha (agreeing to its
    accuracy, 1e-4) or ours (then the rest of the chain must agree to rounding)."""
    rng = np.random.default_rng(4)
    c0, c1 = rng.uniform(0.05, 5, 6), rng.uniform(0.5, 40, 6)
    w = rng.standard_normal((50, 6))
    if family == "dirichlet":
        c0 = np.stack([c0, c1, c0[::-1]], axis=-1)
        w = rng.standard_normal((50, 6, 3))
    params = [xg.asarray(c0), xg.asarray(c1)]
    with xg.GradientTape() as tape:
        tape.watch(params)
        d = {"gamma": lambda: D.Gamma(*params), "chi2": lambda: D.Chi2(params[0]),
             "beta": lambda: D.Beta(*params), "dirichlet": lambda: D.Dirichlet(params[0])}
        x = d[family]().rsample((50,), rng=7)
        loss = xg.sum(x * xg.asarray(w))
    ours = [np.zeros(np.shape(p)) if g is None else g.numpy()
            for g, p in zip(tape.gradient(loss, params), (c0, c1))]

    for grad, rtol in ((torch._standard_gamma_grad, 3e-4), (_ours, 1e-11)):
        t0, t1 = (torch.tensor(p, requires_grad=True) for p in (c0, c1))
        if family == "gamma":
            s = _TorchGamma.apply(t0.expand(50, 6), torch.as_tensor(_draws(c0, (50, 6), 7)),
                                  grad) / t1
        elif family == "chi2":
            s = _TorchGamma.apply((t0 / 2).expand(50, 6),
                                  torch.as_tensor(_draws(c0 / 2, (50, 6), 7)), grad) * 2
        else:
            both = t0 if family == "dirichlet" else torch.stack([t0, t1], -1)
            k = both.shape[-1]
            g = _TorchGamma.apply(both.expand(50, 6, k), torch.as_tensor(
                _draws(both.detach().numpy(), (50, 6, k), 7)), grad)
            s = g / g.sum(-1, keepdim=True)
            s = s if family == "dirichlet" else s[..., 0]
        loss = (s * torch.as_tensor(w)).sum()
        theirs = torch.autograd.grad(loss, [t0, t1], allow_unused=True)
        np.testing.assert_allclose(x.numpy(), s.detach().numpy(), rtol=1e-13)
        for got, want in zip(ours, theirs):
            want = np.zeros(got.shape) if want is None else want.numpy()
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("case", ["gamma", "beta", "dirichlet"])
def test_mean_pathwise_gradient_is_the_derivative_of_the_exact_mean(case):
    """E[dz/dc] = dE[z]/dc. The concentrations are repeated over 100 groups of 200 draws, so
    one gradient gives each group's mean gradient; within 5 standard errors of the groups."""
    cv = np.array([0.3, 2.0, 15.0])
    groups, per_group = 100, 200
    if case == "dirichlet":
        c = xg.asarray(np.tile(cv, (groups, 1)))                            # (groups, 3)
    else:
        c = xg.asarray(np.repeat(cv[:, None], groups, axis=1))              # (3, groups)
    with xg.GradientTape() as tape:
        tape.watch(c)
        if case == "gamma":
            x = D.Gamma(c, 2.0).rsample((per_group,), rng=1)      # E = c / 2
        elif case == "beta":
            x = D.Beta(c, 1.5).rsample((per_group,), rng=1)       # E = c / (c + 1.5)
        else:
            x = D.Dirichlet(c).rsample((per_group,), rng=1)[..., 0]   # E = c0 / sum(c)
        total = xg.sum(x)
    group_means = tape.gradient(total, c).numpy() / per_group
    if case == "dirichlet":
        group_means = group_means.T
        s = cv.sum()
        want = np.array([(s - cv[0]) / s ** 2, -cv[0] / s ** 2, -cv[0] / s ** 2])
    else:
        want = np.full(3, 0.5) if case == "gamma" else 1.5 / (cv + 1.5) ** 2
    got, se = group_means.mean(axis=1), group_means.std(axis=1) / np.sqrt(groups)
    assert np.all(np.abs(got - want) < 5 * se), (got, want, se)


@pytest.mark.parametrize("name,make,mean,var,cdf", [
    ("gamma_tiny", lambda: D.Gamma(0.01, 1.0), 0.01, 0.01, stats.gamma(0.01).cdf),
    ("gamma_half", lambda: D.Gamma(0.5, 2.0), 0.25, 0.125, stats.gamma(0.5, scale=0.5).cdf),
    ("gamma_one", lambda: D.Gamma(1.0, 1.0), 1.0, 1.0, stats.gamma(1.0).cdf),
    ("gamma_big", lambda: D.Gamma(1e4, 10.0), 1e3, 100.0, stats.gamma(1e4, scale=0.1).cdf),
    ("chi2", lambda: D.Chi2(3.0), 3.0, 6.0, stats.chi2(3.0).cdf),
    ("beta", lambda: D.Beta(0.4, 2.5), 0.4 / 2.9, 0.4 * 2.5 / (2.9 ** 2 * 3.9),
     stats.beta(0.4, 2.5).cdf),
    ("dirichlet", lambda: D.Dirichlet(xg.asarray([3.0, 0.7, 1.3])), 0.6, 0.6 * 0.4 / 6,
     stats.beta(3.0, 2.0).cdf),
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_moments_and_distribution_of_20k_draws(name, make, mean, var, cdf, dtype):
    d = make()
    d = type(d)(*[xg.astype(getattr(d, k), getattr(xg, dtype))
                  for k in d.arg_constraints])
    x = d.sample((20000,), rng=12)
    assert x.dtype == getattr(xg, dtype)
    x = x.numpy().astype(np.float64)
    x = x[:, 0] if x.ndim == 2 else x
    n = x.size
    kurtosis = ((x - x.mean()) ** 4).mean() / var ** 2
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / n)
    assert abs(x.var() - var) < 5 * var * np.sqrt((kurtosis - 1) / n)
    tiny = np.finfo(dtype).tiny
    if cdf(tiny) > 1e-4:        # draws below the dtype's smallest normal number are raised to it
        p = cdf(tiny)
        assert abs(np.mean(x == tiny) - p) < 5 * np.sqrt(p * (1 - p) / n)
        x = x[x > tiny]
        cdf = (lambda f, p: lambda t: (f(t) - p) / (1 - p))(cdf, p)
    assert stats.kstest(x, cdf).pvalue > 1e-3


def test_draws_are_reproducible_and_sample_is_cut_from_the_tape():
    c = xg.Variable(xg.asarray([0.5, 3.0]), name="c")
    a = D.Gamma(c, 1.0).rsample((4,), rng=xg.random.default_rng(9))
    b = D.Gamma(c, 1.0).rsample((4,), rng=9)
    assert a.tolist() == b.tolist() and (a.numpy() > 0).all()
    with xg.GradientTape() as tape:
        s = xg.sum(D.Gamma(c, 1.0).sample((4,), rng=9))
    with pytest.warns(RuntimeWarning, match="depends on no tensor"):
        assert tape.gradient(s, [c]) == [None]


def test_tiny_concentrations_underflow_to_the_smallest_normal_as_torch():
    x = D.Gamma(xg.asarray(1e-3, dtype=xg.float32), 1.0).sample((2000,), rng=0).numpy()
    assert x.min() == np.finfo(np.float32).tiny and (x > 0).all()


def test_second_derivatives_through_rsample_are_refused():
    c = xg.asarray(2.0, dtype=xg.float64)
    f = xg.grad(lambda c: xg.sum(D.Gamma(c, 1.0).rsample((3,), rng=0)))
    with pytest.raises(NotImplementedError, match="second derivatives of a gamma-family"):
        xg.grad(f)(c)


def test_xg_function_captures_a_gamma_draw():
    """Refused (TraceError) before; tests/test_distributions_traced_draws.py checks more."""
    @xg.function
    def draw(log_c):
        return D.Gamma(xg.exp(log_c), 1.0).sample((2,), rng=0)

    eager = D.Gamma(xg.exp(xg.zeros(2)), 1.0).sample((2,), rng=0).numpy()
    for _ in range(3):                     # a seed made afresh each call: the same numbers
        np.testing.assert_array_equal(draw(xg.zeros(2)).numpy(), eager)
    assert draw.trace_count == 1
