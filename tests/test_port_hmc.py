"""Hamiltonian Monte Carlo ported from JAX (jax.grad of the log-density inside a leapfrog loop,
a Metropolis correction, the whole step under jax.jit) to xpgrad, compared with PyTorch
(torch.autograd.grad in the loop) in float64: the same momenta and uniforms give the same
chain and acceptance probabilities eagerly and under xg.function, and the trajectory's
Jacobian with respect to its start (second order: gradients inside a differentiated loop)
equals torch's and finite differences."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

EPS, STEPS, DRAWS = 0.1, 15, 12
START = np.array([0.5, -0.3])


def log_density(x):
    """A banana: x0 ~ N(0, 2^2), x1 | x0 ~ N(x0^2 / 2, 1)."""
    return -0.5 * x[0] ** 2 / 4.0 - 0.5 * (x[1] - 0.5 * x[0] ** 2) ** 2


def leapfrog(x, p, grad):
    p = p + 0.5 * EPS * grad(x)
    for i in range(STEPS):
        x = x + EPS * p
        if i < STEPS - 1:
            p = p + EPS * grad(x)
    return x, p + 0.5 * EPS * grad(x)


def _xg_step(x, p):
    x1, p1 = leapfrog(x, p, xg.grad(log_density))
    energy = lambda x, p: -log_density(x) + 0.5 * xg.sum(p ** 2)   # noqa: E731
    return x1, xg.minimum(1.0, xg.exp(energy(x, p) - energy(x1, p1)))


def _torch_grad(x):
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    return torch.autograd.grad(log_density(x), x, create_graph=True)[0]


def _torch_step(x, p):
    x1, p1 = leapfrog(x, p, _torch_grad)
    energy = lambda x, p: -log_density(x) + 0.5 * torch.sum(p ** 2)   # noqa: E731
    return x1, torch.clamp(torch.exp(energy(x, p) - energy(x1, p1)), max=1.0)


def _chain(step, to, start, momenta, uniforms):
    x, xs, accepts = start, [], []
    for p, u in zip(momenta, uniforms):
        proposal, accept = step(x, to(p))
        accepts.append(float(accept))
        if u < float(accept):
            x = proposal
        xs.append(np.array(x.tolist()))
    return np.array(xs), np.array(accepts)


def test_chain_and_acceptance_match_torch_eagerly_and_compiled():
    rng = np.random.default_rng(0)
    momenta, uniforms = rng.normal(size=(DRAWS, 2)), rng.uniform(size=DRAWS)
    want_x, want_a = _chain(lambda x, p: tuple(t.detach() for t in _torch_step(x, p)),
                            torch.tensor, torch.tensor(START), momenta, uniforms)
    assert 0 < (want_a < 1).sum() < DRAWS          # some proposals are rejected, some not
    compiled = xg.function(_xg_step)
    for step in (_xg_step, compiled):
        got_x, got_a = _chain(step, xg.asarray, xg.asarray(START), momenta, uniforms)
        np.testing.assert_allclose(got_x, want_x, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(got_a, want_a, rtol=1e-13, atol=1e-14)
    assert compiled.trace_count == 1               # one trace, replayed for the later draws


def test_trajectory_jacobian_is_second_order_and_matches_torch_and_finite_differences():
    p0 = np.array([0.8, -1.1])

    def end(x):
        return leapfrog(x, xg.asarray(p0), xg.grad(log_density))[0]

    got = xg.jacobian(end)(xg.asarray(START)).numpy()
    want = torch.autograd.functional.jacobian(
        lambda x: leapfrog(x, torch.tensor(p0), _torch_grad)[0], torch.tensor(START)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
    h = 1e-6
    for j in range(2):
        up, down = START.copy(), START.copy()
        up[j] += h
        down[j] -= h
        numeric = (end(xg.asarray(up)).numpy() - end(xg.asarray(down)).numpy()) / (2 * h)
        np.testing.assert_allclose(got[:, j], numeric, rtol=1e-6, atol=1e-8)
