"""Linear-algebra-heavy JAX code ported to xpgrad and compared with PyTorch in float64: a
Gaussian process's negative log marginal likelihood with an ARD kernel (cholesky,
jax.scipy.linalg.solve_triangular(L, y, lower=True), slogdet) and a Kalman filter written
with lax.scan whose transition is expm of a continuous-time drift (jax.scipy.linalg.expm),
values and gradients for every hyperparameter; the filter also under xg.function and against
finite differences."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

R = np.random.default_rng(3)
X = R.normal(size=(25, 3))
Y = np.sin(X[:, 0]) + 0.1 * R.normal(size=25)
OBS = 0.1 * R.normal(size=(20, 1)).cumsum(0)
H, NOISE, DT = np.array([[1.0, 0.0]]), np.array([[0.1]]), 0.2


def gp_nll(ops, solve_lower, log_ls, log_sf, log_sn):
    z = ops.asarray(X) / ops.exp(log_ls)
    sq = ops.sum(z ** 2, 1)[:, None] + ops.sum(z ** 2, 1)[None, :] - 2 * z @ z.T
    k = ops.exp(2 * log_sf) * ops.exp(-0.5 * sq) + ops.exp(2 * log_sn) * ops.eye(
        len(X), dtype=z.dtype)
    alpha = solve_lower(ops.linalg.cholesky(k), ops.asarray(Y))
    return 0.5 * alpha @ alpha + 0.5 * ops.linalg.slogdet(k)[1]


def test_gaussian_process_marginal_likelihood_matches_torch():
    params = [np.array([0.1, -0.2, 0.3]), np.array(0.2), np.array(-1.0)]
    ours = [xg.asarray(p) for p in params]
    got, grads = xg.value_and_grad(
        lambda *p: gp_nll(xg, lambda l, y: xg.linalg.solve_triangular(l, y, lower=True), *p),
        argnums=(0, 1, 2))(*ours)
    theirs = [torch.tensor(p, requires_grad=True) for p in params]
    want = gp_nll(torch, lambda l, y: torch.linalg.solve_triangular(
        l, y[:, None], upper=False)[:, 0], *theirs)
    want.backward()
    np.testing.assert_allclose(float(got), want.item(), rtol=1e-13)
    for g, t in zip(grads, theirs):
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-11, atol=1e-13)


def kalman_xg(rate, q):
    drift = xg.stack([xg.stack([xg.zeros_like(rate), xg.ones_like(rate)]),
                      xg.stack([-rate, -0.5 * xg.ones_like(rate)])])
    f = xg.linalg.expm(drift * DT)
    h, noise = xg.asarray(H), xg.asarray(NOISE)

    def step(carry, y):
        m, p, ll = carry
        m, p = f @ m, f @ p @ f.T + q * xg.eye(2, dtype=xg.float64)
        s = h @ p @ h.T + noise
        gain = p @ h.T @ xg.linalg.inv(s)
        r = y - h @ m
        ll = ll - 0.5 * (r @ xg.linalg.solve(s, r[:, None])[:, 0] + xg.linalg.slogdet(s)[1])
        return (m + gain @ r, p - gain @ s @ gain.T, ll), m

    init = (xg.zeros(2, dtype=xg.float64), xg.eye(2, dtype=xg.float64),
            xg.zeros((), dtype=xg.float64))
    (_, _, ll), means = xg.scan(step, init, xg.asarray(OBS))
    return ll, means


def kalman_torch(rate, q):
    zero, one = torch.zeros_like(rate), torch.ones_like(rate)
    f = torch.linalg.matrix_exp(torch.stack([torch.stack([zero, one]),
                                             torch.stack([-rate, -0.5 * one])]) * DT)
    h, noise = torch.tensor(H), torch.tensor(NOISE)
    m, p, ll = torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64), 0.0
    for y in torch.tensor(OBS):
        m, p = f @ m, f @ p @ f.T + q * torch.eye(2, dtype=torch.float64)
        s = h @ p @ h.T + noise
        gain = p @ h.T @ torch.linalg.inv(s)
        r = y - h @ m
        ll = ll - 0.5 * (r @ torch.linalg.solve(s, r) + torch.linalg.slogdet(s)[1])
        m, p = m + gain @ r, p - gain @ s @ gain.T
    return ll


def test_kalman_filter_with_expm_transition_matches_torch_compiled_and_by_differences():
    rate, q = xg.asarray(1.7, dtype=xg.float64), xg.asarray(0.03, dtype=xg.float64)
    value_and_grad = xg.value_and_grad(lambda r, q: kalman_xg(r, q)[0], argnums=(0, 1))
    theirs = [torch.tensor(1.7, dtype=torch.float64, requires_grad=True),
              torch.tensor(0.03, dtype=torch.float64, requires_grad=True)]
    want = kalman_torch(*theirs)
    want.backward()
    compiled = xg.function(value_and_grad)
    runs = [compiled(rate, q) for _ in range(3)]
    assert compiled.trace_count == 1
    for got, grads in [value_and_grad(rate, q)] + runs:
        np.testing.assert_allclose(float(got), want.item(), rtol=1e-13)
        for g, t in zip(grads, theirs):
            np.testing.assert_allclose(float(g), t.grad.item(), rtol=1e-11)
    h = 1e-6
    numeric = (float(kalman_xg(xg.asarray(1.7 + h, dtype=xg.float64), q)[0])
               - float(kalman_xg(xg.asarray(1.7 - h, dtype=xg.float64), q)[0])) / (2 * h)
    np.testing.assert_allclose(float(grads[0]), numeric, rtol=1e-7)
