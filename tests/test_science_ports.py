"""Scientific programs as JAX / PyTorch users write them, ported to xpgrad on small synthetic
data and checked against scikit-learn, SciPy, PyTorch and finite differences in float64: a
Gaussian process's hyperparameters fitted by L-BFGS through a Cholesky (scikit-learn's
optimum), a pendulum's controls optimized through a simulated rollout (torch.optim.LBFGS's
iterate), Lennard-Jones molecular dynamics with forces from xg.grad of the energy (torch's
forces, energy conserved, the compiled step equal to the eager one), a RealNVP coupling flow
written as a user's Transform (log-density against the change-of-variables formula with
xg.jacobian's determinant), variational Bayesian logistic regression (the ELBO gradient
against torch's with the same noise) and the sensitivities of an SIR model's integrated
infections (xg.odeint, np.trapezoid on a tape) against finite differences."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.distributions import (Bernoulli, Independent, Normal, TransformedDistribution,
                                  constraints, kl_divergence)
from xpgrad.distributions.transforms import Transform

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def test_gaussian_process_hyperparameters_reach_sklearns_optimum():
    sklearn_gp = pytest.importorskip("sklearn.gaussian_process")
    kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (30, 1))
    y = np.sin(x[:, 0]) + 0.1 * rng.normal(size=30)
    sq = xg.asarray((x - x.T) ** 2)

    def negative_log_marginal_likelihood(log_params):     # length scale, amplitude, noise
        k = (xg.exp(2 * log_params[1]) * xg.exp(-0.5 * sq / xg.exp(2 * log_params[0]))
             + xg.exp(2 * log_params[2]) * xg.eye(30, dtype=xg.float64))
        factor = xg.linalg.cholesky(k)
        alpha = xg.linalg.cholesky_solve(xg.asarray(y), factor)    # cho_solve((L, True), y)
        return (0.5 * xg.vecdot(xg.asarray(y), alpha)
                + xg.sum(xg.log(xg.linalg.diagonal(factor))) + 15 * np.log(2 * np.pi))

    params = xg.Variable(np.zeros(3), name="log_params")
    opt = xg.optim.LBFGS(line_search_fn="strong_wolfe")
    for _ in range(5):
        opt.minimize(lambda: negative_log_marginal_likelihood(params), [params])
    kernel = (kernels.ConstantKernel(1.0, (1e-5, 1e5)) * kernels.RBF(1.0, (1e-5, 1e5))
              + kernels.WhiteKernel(1.0, (1e-8, 1e5)))
    fitted = sklearn_gp.GaussianProcessRegressor(kernel, random_state=0).fit(x, y)
    ours = float(negative_log_marginal_likelihood(params))
    assert abs(ours + fitted.log_marginal_likelihood_value_) < 1e-8
    theirs = fitted.kernel_.get_params()
    want = [theirs["k1__k2__length_scale"], np.sqrt(theirs["k1__k1__constant_value"]),
            np.sqrt(theirs["k2__noise_level"])]
    np.testing.assert_allclose(np.exp(params.numpy()), want, rtol=1e-3)


STEPS, DT = 40, 0.05


def _pendulum_cost(ops, u):
    """Controls u swing a damped pendulum from hanging (angle 0) towards upright (pi)."""
    angle = velocity = cost = u[0] * 0.0
    for k in range(STEPS):
        velocity = velocity + DT * (-9.81 * ops.sin(angle) + u[k] - 0.1 * velocity)
        angle = angle + DT * velocity
        cost = cost + 1e-3 * u[k] ** 2
    return cost + (angle - np.pi) ** 2 + 0.1 * velocity ** 2


def _pendulum_scan(u):
    def step(state, control):
        velocity = state[1] + DT * (-9.81 * xg.sin(state[0]) + control - 0.1 * state[1])
        return xg.stack([state[0] + DT * velocity, velocity]), 1e-3 * control ** 2
    final, costs = xg.scan(step, xg.zeros(2, dtype=u.dtype), u)
    return xg.sum(costs) + (final[0] - np.pi) ** 2 + 0.1 * final[1] ** 2


def test_pendulum_controls_through_a_rollout_follow_torchs_lbfgs():
    u = xg.Variable(np.zeros(STEPS), name="u")
    ut = torch.zeros(STEPS, dtype=torch.float64, requires_grad=True)
    ours = xg.optim.LBFGS(line_search_fn="strong_wolfe", max_iter=30)
    theirs = torch.optim.LBFGS([ut], line_search_fn="strong_wolfe", max_iter=30)

    def closure():
        theirs.zero_grad()
        loss = _pendulum_cost(torch, ut)
        loss.backward()
        return loss

    for _ in range(2):
        ours.minimize(lambda: _pendulum_cost(xg, u), [u])
        theirs.step(closure)
    np.testing.assert_allclose(u.numpy(), ut.detach().numpy(), rtol=1e-7, atol=1e-9)
    assert float(_pendulum_cost(xg, u)) < 0.15 * np.pi ** 2             # from pi ** 2 at u = 0
    # the scan form gives the loop's value and gradient; both match finite differences
    point = xg.asarray(np.random.default_rng(1).normal(size=STEPS))
    grad_loop = xg.grad(lambda v: _pendulum_cost(xg, v))(point).numpy()
    np.testing.assert_allclose(xg.grad(_pendulum_scan)(point).numpy(), grad_loop, rtol=1e-12)
    e, h = np.eye(STEPS), 1e-6
    fd = [(float(_pendulum_scan(point + h * e[i])) - float(_pendulum_scan(point - h * e[i])))
          / (2 * h) for i in range(0, STEPS, 7)]
    np.testing.assert_allclose(grad_loop[::7], fd, rtol=1e-6, atol=1e-8)


def _lennard_jones(ops, positions, pairs):
    d = positions[:, None, :] - positions[None, :, :]
    r2 = ops.sum(d ** 2, axis=-1)[pairs]
    inverse6 = 1.0 / r2 ** 3
    return ops.sum(4.0 * (inverse6 ** 2 - inverse6))


def test_lennard_jones_dynamics_conserve_energy_with_autodiff_forces():
    grid = np.stack(np.meshgrid(np.arange(3), np.arange(3)), -1).reshape(-1, 2) * 1.12
    rng = np.random.default_rng(0)
    start = grid + 0.02 * rng.normal(size=grid.shape)
    velocity = 0.1 * rng.normal(size=grid.shape)
    velocity -= velocity.mean(0)
    pairs = np.triu_indices(len(grid), 1)

    def force(x):
        return -xg.grad(lambda x: _lennard_jones(xg, x, pairs))(x)

    xt = torch.tensor(start, requires_grad=True)
    want = -torch.autograd.grad(_lennard_jones(torch, xt, pairs), xt)[0].numpy()
    np.testing.assert_allclose(force(xg.asarray(start)).numpy(), want, rtol=1e-12, atol=1e-12)

    def verlet(x, v, f, dt=0.002):
        v = v + 0.5 * dt * f
        x = x + dt * v
        f = force(x)
        return x, v + 0.5 * dt * f, f

    def energy(x, v):
        return float(_lennard_jones(xg, x, pairs)) + 0.5 * float(xg.sum(v * v))

    compiled = xg.function(verlet)
    x, v = xg.asarray(start), xg.asarray(velocity)
    f = force(x)
    cx, cv, cf = x, v, f
    energies = []
    for _ in range(300):
        x, v, f = verlet(x, v, f)
        cx, cv, cf = compiled(cx, cv, cf)
        energies.append(energy(x, v))
    np.testing.assert_array_equal(cx.numpy(), x.numpy())
    assert compiled.trace_count == 1
    assert np.ptp(energies) < 1e-3 * abs(energies[0])
    assert np.abs(x.numpy() - start).max() > 1e-3                     # it moved


class AffineCoupling(Transform):
    """RealNVP's coupling: the masked half passes, the other is scaled and shifted by a
    network of the first (sample direction z -> x)."""
    domain = constraints.independent(constraints.real, 1)
    codomain = constraints.independent(constraints.real, 1)
    bijective = True

    def __init__(self, mask, net):
        super().__init__()
        self.mask, self.net = xg.asarray(mask), net

    def _scale_shift(self, x):
        h = self.net(x * self.mask)
        return xg.tanh(h[..., :2]) * (1 - self.mask), h[..., 2:] * (1 - self.mask)

    def _call(self, z):
        s, t = self._scale_shift(z)
        return z * self.mask + (1 - self.mask) * (z * xg.exp(s) + t)

    def _inverse(self, x):
        s, t = self._scale_shift(x)
        return x * self.mask + (1 - self.mask) * (x - t) * xg.exp(-s)

    def log_abs_det_jacobian(self, z, x):
        return xg.sum(self._scale_shift(z)[0], axis=-1)


def test_realnvp_flow_log_density_is_the_change_of_variables_and_training_lowers_it():
    rng = xg.random.default_rng(0)
    nets = [xg.nn.MLP([2, 16, 4], activation="tanh", rng=rng, dtype="float64")
            for _ in range(4)]
    masks = [np.array([1.0, 0.0]) if i % 2 == 0 else np.array([0.0, 1.0]) for i in range(4)]
    layers = [AffineCoupling(m, n) for m, n in zip(masks, nets)]
    base = Independent(Normal(xg.zeros(2, dtype=xg.float64), 1.0), 1)
    flow = TransformedDistribution(base, layers)
    moons = np.random.default_rng(0).normal(size=(6, 2))

    def to_base(x):
        for layer in reversed(layers):
            x = layer._inverse(x)
        return x

    for point in moons[:3]:
        z = to_base(xg.asarray(point))
        jacobian = xg.jacobian(to_base)(xg.asarray(point))
        want = float(base.log_prob(z)) + float(xg.linalg.slogdet(jacobian).logabsdet)
        assert abs(float(flow.log_prob(xg.asarray(point))) - want) < 1e-12
    assert flow.rsample((5,), rng=1).shape == (5, 2)
    params = [v for n in nets for v in n.trainable_variables]
    opt = xg.optim.Adam(learning_rate=1e-2)
    data = xg.asarray(moons)
    first = None
    for _ in range(30):
        with xg.GradientTape() as tape:
            loss = -xg.mean(flow.log_prob(data))
        grads = tape.gradient(loss, params)
        assert all(g is not None for g in grads)
        opt.apply_gradients(zip(grads, params))
        first = float(loss) if first is None else first
    assert float(loss) < first - 0.1


def test_variational_logistic_regression_elbo_gradient_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = (rng.random(50) < 1 / (1 + np.exp(-x @ np.array([1.0, -2.0, 0.5])))).astype(float)
    mu, rho = xg.asarray(rng.normal(size=3) * 0.1), xg.asarray(np.full(3, -1.0))
    prior = Independent(Normal(xg.zeros(3, dtype=xg.float64), 1.0), 1)

    def negative_elbo(mu, rho):
        q = Independent(Normal(mu, xg.nn.softplus(rho)), 1)
        w = q.rsample((4,), rng=7)
        likelihood = xg.sum(Bernoulli(logits=w @ xg.asarray(x).T).log_prob(xg.asarray(y)), -1)
        return kl_divergence(q, prior) - xg.mean(likelihood), w

    (loss, w), (dmu, drho) = xg.value_and_grad(negative_elbo, argnums=(0, 1), has_aux=True)(
        mu, rho)
    noise = (w.numpy() - mu.numpy()) / np.log1p(np.exp(rho.numpy()))   # the draw's N(0, 1)
    mut = torch.tensor(mu.numpy(), requires_grad=True)
    rhot = torch.tensor(rho.numpy(), requires_grad=True)
    dist = torch.distributions
    q = dist.Independent(dist.Normal(mut, torch.nn.functional.softplus(rhot)), 1)
    wt = mut + torch.nn.functional.softplus(rhot) * torch.tensor(noise)
    likelihood = dist.Bernoulli(logits=wt @ torch.tensor(x).T).log_prob(torch.tensor(y)).sum(-1)
    prior_t = dist.Independent(dist.Normal(torch.zeros(3, dtype=torch.float64), 1.0), 1)
    want = dist.kl_divergence(q, prior_t) - likelihood.mean()
    want.backward()
    assert abs(float(loss) - want.item()) < 1e-12
    np.testing.assert_allclose(dmu.numpy(), mut.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(drho.numpy(), rhot.grad.numpy(), rtol=1e-12)


def test_sir_model_integrated_infections_sensitivities_match_finite_differences():
    times = np.linspace(0.0, 10.0, 21)

    def sir(state, t, beta, gamma):
        s, i = state[0], state[1]
        return xg.stack([-beta * s * i, beta * s * i - gamma * i, gamma * i])

    def infections(theta):
        path = xg.odeint(sir, xg.asarray(np.array([0.99, 0.01, 0.0])), xg.asarray(times), theta[0],
                         theta[1], rtol=1e-10, atol=1e-10)
        return xg.stack([np.trapezoid(path[:, 1], times), path[-1, 2]])

    theta = np.array([0.5, 0.1])
    jac_rev = xg.jacrev(infections)(xg.asarray(theta)).numpy()
    jac_fwd = xg.jacfwd(infections)(xg.asarray(theta)).numpy()
    h = 1e-6
    fd = np.stack([(infections(xg.asarray(theta + h * e)).numpy()
                    - infections(xg.asarray(theta - h * e)).numpy()) / (2 * h)
                   for e in np.eye(2)], axis=1)
    np.testing.assert_allclose(jac_rev, fd, rtol=1e-6)
    np.testing.assert_allclose(jac_fwd, jac_rev, rtol=1e-8)
