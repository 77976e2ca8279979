"""Gamma.cdf and Chi2.cdf against torch.distributions (float64 values, and gradients in the
rate and the value) and SciPy's gamma CDF, finite differences, the gradient in the
concentration (which PyTorch refuses) against finite differences of SciPy's CDF, and bad values."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")
td = torch.distributions
D = xg.distributions

R = np.random.default_rng(5)
CONCENTRATIONS = np.array([1e-3, 0.03, 0.7, 1.0, 2.5, 40.0, 1e3, 1e4])
RATES = np.array([1e-2, 0.5, 1.0, 3.0, 1e2, 0.2, 7.0, 1.5])
# values around each mean (concentration / rate), from far below to far above
VALUES = CONCENTRATIONS / RATES * np.array([[0.01], [0.5], [0.97], [1.0], [1.03], [2.0], [8.0]])


def test_gamma_cdf_values_and_gradients_match_torch():
    # PyTorch's igamma is up to 6.5e-10 off near the mean for concentrations >= 40 (its
    # asymptotic series; SciPy and mpmath agree with these values to 1e-15, next test)
    c_x, c_t = xg.asarray(CONCENTRATIONS, dtype=xg.float64), torch.tensor(CONCENTRATIONS)
    assert_matches_torch(lambda rate, v: D.Gamma(c_x, rate).cdf(v),
                         lambda rate, v: td.Gamma(c_t, rate).cdf(v),
                         [RATES, VALUES], rtol=1e-9, atol=1e-300)


def test_gamma_cdf_matches_scipy():
    got = D.Gamma(xg.asarray(CONCENTRATIONS, dtype=xg.float64),
                  xg.asarray(RATES, dtype=xg.float64)).cdf(VALUES)
    want = stats.gamma(CONCENTRATIONS, scale=1.0 / RATES).cdf(VALUES)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=0.0)


def test_chi2_cdf_values_and_gradients_match_torch():
    df = R.uniform(0.5, 30.0, 4)
    values = R.uniform(0.05, 3.0, (3, 4)) * df
    df_x, df_t = xg.asarray(df, dtype=xg.float64), torch.tensor(df)
    assert_matches_torch(lambda v: D.Chi2(df_x).cdf(v), lambda v: td.Chi2(df_t).cdf(v),
                         [values], rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(D.Chi2(df_x).cdf(values).numpy(), stats.chi2(df).cdf(values),
                               rtol=1e-12)


def test_gamma_cdf_gradients_match_finite_differences():
    concentration = xg.asarray([0.6, 3.0, 50.0], dtype=xg.float64)
    check_grads(lambda rate, v: D.Gamma(concentration, rate).cdf(v),
                (np.array([0.5, 2.0, 1.0]), np.array([[0.4, 1.1, 48.0], [2.0, 2.5, 60.0]])),
                order=2, rtol=1e-5, atol=1e-8)


def test_gradient_in_the_concentration_exists_where_torch_refuses_it():
    with pytest.raises(NotImplementedError):
        td.Gamma(torch.tensor(2.0, dtype=torch.float64, requires_grad=True), 1.0).cdf(
            torch.tensor(1.5, dtype=torch.float64)).backward()
    concentration = np.array([0.4, 2.0, 30.0])
    rate, value = 1.5, np.array([0.3, 1.5, 19.0])
    grad = xg.grad(lambda c: xg.sum(D.Gamma(c, rate).cdf(value)))(
        xg.asarray(concentration, dtype=xg.float64))
    h = 1e-6
    fd = (stats.gamma(concentration + h, scale=1 / rate).cdf(value)
          - stats.gamma(concentration - h, scale=1 / rate).cdf(value)) / (2 * h)
    np.testing.assert_allclose(grad.numpy(), fd, rtol=1e-7)
    df = np.array([0.8, 3.0, 40.0])
    grad = xg.grad(lambda df: xg.sum(D.Chi2(df).cdf(value)))(xg.asarray(df, dtype=xg.float64))
    fd = (stats.chi2(df + h).cdf(value) - stats.chi2(df - h).cdf(value)) / (2 * h)
    np.testing.assert_allclose(grad.numpy(), fd, rtol=1e-7)
    rate = xg.asarray(1.0, dtype=xg.float64)
    concentration = xg.Variable(xg.asarray(2.0, dtype=xg.float64))
    with xg.GradientTape() as tape:
        tape.watch(rate)
        p = D.Gamma(xg.stop_gradient(concentration), rate).cdf(1.5)
    np.testing.assert_allclose(tape.gradient(p, rate).item(), 1.5 ** 2 * np.exp(-1.5),
                               rtol=1e-14)      # value * density(rate * value)


def test_cdf_keeps_float32_and_the_support_edges():
    d = D.Gamma(xg.asarray([0.5, 2.0, 2.0]), xg.asarray([1.0, 1.0, 3.0]))
    out = d.cdf(xg.asarray([0.0, np.inf, 1.0]))
    assert out.dtype == xg.float32
    np.testing.assert_allclose(out.numpy(), [0.0, 1.0, stats.gamma(2.0, scale=1 / 3).cdf(1.0)],
                               rtol=1e-6)


def test_cdf_checks_its_value():
    with pytest.raises(ValueError, match="Gamma.cdf: value must be >= 0"):
        D.Gamma(2.0, 1.0, validate_args=True).cdf(-1.0)
    with pytest.raises(ValueError, match="Chi2.cdf: value must be >= 0"):
        D.Chi2(3.0, validate_args=True).cdf([1.0, -0.5])
    with pytest.raises(TypeError, match="Gamma.cdf: value must be a Tensor"):
        D.Gamma(2.0, 1.0).cdf("one")
