"""Beta.cdf and StudentT.cdf (``betainc`` and ``stdtr``; PyTorch has neither, so the
references are SciPy's distribution functions, finite differences in float64 in the value and
every parameter, and the density: the derivative in the value is ``exp(log_prob)``), and bad
values."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

stats = pytest.importorskip("scipy.stats")
D = xg.distributions
F64 = xg.float64

A = np.array([0.4, 1.0, 2.5, 30.0])
B = np.array([0.7, 3.0, 1.0, 12.0])
X = np.array([[0.05, 0.5, 0.3, 0.7], [0.9, 0.01, 0.95, 0.72]])
DF = np.array([0.8, 1.0, 4.5, 60.0])
LOC, SCALE = np.array([0.0, -1.0, 2.0, 0.5]), np.array([1.0, 2.0, 0.3, 4.0])
T = np.array([[-3.0, 0.4, 2.1, 0.5], [12.0, -8.0, 1.7, -2.0]])


def test_beta_cdf_matches_scipy():
    got = D.Beta(xg.asarray(A, dtype=F64), xg.asarray(B, dtype=F64)).cdf(X)
    np.testing.assert_allclose(got.numpy(), stats.beta(A, B).cdf(X), rtol=1e-12)


def test_student_t_cdf_matches_scipy():
    got = D.StudentT(xg.asarray(DF, dtype=F64), LOC, SCALE).cdf(T)
    np.testing.assert_allclose(got.numpy(), stats.t(DF, LOC, SCALE).cdf(T), rtol=1e-12)


def test_beta_cdf_gradients_match_finite_differences_and_the_density():
    check_grads(lambda a, b, x: D.Beta(a, b).cdf(x), (A[1:], B[1:], X[:, 1:]), order=1,
                rtol=1e-5, atol=1e-8)
    x = xg.asarray(X, dtype=F64)
    d = D.Beta(xg.asarray(A, dtype=F64), xg.asarray(B, dtype=F64))
    slope = xg.grad(lambda x: xg.sum(d.cdf(x)))(x)
    np.testing.assert_allclose(slope.numpy(), np.exp(d.log_prob(x).numpy()), rtol=1e-11)


def test_student_t_cdf_gradients_match_finite_differences_and_the_density():
    check_grads(lambda df, loc, scale, t: D.StudentT(df, loc, scale).cdf(t),
                (DF, LOC, SCALE, T), order=1, rtol=1e-5, atol=1e-8)
    t = xg.asarray(T, dtype=F64)
    d = D.StudentT(xg.asarray(DF, dtype=F64), LOC, SCALE)
    slope = xg.grad(lambda t: xg.sum(d.cdf(t)))(t)
    np.testing.assert_allclose(slope.numpy(), np.exp(d.log_prob(t).numpy()), rtol=1e-11)


def test_cdf_checks_its_value():
    with pytest.raises(ValueError, match="Beta.cdf: value must be in"):
        D.Beta(2.0, 1.0, validate_args=True).cdf(1.5)
    with pytest.raises(TypeError, match="StudentT.cdf: value must be a Tensor"):
        D.StudentT(3.0).cdf("one")
